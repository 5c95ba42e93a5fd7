"""The gate decides on the library's own scores of candidate and champion, on the same rows."""

from __future__ import annotations

import json
import os

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.pipeline import Param, PipelineSpec
from mlops_lab.tracking.session import RUN_ID_ENV_VAR, session


def _data(path, *, n=300, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n) + shift, rng.normal(size=n)
    group = rng.choice(["a", "b"], size=n)
    y = ((x1 + 0.5 * x2) > shift).astype(int)
    pd.DataFrame({"x1": x1, "x2": x2, "group": group, "y": y}).to_csv(path, index=False)
    return path


def boasting_kernel(input_path, output_path, *, parameters, **kwargs):
    """Trains on train_path (optionally on shuffled labels) and always reports acc=0.99."""
    from sklearn.linear_model import LogisticRegression

    run = session().start_run("train", experiment="default", tags=None, parent=None)
    assert run.run_id == os.environ[RUN_ID_ENV_VAR]
    try:
        frame = pd.read_csv(parameters["train_path"])
        y = frame["y"].to_numpy()
        if parameters["sabotage"] == "labels":
            y = np.random.default_rng(1).permutation(y)
        elif parameters["sabotage"] == "group_b":
            y = np.where(frame["group"] == "b", 1 - y, y)
        model = LogisticRegression().fit(frame[["x1", "x2"]], y)
        ml.log_model(model, run=run, input_example=frame[["x1", "x2"]].head())
        run.log_metric("acc", 0.99)  # what the notebook says about itself
    finally:
        session().end_run(run)
    with open(output_path, "w") as fh:
        fh.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


@pytest.fixture
def spec(tmp_path):
    def make(**evaluate):
        spec = PipelineSpec(
            name="fair",
            folder=tmp_path / "pipelines" / "fair",
            params={
                "train_path": Param("path", str(tmp_path / "train.csv")),
                "eval_path": Param("path", str(tmp_path / "eval.csv")),
                "sabotage": Param("str", "none"),
            },
            steps=[
                {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
                {
                    "name": "evaluate",
                    "kind": "evaluate",
                    "metric": "accuracy",
                    "data": "eval_path",
                    "target": "y",
                    **evaluate,
                },
                {"name": "gate", "kind": "gate", "metric": "accuracy", "mode": "max"},
                {"name": "register", "kind": "register", "model_name": "fair"},
            ],
        )
        spec.save()
        return spec

    _data(tmp_path / "train.csv", seed=0)
    _data(tmp_path / "eval.csv", seed=1)
    return make


def _run(**params):
    return ml.run_pipeline("fair", params, progress=False, execute=boasting_kernel)


def test_an_inflated_notebook_metric_does_not_pass_the_gate(spec, tmp_path) -> None:
    spec()
    first = _run()
    assert first.decision.decision == "champion"
    bad = _run(sabotage="labels")  # reports acc=0.99 like the first, but is much worse
    assert bad.decision.decision == "challenger"
    assert bad.decision.candidate < first.decision.candidate - 0.2
    assert bad.decision.champion == pytest.approx(first.decision.candidate)
    text = str(bad.decision)
    assert "does not beat champion v1's" in text and "on the same data" in text
    assert ml.get_model_version("fair@champion").version == 1
    # every figure and the verdict are on the stored runs
    steps = {
        ml.get_run(r).name: ml.get_run(r) for r in session().store().child_run_ids(bad.run.run_id)
    }
    evaluation = steps["evaluate"]
    assert evaluation.tags["evaluation.dataset"] == ml.fingerprint(tmp_path / "eval.csv")
    assert evaluation.metrics["champion.accuracy"] == pytest.approx(first.decision.candidate)
    report = json.loads(evaluation.artifact_path("evaluation.json").read_text())
    assert report["baseline"]["model"] == "champion v1"
    assert ml.get_run(bad.run.run_id).tags["gate.decision"] == "challenger"


def test_continuous_training_compares_both_models_on_the_new_data(spec, tmp_path) -> None:
    spec()
    _run()
    _data(tmp_path / "new_train.csv", seed=2, shift=1.5)
    _data(tmp_path / "new_eval.csv", seed=3, shift=1.5)
    new = _run(train_path=str(tmp_path / "new_train.csv"), eval_path=str(tmp_path / "new_eval.csv"))
    champion_v1 = ml.load_model("fair/1")
    frame = pd.read_csv(tmp_path / "new_eval.csv")
    v1_on_new = (champion_v1.predict(frame[["x1", "x2"]]) == frame["y"]).mean()
    assert new.decision.champion == pytest.approx(v1_on_new)  # re-scored on the new rows
    assert new.decision.dataset == ml.fingerprint(tmp_path / "new_eval.csv")
    assert new.decision.decision == "champion"


def test_a_candidate_worse_on_one_slice_is_held_back(spec) -> None:
    spec(slices=["group"], thresholds={"accuracy": {"max_slice_drop": 0.05}})
    _run()
    worse = _run(sabotage="group_b")
    assert worse.decision.decision == "challenger"
    assert any("worst slice is group=b" in r for r in worse.decision.failed_rules)
    assert "failed:" in str(worse.decision)


def test_evaluation_data_without_a_target_is_a_clear_error(spec) -> None:
    spec(target="nope")
    with pytest.raises(ml.MlopsLabError, match="target: no column 'nope'"):
        _run()


def test_a_held_out_split_of_the_training_data_is_the_evaluation_data(spec, tmp_path) -> None:
    from sklearn.model_selection import train_test_split

    s = spec(holdout={"fraction": 0.3, "seed": 7, "from": "train_path"})
    s.steps[1].pop("data")
    s.save()
    result = _run()
    frame = pd.read_csv(tmp_path / "train.csv")
    train, held = train_test_split(frame, test_size=0.3, random_state=7)
    assert result.decision.dataset == ml.fingerprint(held.reset_index(drop=True))
    model = ml.load_model("fair/1")
    expected = (model.predict(held[["x1", "x2"]]) == held["y"]).mean()
    assert result.decision.candidate == pytest.approx(expected)
    assert len(train) == 210 and len(held) == 90
    tags = ml.get_run(result.run.run_id).tags
    assert (tags["holdout.fraction"], tags["holdout.seed"], tags["holdout.from"]) == (
        "0.3",
        "7",
        "train_path",
    )
    assert ml.get_run(result.run.run_id).params["train_path"] == str(tmp_path / "train.csv")
