"""A notebook trains in a real kernel, is promoted, and its pipeline runs under papermill."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

import mlops_lab as ml
from mlops_lab.errors import PipelineParamError, PipelineStepError

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline_train.ipynb"

pytestmark = pytest.mark.kernel


@pytest.fixture
def promoted(tmp_path: Path, train_csv: Path, store_root: Path, python3_kernel: str) -> ml.Run:
    import papermill

    source = tmp_path / "train.ipynb"
    shutil.copy(NOTEBOOK, source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        papermill.execute_notebook(
            str(source),
            str(tmp_path / "train.out.ipynb"),
            kernel_name=python3_kernel,
            cwd=str(tmp_path),
            progress_bar=False,
        )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    run = ml.get_run("clf-train")
    assert run.status == "finished"
    ml.promote(run, "clf", metric="acc")
    return run


def _versions() -> list[int]:
    try:
        return list(ml.model_versions("clf")["version"])
    except ml.MlopsLabError:
        return []


def test_promoted_pipeline_retrains_gates_and_registers(promoted: ml.Run, tmp_path: Path) -> None:
    assert promoted.params == {"C": 0.01, "max_iter": 200, "fail": False}
    first = ml.run_pipeline("clf", progress=False)
    assert first.decision.decision == "champion"
    assert first.version.version == 1
    assert first.run.status == "finished"
    # the train step is the notebook's own run, a child of the pipeline run
    train = first.train_run
    assert train.parent_id == first.run.run_id
    assert train.params["C"] == 0.01
    assert "acc" in train.metrics
    steps = [c.name for c in first.run.children]
    assert steps == ["validate", "clf-train", "evaluate", "gate", "register"]
    notebooks = [a for a in train.artifacts if a["kind"] == "notebook"]
    assert notebooks and notebooks[0]["path"] == "train.ipynb"
    executed = nbformat.reads(
        ml.Store.open().blobs.read_bytes(notebooks[0]["digest"]).decode(), as_version=4
    )
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)

    # a better model (less regularised) becomes the champion
    better = ml.run_pipeline("clf", {"C": "10"}, progress=False)
    assert better.decision.decision == "champion"
    assert better.decision.candidate > better.decision.champion
    assert better.version.version == 2
    assert ml.get_model_version("clf@champion").version == 2
    assert better.run.tags["gate.decision"] == "champion"
    assert better.run.metrics["gate.champion"] == first.decision.candidate

    # a worse one is registered as challenger, the champion stays
    worse = ml.run_pipeline("clf", {"C": 0.0001}, progress=False)
    assert worse.decision.decision == "challenger"
    assert worse.version.aliases == ["challenger"]
    assert ml.get_model_version("clf@champion").version == 2

    # new data (within the schema's ranges) through the dataset parameter
    import pandas as pd

    frame = pd.read_csv(tmp_path / "data" / "train.csv").sample(frac=0.8, random_state=1)
    frame.to_csv(tmp_path / "data" / "new.csv", index=False)
    fresh = ml.run_pipeline("clf", {"train_path": "data/new.csv", "C": 10.0}, progress=False)
    assert fresh.train_run.params["train_path"] == "data/new.csv"
    assert fresh.version.version == 4
    assert ml.load_model("clf/4").C == 10.0

    tree = str(ml.lineage("clf@champion"))
    assert "within run" in tree and "gate champion" in tree


def test_a_failing_step_registers_nothing(promoted: ml.Run) -> None:
    with pytest.raises(PipelineStepError) as info:
        ml.run_pipeline("clf", {"fail": True}, progress=False)
    err = info.value
    assert err.step == "train"
    assert "raise RuntimeError('training failed on purpose')" in str(err)
    assert "RuntimeError: training failed on purpose" in str(err)
    assert "nothing was registered" in str(err)
    assert _versions() == []
    pipe = ml.get_run(err.run_id)
    assert pipe.status == "failed"
    assert pipe.tags["mlops.failed_step"] == "train"
    train = next(c for c in pipe.children if c.tags.get("mlops.step") == "train")
    assert train.status == "failed"
    assert [a["kind"] for a in train.artifacts] == ["notebook"]


BAD_PARAMS = [
    ({"c": 1.0}, "has no parameter 'c'"),
    ({"C": "high"}, "parameter 'C' expects a float, got 'high'"),
    ({"max_iter": 1.5}, "parameter 'max_iter' expects an int"),
]


def test_bad_parameters_are_rejected_before_execution(promoted: ml.Run) -> None:
    before = len(ml.runs())
    for params, message in BAD_PARAMS:
        with pytest.raises(PipelineParamError, match=message):
            ml.run_pipeline("clf", params, progress=False)
    assert len(ml.runs()) == before


def test_invalid_data_stops_the_pipeline_before_training(
    promoted: ml.Run, tmp_path: Path, make_csv
) -> None:
    bad = make_csv(tmp_path / "data" / "bad.csv", seed=1)  # values outside the trained ranges
    with pytest.raises(PipelineStepError) as info:
        ml.run_pipeline("clf", {"train_path": str(bad)}, progress=False)
    assert info.value.step == "validate"
    assert _versions() == []
    assert [c.name for c in ml.get_run(info.value.run_id).children] == ["validate"]
