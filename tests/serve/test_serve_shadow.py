"""--shadow and --canary: a challenger beside the champion, compared in the monitor."""

from __future__ import annotations

import random
import time

import httpx
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import mlops_lab as ml
from mlops_lab.serve import create_app
from mlops_lab.serve.server import parse_canary
from mlops_lab.store.prediction_records import predictions
from mlops_lab.tracking.session import session


@pytest.fixture
def two_versions():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    models = []
    for C in (0.001, 1.0):
        with ml.start_run(f"C={C}") as run:
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=1000))
            model.fit(X, y)
            ml.log_model(model, input_example=X.head())
        ml.register_model(run, "cancer")
        models.append(model)
    return X, y, models


def _wait_rows(n: int) -> list[dict]:
    deadline = time.monotonic() + 30
    while True:
        rows = predictions(session().store(), "cancer")
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_shadow_sees_every_input_and_never_answers(thread_server, tmp_path, two_versions) -> None:
    X, y, (m1, m2) = two_versions
    app = create_app(ml.package("cancer/1", tmp_path / "b1"), shadow="cancer/2")
    ids = []
    with thread_server(app) as url, httpx.Client(base_url=url) as http:
        for start in range(0, 100, 5):
            batch = X.iloc[start : start + 5]
            r = http.post("/invocations", json={"dataframe_records": batch.to_dict("records")})
            assert r.status_code == 200 and r.headers["x-model-version"] == "1"
            assert r.json()["predictions"] == m1.predict(batch).tolist()
            ids.append((r.headers["x-request-id"], y.iloc[start : start + 5].tolist()))
        metrics = http.get("/metrics").text
    rows = _wait_rows(40)
    shadow = [r for r in rows if r["protocol"] == "shadow"]
    assert len(shadow) == 20 and {r["version"] for r in shadow} == {"2"}
    for request_id, truth in ids:
        ml.log_feedback(request_id, truth)
    report = ml.monitor("cancer")
    assert report.n_requests == 20  # the shadow's rows are not requests
    expected = (m1.predict(X.head(100)) == m2.predict(X.head(100))).mean()
    assert report.by_version["2"]["role"] == "shadow"
    assert report.by_version["2"]["agreement"] == pytest.approx(expected)
    assert report.by_version["2"]["live"]["accuracy"] == pytest.approx(
        (m2.predict(X.head(100)) == y.head(100)).mean()
    )
    assert report.by_version["1"]["live"]["accuracy"] == pytest.approx(
        (m1.predict(X.head(100)) == y.head(100)).mean()
    )
    assert "version 2" in report.to_text() and "agrees with the answer" in report.to_text()
    assert 'role="shadow"' in metrics


def test_canary_answers_its_share(thread_server, tmp_path, two_versions) -> None:
    X, _, (m1, m2) = two_versions
    random.seed(0)
    app = create_app(ml.package("cancer/1", tmp_path / "b1"), canary=("cancer/2", 0.25))
    seen = []
    with thread_server(app) as url, httpx.Client(base_url=url) as http:
        for i in range(200):
            row = X.iloc[[i]]
            r = http.post("/invocations", json={"dataframe_records": row.to_dict("records")})
            version = r.headers["x-model-version"]
            seen.append(version)
            model = m2 if version == "2" else m1
            assert r.json()["predictions"] == model.predict(row).tolist()
    share = seen.count("2") / len(seen)
    assert 0.15 < share < 0.35, share
    _wait_rows(200)
    report = ml.monitor("cancer")
    assert report.by_version["2"]["role"] == "canary"
    assert report.by_version["2"]["requests"] == seen.count("2")


def test_challenger_arguments_are_checked(tmp_path, two_versions) -> None:
    X, y, _ = two_versions
    assert parse_canary("iris@challenger:10%") == ("iris@challenger", 0.1)
    assert parse_canary("runs:/abc/model:0.5") == ("runs:/abc/model", 0.5)
    with pytest.raises(ml.MlopsLabError, match="expected MODEL:SHARE"):
        parse_canary("iris@challenger")
    with ml.start_run("narrow") as run:
        ml.log_model(LogisticRegression().fit(X.iloc[:, :3], y), input_example=X.iloc[:, :3].head())
    ml.register_model(run, "cancer")
    with pytest.raises(ml.MlopsLabError, match="input schema differs"):
        create_app(ml.package("cancer/1", tmp_path / "b1"), shadow="cancer/3")
