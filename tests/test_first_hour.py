"""``tests/notebooks/first_hour.ipynb``: a new user's first notebook, written from the README.

A regression on ``load_diabetes`` (with ``sex`` as a text column): autolog over a
GridSearchCV of a Pipeline with a ColumnTransformer, ``%mlops compare``, the test RMSE
logged with ``%mlops log``, promote and ``%mlops pipeline run``, a bundle with ONNX,
``%mlops serve`` in the background, a prediction over HTTP, ``%mlops monitor``, stop.

It is executed once, in a subprocess (so that everything the kernels print is caught),
with papermill in a real kernel and a fresh store, letting every cell run even after one
fails; each test then asserts one thing the user should see.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pytest

from mlops_lab.store import Store

pytestmark = pytest.mark.kernel

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "first_hour.ipynb"

EXECUTE = """
import sys
from mlops_lab.pipeline.kernel import execute_notebook
try:
    execute_notebook(sys.argv[1], sys.argv[2], kernel_name="python3", cwd=sys.argv[3],
                     progress_bar=False, allow_errors=True)
except Exception as exc:  # an error output: the tests look at the cells themselves
    print(f"papermill: {type(exc).__name__}", file=sys.stderr)
"""


@dataclass
class Executed:
    folder: Path
    notebook: nbformat.NotebookNode
    stdout: str
    stderr: str

    @property
    def store(self) -> Store:
        return Store(self.folder / ".mlops")

    def cell(self, start: str) -> nbformat.NotebookNode:
        return next(c for c in self.notebook.cells if c.source.startswith(start))


_executed: Executed | None = None


@pytest.fixture
def executed(tmp_path_factory: pytest.TempPathFactory) -> Executed:
    global _executed
    if _executed is None:
        folder = tmp_path_factory.mktemp("first-hour")
        source = folder / "first_hour.ipynb"
        output = folder / "first_hour.out.ipynb"
        shutil.copy(NOTEBOOK, source)
        env = dict(os.environ, MLOPS_LAB_HOME=str(folder / ".mlops"))
        env["MLOPS_LAB_NOTEBOOK"] = str(output)
        proc = subprocess.run(
            [sys.executable, "-c", EXECUTE, str(source), str(output), str(folder)],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert output.is_file(), proc.stdout + proc.stderr[-5000:]
        _executed = Executed(folder, nbformat.read(output, as_version=4), proc.stdout, proc.stderr)
    return _executed


def _texts(cells: list[nbformat.NotebookNode]) -> list[str]:
    out = []
    for cell in cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            out.extend(str(v) for k, v in o.get("data", {}).items() if k.startswith("text/"))
            out.append(o.get("evalue", ""))
            out.extend(o.get("traceback", []))
    return out


def _problems(cell: nbformat.NotebookNode) -> list[str]:
    errors = [f"{o.ename}: {o.evalue}" for o in cell.outputs if o.output_type == "error"]
    stderr = [
        o.text
        for o in cell.outputs
        if o.output_type == "stream" and o.name == "stderr" and "Error" in o.text
    ]
    return errors + stderr


def _expected_model():
    """The notebook's split and grid search, here: what its numbers must equal."""
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV, train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X["sex"] = np.where(X["sex"] > 0, "male", "female")
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    numeric = [c for c in X.columns if c != "sex"]
    features = ColumnTransformer(
        [
            ("num", StandardScaler(), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    search = GridSearchCV(
        Pipeline([("features", features), ("ridge", Ridge())]),
        {"ridge__alpha": [0.1, 1.0, 10.0]},
        cv=3,
    )
    return search.fit(X_train, y_train), X_test, y_test


def test_every_cell_ran_without_an_error(executed: Executed) -> None:
    code = [c for c in executed.notebook.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    failed = {c.source.splitlines()[0]: _problems(c) for c in code if _problems(c)}
    assert not failed


def test_compare_shows_the_last_runs(executed: Executed) -> None:
    cell = executed.cell("%mlops compare --last 10")
    assert not _problems(cell)
    assert any(o.output_type in ("display_data", "execute_result") for o in cell.outputs)


def test_the_logged_rmse_is_sklearns(executed: Executed) -> None:
    from sklearn.metrics import mean_squared_error

    from mlops_lab.store.query import runs_frame

    runs = runs_frame(executed.store)
    row = runs[runs["name"] == "diabetes-ridge"].iloc[0]
    search, X_test, y_test = _expected_model()
    expected = mean_squared_error(y_test, search.predict(X_test)) ** 0.5
    assert row.get("metrics.rmse") == pytest.approx(expected, rel=1e-9)


def test_the_bundle_has_a_verified_onnx_model_that_serves_sklearns_predictions(
    executed: Executed,
) -> None:
    from mlops_lab.packaging import load_bundle

    bundle = load_bundle(executed.folder / "bundles" / "diabetes")  # digests verified
    assert bundle.onnx["status"] == "verified", bundle.onnx
    assert "model.onnx" in bundle.files
    assert "(onnx: verified)" in "".join(_texts([executed.cell("bundle = %mlops package")]))
    search, X_test, _ = _expected_model()
    served = executed.cell("rows = X_test.head(5)")
    assert not _problems(served)
    result = next(o for o in served.outputs if o.output_type == "execute_result")
    answer = json.loads(result["data"]["text/plain"])
    np.testing.assert_allclose(answer, search.predict(X_test.head(5)), rtol=1e-4)


def test_no_kernel_log_line_anywhere(executed: Executed) -> None:
    assert "IPKernelApp" not in executed.stdout + executed.stderr
    assert not [t for t in _texts(executed.notebook.cells) if "IPKernelApp" in t]
    from mlops_lab.store.query import runs_frame

    store = executed.store
    kept = [
        nbformat.reads(store.blobs.read_bytes(a["digest"]).decode(), as_version=4)
        for run_id in runs_frame(store)["run_id"]
        for a in store.artifacts(run_id)
        if a["kind"] == "notebook"
    ]
    assert not [t for nb in kept for t in _texts(nb.cells) if "IPKernelApp" in t]


def test_the_pipeline_progress_ends_complete(executed: Executed) -> None:
    cell = executed.cell("%mlops pipeline run diabetes")
    bars = [
        o for o in cell.outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
    ]
    assert len(bars) == 1, cell.outputs
    text = bars[0]["data"]["text/plain"]
    assert text.startswith("diabetes: 100%") and "5/5" in text, (text, _problems(cell))
    assert "registered diabetes/1 (champion)" in "".join(_texts([cell]))


def test_monitor_names_the_magics_flag_then_reports_drift(executed: Executed) -> None:
    first = "".join(_texts([executed.cell("for seed in range(3):")]))
    assert "pass --reference VAR" in first
    assert "reference=" not in first
    second = "".join(_texts([executed.cell("%mlops monitor diabetes-ridge --reference")]))
    assert "no reference data" not in second and "input drift" in second
