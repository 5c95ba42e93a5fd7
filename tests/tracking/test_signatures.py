"""``ml.log_model(model)`` without an example: the signature is inferred, packaging and
serving work, and ``signature_source`` says where the signature came from."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.errors import InputValidationError, MissingSignatureWarning


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    """Iris with a text column and an integer column, as people's frames have."""
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    X["petal_size"] = pd.cut(
        X["petal_length"], [0, 2.5, 5.0, 10], labels=["small", "medium", "large"]
    ).astype(str)
    X["batch"] = np.arange(len(X)) % 3
    return X.drop(columns=["petal_length"]), y


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["sepal_length", "sepal_width", "petal_width", "batch"]),
            ("cat", OneHotEncoder(handle_unknown="error"), ["petal_size"]),
        ]
    )
    return make_pipeline(pre, LogisticRegression(max_iter=1000))


def _meta(run: ml.Run, name: str = "model") -> dict[str, Any]:
    (art,) = [a for a in run.artifacts if a["path"] == name and a["kind"] == "model"]
    return art["meta"]


class _Server:
    """uvicorn in a thread on a socket bound to 127.0.0.1 (as tests/serve runs it)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


@pytest.fixture
def served() -> Iterator[Any]:
    """``served(bundle)`` -> an httpx client on a real server for the test's duration."""
    import httpx

    from mlops_lab.serve import create_app

    stack: list[tuple[_Server, httpx.Client]] = []

    def start(bundle: Any) -> httpx.Client:
        server = _Server(create_app(bundle, prediction_log=None))
        url = server.__enter__()
        client = httpx.Client(base_url=url, timeout=30)
        stack.append((server, client))
        return client

    yield start
    for server, client in stack:
        client.close()
        server.__exit__()


