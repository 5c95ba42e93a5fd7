"""The runner with a stand-in executor (no kernel), the %mlops verbs and the CLI commands."""

from __future__ import annotations

import os

import numpy as np
import pytest
from IPython.core.error import UsageError

import mlops_lab as ml
from mlops_lab.cli import build_parser, run
from mlops_lab.errors import PipelineStepError
from mlops_lab.pipeline import Param, PipelineSpec
from mlops_lab.tracking.session import RUN_ID_ENV_VAR, session


def _spec(tmp_path, **gate) -> PipelineSpec:
    spec = PipelineSpec(
        name="clf",
        folder=tmp_path / "pipelines" / "clf",
        params={"C": Param("float", 1.0), "acc": Param("float", 0.5)},
        steps=[
            {"name": "validate", "kind": "validate", "schema": None, "data": None},
            {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
            {"name": "evaluate", "kind": "evaluate", "metric": "acc"},
            {"name": "gate", "kind": "gate", "metric": "acc", "mode": "max", **gate},
            {"name": "register", "kind": "register", "model_name": "clf"},
        ],
    )
    spec.save()
    return spec


def fake_kernel(input_path, output_path, *, parameters, **kwargs):
    """Does in-process what the promoted notebook does in its kernel."""
    from sklearn.linear_model import LogisticRegression

    assert os.environ["MLOPS_LAB_NOTEBOOK"] == input_path
    # The pipeline created the step's run and named it in MLOPS_LAB_RUN_ID: adopted.
    assert os.environ[RUN_ID_ENV_VAR]
    run = session().start_run("clf-train", experiment="default", tags=None, parent=None)
    assert run.run_id == os.environ[RUN_ID_ENV_VAR]
    try:
        run.log_params(parameters)
        if parameters["acc"] < 0:
            raise RuntimeError("boom")
        X, y = np.array([[0.0], [1.0], [0.1], [0.9]]), np.array([0, 1, 0, 1])
        ml.log_model(LogisticRegression(C=parameters["C"]).fit(X, y), run=run)
        run.log_metric("acc", parameters["acc"])
    finally:
        session().end_run(run)
    with open(output_path, "w") as fh:
        fh.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


@pytest.mark.parametrize(
    ("scores", "otherwise", "decisions", "champion"),
    [
        ([0.5, 0.7, 0.6], "challenger", ["champion", "champion", "challenger"], 2),
        ([0.5, 0.5], "challenger", ["champion", "challenger"], 1),  # a tie is not better
        ([0.5, 0.4], "rejected", ["champion", "rejected"], 1),
    ],
)
def test_gate_decisions(tmp_path, scores, otherwise, decisions, champion) -> None:
    _spec(tmp_path, otherwise=otherwise)
    results = [
        ml.run_pipeline("clf", {"acc": s}, progress=False, execute=fake_kernel) for s in scores
    ]
    assert [r.decision.decision for r in results] == decisions
    assert ml.get_model_version("clf@champion").version == champion
    registered = [r.version.version for r in results if r.version is not None]
    assert registered == list(range(1, len(registered) + 1))
    last = results[-1]
    assert last.run.tags["gate.decision"] == decisions[-1]
    assert last.run.metrics["gate.candidate"] == scores[-1]
    assert last.run.metrics["gate.champion"] == max(scores[:-1])
    assert last.steps == {
        "validate": "finished",
        "train": "finished",
        "evaluate": "finished",
        "gate": "finished",
        "register": "finished",
    }
    assert "gate" in str(last)


def test_pipeline_run_is_top_level_even_inside_an_open_run(tmp_path) -> None:
    _spec(tmp_path)
    with ml.start_run("notebook") as outer:
        result = ml.run_pipeline("clf", progress=False, execute=fake_kernel)
        assert ml.active_run() == outer
    assert result.run.parent_id is None
    assert result.train_run.parent_id == result.run.run_id


def test_failing_train_step_with_a_stand_in_executor(tmp_path) -> None:
    _spec(tmp_path)
    with pytest.raises(PipelineStepError, match="RuntimeError: boom"):
        ml.run_pipeline("clf", {"acc": -1.0}, progress=False, execute=fake_kernel)
    assert ml.models().empty
    pipe = ml.runs(filter="name = 'clf'").iloc[0]
    assert pipe["status"] == "failed"


def test_verbs(shell, tmp_path) -> None:
    _spec(tmp_path)
    result = ml.run_pipeline("clf", {"acc": 0.9}, progress=False, execute=fake_kernel)
    frame = shell.run_cell("%mlops registry").result
    assert list(frame["name"]) == ["clf"]
    versions = shell.run_cell("%mlops registry clf").result
    assert list(versions["metrics.acc"]) == [0.9]
    tree = shell.run_cell("%mlops lineage clf@champion").result
    assert f"trained by run {result.train_run.run_id[:8]}" in str(tree)
    assert shell.run_cell("%mlops pipeline list").result == ["clf"]
    with pytest.raises(UsageError, match="has no parameter 'nope'"):
        shell.run_cell("%mlops pipeline run clf -p nope 1")
    with pytest.raises(UsageError, match="expects a float, got 'x'"):
        shell.run_cell("%mlops pipeline run clf -p C x")
    with pytest.raises(UsageError, match="no alias 'gold'"):
        shell.run_cell("%mlops lineage clf@gold")
    with pytest.raises(UsageError, match="--name"):
        shell.run_cell("%mlops promote")


def _cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(args.spec, args)


def test_cli_commands(tmp_path, capsys) -> None:
    _spec(tmp_path)
    ml.run_pipeline("clf", {"acc": 0.9}, progress=False, execute=fake_kernel)
    assert _cli(["registry"]) == 0
    assert "clf" in capsys.readouterr().out
    assert _cli(["lineage", "clf/1"]) == 0
    assert capsys.readouterr().out.startswith("model clf/1 (champion)")
    assert _cli(["pipeline", "list"]) == 0
    assert capsys.readouterr().out.strip() == "clf"
