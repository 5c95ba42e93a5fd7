"""``%mlops serve`` starts a real server subprocess; the handle predicts, shows logs, stops."""

from __future__ import annotations

import time

import numpy as np
import pytest
from IPython.core.error import UsageError

import mlops_lab as ml
from mlops_lab.store.prediction_records import predictions


@pytest.mark.slow
def test_serve_magic_in_the_background(shell, store) -> None:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with ml.start_run("bg") as run:
        model = LogisticRegression(max_iter=5000).fit(X, y)
        ml.log_model(model, input_example=X.head())
    shell.user_ns["run_id"] = run.run_id
    shell.run_cell(f"server = %mlops serve {run.run_id}")
    server = shell.user_ns["server"]
    try:
        assert server.url.startswith("http://127.0.0.1:")
        np.testing.assert_array_equal(server.predict(X.head(5)), model.predict(X.head(5)))
        with pytest.raises(ml.MlopsLabError, match=r"422.*missing"):
            server.predict(X.head(2).drop(columns=["mean radius"]))
        deadline = time.monotonic() + 20
        while len(predictions(store, "bg")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [r["status"] for r in predictions(store, "bg")] == [200, 422]
        assert "serving bg" in server.logs()
        shell.run_cell("report = %mlops monitor bg")
        assert shell.user_ns["report"].n_requests == 2
    finally:
        assert server.stop() is None  # nothing for a notebook to display
    assert not server.running
    assert server.returncode == -15 and repr(server).endswith("stopped>")
    assert server.stop() is None  # stopping twice is harmless


def test_package_magic_and_unknown_reference(shell, tmp_path) -> None:
    from sklearn.datasets import load_iris
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_iris(return_X_y=True, as_frame=True)
    with ml.start_run("tree") as run:
        ml.log_model(DecisionTreeClassifier(max_depth=3).fit(X, y), input_example=X.head())
    shell.run_cell(f"bundle = %mlops package {run.run_id} --out {tmp_path / 'b'}")
    assert shell.user_ns["bundle"].onnx["status"] == "verified"
    with pytest.raises(UsageError, match="no run matches"):
        shell.run_cell(f"%mlops package nothing-here --out {tmp_path / 'c'}")
    with pytest.raises(UsageError, match="--out"):
        shell.run_cell("%mlops package tree")


def test_onnx_server_starts_without_scikit_learn(tmp_path) -> None:
    """A bundle with a verified ONNX model is served without importing sklearn or pandas."""
    import subprocess
    import sys

    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with ml.start_run("light") as run:
        ml.log_model(LogisticRegression(max_iter=5000).fit(X, y), input_example=X.head())
    ml.package(run, tmp_path / "b")
    code = (
        "import sys, json; from mlops_lab.serve.app import create_app; "
        f"app = create_app({str(tmp_path / 'b')!r}, prediction_log=None); "
        "print(json.dumps([m for m in ('sklearn', 'pandas', 'skops') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
