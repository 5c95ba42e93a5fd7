"""The monitor knows the task: a served regressor reports quantiles and live RMSE/MAE/R²."""

from __future__ import annotations

import math
import time

import pytest
from sklearn import metrics as skm
from sklearn.datasets import load_diabetes
from sklearn.linear_model import Ridge

import mlops_lab as ml
from mlops_lab.store.prediction_records import predictions


@pytest.fixture
def served_regressor(tmp_path):
    """A Ridge regressor packaged and served for real (mlops-lab serve in a subprocess)."""
    import httpx

    frame = load_diabetes(as_frame=True).frame
    X, y = frame.drop(columns="target"), frame["target"]
    model = Ridge(alpha=0.1).fit(X, y)
    with ml.start_run("ridge") as run:
        ml.log_model(model, input_example=X.head())
    ml.register_model(run, "diabetes")
    bundle = ml.package("diabetes/1", tmp_path / "bundle")
    with ml.start_server(bundle) as handle, httpx.Client(base_url=handle.url) as client:
        yield client, model, X, y, bundle


def _wait(store, name, n):
    deadline = time.time() + 10
    while time.time() < deadline:
        if len(predictions(store, name)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError("the prediction log did not catch up")


def test_regression_monitor_reports_live_rmse_equal_to_sklearn(served_regressor, store) -> None:
    client, model, X, y, bundle = served_regressor
    sent = []
    for start in range(0, 60, 6):
        batch = X.iloc[start : start + 6]
        r = client.post("/invocations", json={"dataframe_records": batch.to_dict("records")})
        assert r.status_code == 200
        sent.append((r.headers["x-request-id"], y.iloc[start : start + 6].tolist()))
    _wait(store, bundle.name, 10)
    for request_id, truth in sent:
        ml.log_feedback(request_id, truth)
    report = ml.monitor(bundle.name)
    assert report.task == "regression"
    pred = model.predict(X.head(60))
    truth = y.head(60)
    assert report.live_metrics["rmse"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(truth, pred)), rel=1e-4
    )
    assert report.live_metrics["mae"] == pytest.approx(
        skm.mean_absolute_error(truth, pred), rel=1e-4
    )
    assert report.live_metrics["r2"] == pytest.approx(skm.r2_score(truth, pred), rel=1e-4)
    assert report.predictions == {}  # no 'distribution' of distinct floats
    assert report.prediction_quantiles["p50"] == pytest.approx(float(sorted(pred)[29]), rel=0.05)
    assert sum(report.prediction_histogram["counts"]) == 60
    text = report.to_text()
    assert "live error" in text and "RMSE" in text and "live accuracy" not in text
    bundle_html = report._repr_mimebundle_()
    assert "application/vnd.plotly.v1+json" in bundle_html
    # live fairness over an input column, from the rows with feedback
    report = ml.monitor(bundle.name, sensitive="sex")
    assert set(report.fairness["sex"]["by_group"]) == {str(v) for v in X["sex"].head(60).unique()}


def test_task_is_checked() -> None:
    with pytest.raises(ml.MlopsLabError, match="task: expected 'classification' or 'regression'"):
        ml.monitor("diabetes", task="ranking")
