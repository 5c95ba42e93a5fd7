"""serve NAME@champion --follow: the alias moves under load and no request fails."""

from __future__ import annotations

import threading
import time

import httpx
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlops_lab as ml
from mlops_lab.serve import create_app


def _register(X, y, C):
    with ml.start_run(f"C={C}") as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000)).fit(X, y)
        ml.log_model(model, input_example=X.head())
    return ml.register_model(run, "cancer").version


def _wait(predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_alias_moves_twice_under_load_with_no_failed_request(thread_server, tmp_path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    assert _register(X, y, 0.01) == 1
    ml.set_alias("cancer", "champion", 1)
    bundle = ml.package("cancer@champion", tmp_path / "start")
    app = create_app(bundle, follow="cancer@champion", follow_interval=0.2)
    follower = app.state.follower
    rows = X.sample(4, random_state=0).to_dict("records")
    answers: list[tuple[float, float, str, int]] = []  # sent, received, version, status
    failures: list[str] = []
    stop = threading.Event()

    def client(url: str) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(2000):  # bounded; stopped earlier by the test
                if stop.is_set():
                    return
                sent = time.monotonic()
                try:
                    r = http.post("/invocations", json={"dataframe_records": rows})
                except httpx.HTTPError as exc:
                    failures.append(repr(exc))
                    continue
                answers.append(
                    (sent, time.monotonic(), r.headers.get("x-model-version", ""), r.status_code)
                )

    with thread_server(app) as url:
        threads = [threading.Thread(target=client, args=(url,)) for _ in range(4)]
        for t in threads:
            t.start()
        _wait(lambda: len(answers) > 20)
        assert _register(X, y, 1.0) == 2
        moved = time.monotonic()
        ml.set_alias("cancer", "champion", 2)
        _wait(lambda: app.state.service.version == "2")
        swapped = time.monotonic()
        _wait(lambda: sum(1 for a in answers if a[0] > swapped) > 20)
        ml.set_alias("cancer", "champion", 1)  # the rollback
        _wait(lambda: app.state.service.version == "1")
        rolled_back = time.monotonic()
        _wait(lambda: sum(1 for a in answers if a[0] > rolled_back) > 20)
        # an incompatible version: other columns; refused while serving goes on
        with ml.start_run("narrow") as run:
            small = LogisticRegression(max_iter=1000).fit(X.iloc[:, :5], y)
            ml.log_model(small, input_example=X.iloc[:, :5].head())
        assert ml.register_model(run, "cancer").version == 3
        ml.set_alias("cancer", "champion", 3)
        _wait(lambda: "3" in app.state.service.refused)
        after_refusal = time.monotonic()
        _wait(lambda: sum(1 for a in answers if a[0] > after_refusal) > 20)
        metrics = httpx.get(f"{url}/metrics").text
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    assert {a[3] for a in answers} == {200}
    assert all(a[2] == "1" for a in answers if a[1] < moved)  # answered before the move
    assert all(
        a[2] == "2"
        for a in answers
        if swapped < a[0] and a[1] < rolled_back - 0.5 and a[0] < rolled_back - 0.5
    )
    assert all(a[2] == "1" for a in answers if a[0] > rolled_back)
    assert "columns no longer taken" in app.state.service.refused["3"]
    assert 'mlops_model_refused{model="cancer",version="3"} 1' in metrics
    assert 'mlops_model_serving{model="cancer",version="1"} 1' in metrics
    assert (
        'mlops_requests_total{model="cancer",version="2",protocol="invocations",code="200"}'
        in metrics
    )
    assert follower.last_swap_s is not None and follower.last_swap_s < 60
    # the prediction log knows which version answered each request
    versions = {str(v) for v in ml.monitor("cancer").versions}
    assert {"1", "2"} <= versions


def test_a_bundle_folder_replaced_in_place_is_followed(thread_server, tmp_path) -> None:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    _register(X, y, 0.01)
    _register(X, y, 1.0)
    folder = tmp_path / "served"
    ml.package("cancer/1", folder)
    app = create_app(ml.load_bundle(folder), follow=str(folder), follow_interval=0.1)
    with thread_server(app) as url, httpx.Client(base_url=url) as http:
        body = {"dataframe_records": X.head(3).to_dict("records")}
        assert http.post("/invocations", json=body).headers["x-model-version"] == "1"
        ml.package("cancer/2", folder, overwrite=True)
        _wait(lambda: app.state.service.version == "2")
        r = http.post("/invocations", json=body)
        assert r.status_code == 200 and r.headers["x-model-version"] == "2"
        v2 = http.post(
            "/v2/models/cancer/infer",
            json={
                "inputs": [
                    {"name": c, "datatype": "FP64", "shape": [3], "data": X[c].head(3).tolist()}
                    for c in X.columns
                ]
            },
        ).json()
        assert v2["model_version"] == "2"
        assert np.array_equal(
            np.asarray(next(o for o in v2["outputs"] if o["name"] == "predict")["data"]),
            ml.load_model("cancer/2").predict(X.head(3)),
        )


def _train_kernel(input_path, output_path, *, parameters, **kwargs):
    """What the promoted notebook does: train on train_path, log the model and its score."""
    import pandas as pd

    from mlops_lab.tracking.session import session

    run = session().start_run("train", experiment="default", tags=None, parent=None)
    try:
        frame = pd.read_csv(parameters["train_path"])
        X, y = frame.drop(columns="target"), frame["target"]
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(X, y)
        ml.log_model(model, run=run, input_example=X.head())
        run.log_metric("accuracy", float(model.score(X, y)))
    finally:
        session().end_run(run)
    with open(output_path, "w") as fh:
        fh.write('{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}')


@pytest.mark.slow
def test_new_data_retrains_moves_the_champion_and_the_running_server_follows(
    thread_server, tmp_path
) -> None:
    from mlops_lab.pipeline import Param, PipelineSpec
    from mlops_lab.pipeline.watch import Watcher

    frame = load_breast_cancer(as_frame=True).frame
    data = tmp_path / "train.csv"
    frame.iloc[:60].to_csv(data, index=False)  # a small first sample: a weak model
    holdout = tmp_path / "holdout.csv"
    frame.iloc[300:].to_csv(holdout, index=False)
    PipelineSpec(
        name="cancer",
        folder=tmp_path / "pipelines" / "cancer",
        params={
            "train_path": Param("path", str(data), dataset="train"),
            "eval_path": Param("path", str(holdout)),
        },
        steps=[
            {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
            {
                "name": "evaluate",
                "kind": "evaluate",
                "metric": "log_loss",
                "data": "eval_path",
                "target": "target",
            },
            {"name": "gate", "kind": "gate", "metric": "log_loss", "mode": "min"},
            {"name": "register", "kind": "register", "model_name": "cancer"},
        ],
    ).save()
    said: list[str] = []
    watcher = Watcher("cancer", "train_path", interval=0.1, execute=_train_kernel, say=said.append)
    assert watcher.tick().action == "ran"
    assert ml.get_model_version("cancer@champion").version == 1
    app = create_app(
        ml.package("cancer@champion", tmp_path / "b1"),
        follow="cancer@champion",
        follow_interval=0.2,
    )
    rows = frame.drop(columns="target").iloc[300:304].to_dict("records")
    answers: list[tuple[int, str]] = []
    per_client: list[list[str]] = [[], []]
    stop = threading.Event()

    def client(url: str, mine: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=30) as http:
            for _ in range(3000):
                if stop.is_set():
                    return
                r = http.post("/invocations", json={"dataframe_records": rows})
                answers.append((r.status_code, r.headers.get("x-model-version", "")))
                mine.append(r.headers.get("x-model-version", ""))

    with thread_server(app) as url:
        threads = [threading.Thread(target=client, args=(url, m)) for m in per_client]
        for t in threads:
            t.start()
        frame.iloc[:300].to_csv(data, index=False)  # new data arrives in place
        trigger = watcher.tick()
        assert trigger.action == "ran" and "gate: champion" in trigger.detail, said
        assert ml.get_model_version("cancer@champion").version == 2
        _wait(lambda: app.state.service.version == "2")
        _wait(lambda: sum(1 for a in answers if a[1] == "2") > 10)
        stop.set()
        for t in threads:
            t.join(60)
    assert {status for status, _ in answers} == {200}
    for versions in per_client:  # each client sees version 1, then only version 2
        assert versions == sorted(versions) and versions[-1] == "2"
