"""Reproduce a model version: same parameters and data, same metrics; changed data is refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from test_sweep import _spec, fake_kernel

import mlops_lab as ml
from mlops_lab.cli import build_parser, run
from mlops_lab.errors import InputChangedError, PipelineError

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline_train.ipynb"


def _cli(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return run(args.spec, args)


def drifting_kernel(input_path, output_path, *, parameters, **kwargs):
    """The fake kernel, but the metric comes out 0.1 higher than the parameter says."""
    fake_kernel(input_path, output_path, parameters={**parameters, "acc": parameters["acc"] + 0.1})


def test_reproduce_compares_metrics_and_registers_nothing(tmp_path, capsys) -> None:
    _spec(tmp_path)
    ml.run_pipeline("clf", {"acc": 0.75, "C": 2.0}, progress=False, execute=fake_kernel)
    same = ml.reproduce("clf/1", execute=fake_kernel, progress=False)
    assert same.matches
    assert same.result.train_run.params["C"] == 2.0  # the recorded parameters, not defaults
    assert same.rows == [
        {"metric": "acc", "recorded": 0.75, "reproduced": 0.75, "diff": 0.0, "ok": True}
    ]
    assert same.result.run.tags["mlops.reproduces"] == "clf/1"
    assert "gate" not in same.result.steps and "register" not in same.result.steps
    assert list(ml.model_versions("clf")["version"]) == [1]
    assert "clf/1: reproduced" in str(same)

    differs = ml.reproduce("clf@champion", execute=drifting_kernel, progress=False)
    assert not differs.matches
    assert "NOT reproduced" in str(differs) and "<- differs" in str(differs)
    loose = ml.reproduce("clf/1", tolerance=0.2, execute=drifting_kernel, progress=False)
    assert loose.matches


def test_reproduce_needs_a_pipeline_run(tmp_path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    with ml.start_run("by-hand"):
        ml.log_model(LogisticRegression().fit(np.array([[0.0], [1.0]]), np.array([0, 1])))
    ml.register_model("by-hand", "hand")
    with pytest.raises(PipelineError, match="was not trained by a pipeline"):
        ml.reproduce("hand/1")


@pytest.mark.kernel
def test_reproduce_a_promoted_notebook_and_refuse_changed_data(
    tmp_path: Path, train_csv: Path, python3_kernel: str, make_csv, capsys
) -> None:
    import papermill

    source = tmp_path / "train.ipynb"
    shutil.copy(NOTEBOOK, source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False
        )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    ml.promote("clf-train", "clf", metric="acc")
    first = ml.run_pipeline("clf", {"C": 10.0}, progress=False)
    assert first.version.ref == "clf/1"

    assert _cli(["reproduce", "clf/1", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "clf/1: reproduced" in out and "acc" in out
    assert ml.get_run(ml.runs(filter="tags.mlops.reproduces = 'clf/1'").iloc[0]["run_id"])
    recorded = first.train_run.datasets[0]["digest"]

    make_csv(train_csv, seed=3)  # the file the version was trained on has changed
    with pytest.raises(InputChangedError) as info:
        ml.reproduce("clf/1", progress=False)
    err = info.value
    assert err.path == str(train_csv)
    assert err.recorded == recorded and err.current == ml.fingerprint(train_csv)
    assert str(train_csv) in str(err) and recorded in str(err) and err.current in str(err)
    before = len(ml.runs())
    assert _cli(["reproduce", "clf/1", "--no-progress"]) == 1
    assert "its input data changed" in capsys.readouterr().err
    assert len(ml.runs()) == before  # nothing ran
