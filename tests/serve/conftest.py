"""A real uvicorn server on a free 127.0.0.1 port, serving a freshly packaged bundle."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

import mlops_lab as ml


def _cancer():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with ml.start_run("cancer") as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        ml.log_model(model, input_example=X.head())
    return run, model, X, y


def _iris():
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    X["petal_size"] = pd.cut(
        X["petal_length"], [0, 2.5, 5.0, 10], labels=["small", "medium", "large"]
    ).astype(str)
    X = X.drop(columns=["petal_length"])
    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), ["sepal_length", "sepal_width", "petal_width"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["petal_size"]),
        ]
    )
    with ml.start_run("iris") as run:
        model = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X, y)
        ml.log_model(model, input_example=X.head())
    return run, model, X, y


@dataclass
class Served:
    url: str
    app: Any
    bundle: Any
    model: Any
    X: Any
    y: Any
    client: Any

    def stop(self) -> None: ...


class ThreadServer:
    """uvicorn in a thread, on a socket bound to 127.0.0.1 before it starts."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    def __enter__(self) -> str:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            assert self.thread.is_alive(), "server thread died"
            time.sleep(0.01)
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(30)
        self.sock.close()


def run_server(which: str, tmp_path, **options: Any) -> Iterator[Served]:
    import httpx

    from mlops_lab.packaging import package
    from mlops_lab.serve import create_app

    run, model, X, y = _cancer() if which == "cancer" else _iris()
    bundle = package(run, tmp_path / f"bundle-{which}", input_example=X.sample(40, random_state=0))
    app = create_app(bundle, **options)
    with ThreadServer(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield Served(url, app, bundle, model, X, y, client)


@pytest.fixture
def cancer(tmp_path) -> Iterator[Served]:
    yield from run_server("cancer", tmp_path)


@pytest.fixture
def iris(tmp_path) -> Iterator[Served]:
    yield from run_server("iris", tmp_path)


@pytest.fixture
def thread_server() -> type[ThreadServer]:
    """``with thread_server(app) as url:`` runs another app for the test's duration."""
    return ThreadServer


@pytest.fixture
def serve_model(tmp_path):
    """``serve_model("iris", token="t")`` starts a server with options; stopped at teardown."""
    started: list[Iterator[Served]] = []

    def start(which: str = "cancer", **options: Any) -> Served:
        gen = run_server(which, tmp_path / f"server-{len(started)}", **options)
        started.append(gen)
        return next(gen)

    yield start
    for gen in started:
        gen.close()