def test_frame_pipeline_without_example_packages_and_serves(tmp_path: Path, served) -> None:
    X, y = _frame()
    model = _pipeline().fit(X, y)
    with ml.start_run("no-example") as run:
        ml.log_model(model)  # no input_example, no autolog: MLflow's most common call
    meta = _meta(run)
    assert meta["signature_source"] == "feature_names_in_"
    assert meta["signature"] == {
        "type": "dataframe",
        "columns": [
            {"name": "sepal_length", "dtype": "float64"},
            {"name": "sepal_width", "dtype": "float64"},
            {"name": "petal_width", "dtype": "float64"},
            {"name": "petal_size", "dtype": "object"},  # one-hot encoded: text
            {"name": "batch", "dtype": "float64"},
        ],
    }
    assert "input_example" not in meta

    bundle = ml.package(run, tmp_path / "bundle")
    schema = json.loads((tmp_path / "bundle" / "schema.json").read_text())
    size = next(c for c in schema["columns"] if c["name"] == "petal_size")
    assert size["kind"] == "string" and sorted(size["categories"]) == ["large", "medium", "small"]
    rows = X.sample(12, random_state=1)
    np.testing.assert_array_equal(bundle.predict(rows), model.predict(rows))

    client = served(bundle)
    body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
    r = client.post("/invocations", json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": model.predict(rows).tolist()}
    # The schema inferred from the model still checks requests: an unseen category is a 4xx.
    bad = rows.head(1).assign(petal_size="huge")
    r = client.post(
        "/invocations",
        json={"dataframe_split": json.loads(bad.to_json(orient="split", index=False))},
    )
    assert 400 <= r.status_code < 500 and "petal_size" in r.text


def test_ndarray_fitted_model_gets_a_tensor_schema_and_packages(tmp_path: Path, served) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = _frame()
    array = X.drop(columns=["petal_size"]).to_numpy()
    model = LogisticRegression(max_iter=1000).fit(array, y)
    with ml.start_run("array") as run:
        ml.log_model(model)
    meta = _meta(run)
    assert meta["signature_source"] == "n_features_in_"
    assert meta["signature"] == {"type": "array", "shape": [None, 4], "dtype": "float64"}
    bundle = ml.package(run, tmp_path / "bundle")
    assert json.loads((tmp_path / "bundle" / "schema.json").read_text())["type"] == "array"
    client = served(bundle)
    r = client.post("/invocations", json={"instances": array[:7].tolist()})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": model.predict(array[:7]).tolist()}


def test_autolog_training_frame_gives_dtypes_and_an_example(tmp_path: Path) -> None:
    X, y = _frame()
    ml.autolog(True)
    try:
        with ml.start_run("autologged") as run:
            model = _pipeline().fit(X, y)
            ml.log_model(model, "again")  # the user's own call, after autolog's
    finally:
        ml.autolog(False)
    for name in ("model", "again"):
        meta = _meta(run, name)
        assert meta["signature_source"] == "training_frame"
        dtypes = {c["name"]: c["dtype"] for c in meta["signature"]["columns"]}
        assert dtypes == {c: str(t) for c, t in X.dtypes.items()}  # batch stays int64
        assert meta["input_example"] == json.loads(X.head(5).to_json(orient="split", index=False))
    bundle = ml.package(run, tmp_path / "bundle", onnx=False)
    pd.testing.assert_frame_equal(bundle.input_example, X.head(5), check_dtype=False)


def test_autolog_of_a_search_remembers_its_best_estimator() -> None:
    from sklearn.model_selection import GridSearchCV

    X, y = _frame()
    search = GridSearchCV(_pipeline(), {"logisticregression__C": [0.5, 1.0]}, cv=2)
    ml.autolog(True)
    try:
        with ml.start_run("search") as run:
            search.fit(X, y)
            ml.log_model(search.best_estimator_, "best")
    finally:
        ml.autolog(False)
    assert _meta(run, "best")["signature_source"] == "training_frame"
    assert _meta(run, "model")["signature_source"] == "training_frame"


def test_a_search_fitted_without_autolog_uses_its_best_estimator() -> None:
    from sklearn.model_selection import GridSearchCV

    X, y = _frame()
    search = GridSearchCV(_pipeline(), {"logisticregression__C": [0.5, 1.0]}, cv=2).fit(X, y)
    with ml.start_run("search") as run:
        ml.log_model(search)
    meta = _meta(run)
    assert meta["signature_source"] == "feature_names_in_"
    assert [c["name"] for c in meta["signature"]["columns"]] == list(X.columns)


def test_a_logged_dataset_gives_the_dtypes(tmp_path: Path) -> None:
    X, y = _frame()
    model = _pipeline().fit(X, y)
    with ml.start_run("with-data") as run:
        ml.log_dataset(X, "train")
        ml.log_model(model)
    meta = _meta(run)
    assert meta["signature_source"] == "training_frame"
    dtypes = {c["name"]: c["dtype"] for c in meta["signature"]["columns"]}
    assert dtypes["batch"] == "int64" and dtypes["sepal_length"] == "float64"
    assert dtypes["petal_size"] == str(X["petal_size"].dtype)
    bundle = ml.package(run, tmp_path / "bundle", onnx=False)
    rows = X.head(4)
    np.testing.assert_array_equal(bundle.predict(rows), model.predict(rows))


def test_an_example_wins_over_inference() -> None:
    X, y = _frame()
    model = _pipeline().fit(X, y)
    with ml.start_run("explicit") as run:
        ml.log_model(model, input_example=X.head(3))
    meta = _meta(run)
    assert meta["signature_source"] == "input_example"
    assert len(meta["input_example"]["data"]) == 3


def test_nothing_to_infer_warns_and_packaging_says_why(tmp_path: Path) -> None:
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    texts = ["good film", "bad film", "great plot", "awful plot"]
    model = make_pipeline(CountVectorizer(), MultinomialNB()).fit(texts, [1, 0, 1, 0])
    with (
        ml.start_run("text") as run,
        pytest.warns(MissingSignatureWarning, match="input_example=X.head"),
    ):
        ml.log_model(model)
    meta = _meta(run)
    assert meta["signature"] is None and meta["signature_source"] is None
    with pytest.raises(InputValidationError, match="without an input signature"):
        ml.package(run, tmp_path / "bundle")
