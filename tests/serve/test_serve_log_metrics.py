"""/metrics, the prediction log in the store, the monitor report and live accuracy."""

from __future__ import annotations

import json
import threading
import time

import pytest

import mlops_lab as ml
from mlops_lab.serve.prediction_log import PredictionLog
from mlops_lab.store.prediction_records import predictions


def _wait_for_rows(store, name: str, n: int) -> list[dict]:
    deadline = time.monotonic() + 20
    while True:
        rows = predictions(store, name)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def test_metrics_in_prometheus_format(cancer) -> None:
    X = cancer.X.head(3)
    for _ in range(4):
        assert (
            cancer.client.post(
                "/invocations", json={"instances": X.to_numpy().tolist()}
            ).status_code
            == 200
        )
    assert cancer.client.post("/invocations", content=b"{").status_code == 400
    r = cancer.client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    name, version = cancer.bundle.name, cancer.bundle.version
    labels = f'model="{name}",version="{version}",protocol="invocations"'
    assert f'mlops_requests_total{{{labels},code="200"}} 4' in text
    assert f'mlops_requests_total{{{labels},code="400"}} 1' in text
    assert f'mlops_request_errors_total{{{labels},kind="client"}} 1' in text
    assert f"mlops_predicted_rows_total{{{labels}}} 12" in text
    assert f'mlops_request_duration_seconds_bucket{{{labels},le="+Inf"}} 5' in text
    assert f"mlops_request_duration_seconds_count{{{labels}}} 5" in text
    assert "# TYPE mlops_request_duration_seconds histogram" in text
    assert f'mlops_requests_in_flight{{model="{name}",version="{version}"}} 0' in text
    assert f'mlops_model_info{{model="{name}",version="{version}",runtime="onnx"}} 1' in text
    assert "mlops_prediction_log_dropped_total" in text
    for line in text.splitlines():
        assert line.startswith("#") or len(line.rsplit(" ", 1)) == 2


def test_prediction_log_rows_in_the_store(cancer, store) -> None:
    X = cancer.X.head(2)
    r = cancer.client.post(
        "/invocations",
        json={"dataframe_records": X.to_dict("records")},
        headers={"x-request-id": "req-42"},
    )
    assert r.status_code == 200 and r.headers["x-request-id"] == "req-42"
    bad = cancer.client.post("/invocations", json={"instances": [[1, 2]]})
    assert bad.status_code == 422
    rows = _wait_for_rows(store, cancer.bundle.name, 2)
    assert len(rows) == 2
    ok = next(row for row in rows if row["client_request_id"] == "req-42")
    assert ok["request_id"] == r.headers["x-prediction-id"] != "req-42"  # the server's key
    assert ok["status"] == 200 and ok["n_rows"] == 2 and ok["protocol"] == "invocations"
    assert ok["version"] == cancer.bundle.version and ok["run_id"] == cancer.bundle.run_id
    assert ok["runtime"] == "onnx" and ok["latency_ms"] > 0
    inputs = json.loads(ok["inputs"])
    assert inputs["mean radius"] == X["mean radius"].tolist()
    assert json.loads(ok["outputs"])["predict"] == cancer.model.predict(X).tolist()
    failed = next(row for row in rows if row["client_request_id"] is None)
    assert failed["request_id"] == bad.headers["x-request-id"] == bad.headers["x-prediction-id"]
    assert failed["status"] == 422 and "row 0" in failed["error"]


def test_monitor_report_and_live_accuracy(cancer, store) -> None:
    X, y = cancer.X, cancer.y
    ids = []
    for start in range(0, 40, 4):
        batch = X.iloc[start : start + 4]
        r = cancer.client.post("/invocations", json={"dataframe_records": batch.to_dict("records")})
        ids.append((r.headers["x-request-id"], y.iloc[start : start + 4].tolist()))
    cancer.client.post("/invocations", json={"instances": "oops"})
    _wait_for_rows(store, cancer.bundle.name, 11)
    for request_id, labels in ids:
        ml.log_feedback(request_id, labels)
    report = ml.monitor(cancer.bundle.name, reference=X)
    assert report.n_requests == 11 and report.n_errors == 1 and report.n_rows == 40
    assert report.error_rate == pytest.approx(1 / 11)
    assert report.errors == {"400": 1}
    assert report.latency_ms["p50"] > 0 and report.latency_ms["p99"] >= report.latency_ms["p50"]
    assert sum(report.predictions.values()) == 40
    expected = (cancer.model.predict(X.head(40)) == y.head(40)).mean()
    assert report.accuracy == pytest.approx(expected)
    assert report.n_labelled == 40
    assert report.drift is not None  # the served rows against the training frame
    text = report.to_text()
    assert "live accuracy" in text and "p50" in text and cancer.bundle.name in text
    assert "<table>" in report._repr_html_()
    assert json.dumps(report.to_dict(), default=str)
    assert ml.monitor(cancer.bundle.name, since="1h").n_requests == 11
    assert ml.monitor(cancer.bundle.name, since=time.time() + 60).n_requests == 0


def test_monitor_unknown_model() -> None:
    with pytest.raises(ml.MlopsLabError, match="no predictions logged for model 'ghost'"):
        ml.monitor("ghost")


def test_full_queue_drops_and_never_blocks() -> None:
    gate = threading.Event()
    written: list[dict] = []

    def slow_write(rows: list[dict]) -> None:
        gate.wait(10)
        written.extend(rows)

    log = PredictionLog(slow_write, maxsize=2, interval=0.01)
    log.start()
    accepted = [log.submit({"request_id": str(i), "inputs": None}) for i in range(50)]
    assert not all(accepted) and log.dropped == accepted.count(False)
    gate.set()
    log.close()
    assert log.written == len(written) == accepted.count(True)
