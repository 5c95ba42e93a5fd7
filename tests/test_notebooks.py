"""The example notebooks, executed with papermill in a real kernel and a fresh store.

They are executed once, by ``mlops-lab demo`` (see ``test_demo.py``), in one store and
one working folder; each test asserts what one notebook recorded. The committed
notebooks must have their outputs cleared.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from test_demo import DemoResult, demo_result

from mlops_lab.demo import NOTEBOOKS
from mlops_lab.tracking.run import Run

SOURCE = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return demo_result(tmp_path_factory)


def _run(demo: DemoResult, name: str) -> Run:
    from mlops_lab.store.query import runs_frame

    runs = runs_frame(demo.store)
    return Run(demo.store, runs[runs["name"] == name].iloc[0]["run_id"])


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebooks_have_no_outputs(name: str) -> None:
    nb = nbformat.read(SOURCE / name, as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.kernel
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_every_cell_ran_without_error(demo: DemoResult, name: str) -> None:
    nb = nbformat.read(demo.work / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


@pytest.mark.kernel
def test_01_tracks_a_run_a_sweep_and_a_grid_search(demo: DemoResult) -> None:
    from mlops_lab.store.query import runs_frame

    runs = runs_frame(demo.store)
    cancer = runs[runs["experiment"] == "breast-cancer"]
    assert (cancer["tags.sweep"] == "demo").sum() == 12
    baseline = _run(demo, "logistic-baseline")
    assert baseline.cells[0]["source"].startswith("%mlops start logistic-baseline")
    assert baseline.info["source_path"].endswith("01-track-and-compare.ipynb")
    assert any(a["kind"] == "model" for a in baseline.artifacts)
    grid = _run(demo, "logistic-grid")
    assert grid.params["best_logisticregression__C"] in (0.01, 0.1, 1.0, 10.0)
    assert "best_cv_score" in grid.metrics and "test_accuracy" in grid.metrics
    assert len(grid.children) == 4
    assert all("mean_test_score" in child.metrics for child in grid.children)
    assert any(a["kind"] == "model" for a in grid.artifacts)


@pytest.mark.kernel
def test_02_validates_a_corrupted_copy_and_finds_drift(demo: DemoResult) -> None:
    from mlops_lab.store.data_records import drift_history, validations

    run = _run(demo, "wine-data-checks")
    assert [d["name"] for d in run.datasets] == ["reference"]
    checks = validations(demo.store, run_id=run.run_id)
    failed = [c for c in checks if not c["passed"]]
    assert len(failed) == 1 and len(checks) == 2
    failures = {(f["column"], f["check"]) for f in failed[0]["report"]["failures"]}
    assert {("alcohol", "in_range"), ("magnesium", "not_null"), ("target", "in_range")} <= failures
    assert ("color_intensity", "dtype") in failures
    assert (demo.work / "schemas" / "wine.json").is_file()
    comparisons: dict[str, list[bool]] = {}
    for row in drift_history(demo.store, run_id=run.run_id):
        comparisons.setdefault(row["drift_id"], []).append(row["drifted"])
    assert sorted(sum(v) for v in comparisons.values())[0] == 0  # the random control
    assert max(sum(v) for v in comparisons.values()) >= 2  # the shifted batch
    nb = nbformat.read(demo.work / "02-validate-data.ipynb", as_version=4)
    assert "exit code: 1" in nb.cells[-1].outputs[-1]["text"]


@pytest.mark.kernel
def test_03_promotes_gates_registers_packages_and_serves(demo: DemoResult) -> None:
    from mlops_lab.registry import get_model_version, lineage, model_versions
    from mlops_lab.store.prediction_records import predictions

    spec = json.loads((demo.work / "pipelines" / "wine" / "pipeline.json").read_text())
    assert set(spec["params"]) == {"C", "max_iter", "train_path"}
    versions = model_versions("wine", store=demo.store)
    assert sorted(versions["version"]) == [1, 2]
    champion = get_model_version("wine@champion", store=demo.store)
    assert champion.version == 2
    assert champion.run.params["C"] == 1.0
    assert (
        champion.metrics["accuracy"]
        > get_model_version("wine/1", store=demo.store).metrics["accuracy"]
    )
    assert "gate champion" in str(lineage("wine@champion", store=demo.store))
    meta = json.loads((demo.work / "bundles" / "wine" / "metadata.json").read_text())
    assert (meta["name"], int(meta["version"])) == ("wine", 2)
    served = predictions(demo.store, "wine")
    assert len(served) >= 7 and all(r["status"] == 200 for r in served)
    assert {r["protocol"] for r in served} >= {"invocations"}
    assert sum(r["n_rows"] for r in served) >= 5 + 3 + 100


@pytest.mark.kernel
def test_04_drift_triggers_retraining_and_the_gate_moves_the_champion(demo: DemoResult) -> None:
    from mlops_lab.registry import get_model_version, model_versions
    from mlops_lab.store.data_records import drift_history

    versions = model_versions("cancer", store=demo.store)
    assert sorted(versions["version"]) == [1, 2, 3]
    assert get_model_version("cancer@challenger", store=demo.store).version == 2
    champion = get_model_version("cancer@champion", store=demo.store)
    assert champion.version == 3
    run = champion.run
    assert run.params["train_path"] == "data/train_v2.csv" and run.params["C"] == 1.0
    assert [d["source"] for d in run.datasets] == ["data/train_v2.csv"]
    unlinked = [r for r in drift_history(demo.store) if r["run_id"] is None]
    assert len(unlinked) == 31 and sum(r["drifted"] for r in unlinked) >= 7
