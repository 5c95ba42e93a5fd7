"""ml.evaluate scores models itself: metrics equal scikit-learn's and fairlearn's own."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.dummy import DummyRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError


@pytest.fixture(scope="module")
def cancer() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_breast_cancer(as_frame=True).frame
    rng = np.random.default_rng(0)
    frame["group"] = rng.choice(["a", "b", "c"], size=len(frame))
    return frame.iloc[:400], frame.iloc[400:]


@pytest.fixture(scope="module")
def diabetes() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame["sex"] = frame["sex"].map({1.0: "f", 2.0: "m"})
    return frame.iloc[:330], frame.iloc[330:]


def _classifier(train: pd.DataFrame) -> object:
    X = train.drop(columns=["target", "group"])
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, train["target"])


def _regressor(train: pd.DataFrame) -> object:
    pre = ColumnTransformer(
        [("num", StandardScaler(), ["age", "bmi", "bp", "s5"]), ("cat", OneHotEncoder(), ["sex"])]
    )
    return make_pipeline(pre, Ridge(alpha=1.0)).fit(train.drop(columns="target"), train["target"])


def test_classification_metrics_equal_sklearn(cancer) -> None:
    train, test = cancer
    model = _classifier(train)
    report = ml.evaluate(model, test, target="target", log=False)
    X = test[list(model.feature_names_in_)]
    pred, proba = model.predict(X), model.predict_proba(X)
    assert report.task == "classification"
    assert report.metrics["accuracy"] == pytest.approx(skm.accuracy_score(test["target"], pred))
    assert report.metrics["f1_macro"] == pytest.approx(
        skm.f1_score(test["target"], pred, average="macro")
    )
    assert report.metrics["log_loss"] == pytest.approx(skm.log_loss(test["target"], proba))
    assert report.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(test["target"], proba[:, 1])
    )
    assert report.confusion["matrix"] == skm.confusion_matrix(test["target"], pred).tolist()
    assert report.dataset == ml.fingerprint(test)


def test_regression_metrics_equal_sklearn(diabetes) -> None:
    train, test = diabetes
    model = _regressor(train)
    report = ml.evaluate(model, test, target="target", log=False)
    pred = model.predict(test.drop(columns="target"))
    assert report.task == "regression"
    assert report.metrics["rmse"] == pytest.approx(
        math.sqrt(skm.mean_squared_error(test["target"], pred))
    )
    assert report.metrics["mae"] == pytest.approx(skm.mean_absolute_error(test["target"], pred))
    assert report.metrics["r2"] == pytest.approx(skm.r2_score(test["target"], pred))
    assert report.metrics["mape"] == pytest.approx(
        skm.mean_absolute_percentage_error(test["target"], pred)
    )
    assert report.confusion is None


def test_slices_give_every_metric_per_value_with_counts(cancer) -> None:
    train, test = cancer
    model = _classifier(train)
    report = ml.evaluate(model, test, target="target", slices=["group"], log=False)
    rows = {r["value"]: r for r in report.slices["group"]}
    assert set(rows) == {"a", "b", "c"}
    assert sum(r["count"] for r in rows.values()) == len(test)
    part = test[test["group"] == "b"]
    pred = model.predict(part[list(model.feature_names_in_)])
    assert rows["b"]["metrics"]["accuracy"] == pytest.approx(
        skm.accuracy_score(part["target"], pred)
    )


def test_fairness_metrics_equal_fairlearn(cancer, diabetes) -> None:
    import fairlearn.metrics as fm

    train, test = cancer
    model = _classifier(train)
    report = ml.evaluate(model, test, target="target", sensitive="group", log=False)
    pred = model.predict(test[list(model.feature_names_in_)])
    groups = test["group"].to_numpy()
    assert report.fairness["group"]["demographic_parity_difference"] == pytest.approx(
        fm.demographic_parity_difference(test["target"], pred, sensitive_features=groups)
    )
    assert report.fairness["group"]["equalized_odds_difference"] == pytest.approx(
        fm.equalized_odds_difference(test["target"], pred, sensitive_features=groups)
    )
    rtrain, rtest = diabetes
    reg = _regressor(rtrain)
    rreport = ml.evaluate(reg, rtest, target="target", sensitive=["sex"], log=False)
    rpred = reg.predict(rtest.drop(columns="target"))
    frame = fm.MetricFrame(
        metrics=skm.mean_absolute_error,
        y_true=rtest["target"],
        y_pred=rpred,
        sensitive_features=rtest["sex"],
    )
    assert rreport.fairness["sex"]["mae_difference"] == pytest.approx(frame.difference())


def test_baseline_is_scored_on_the_same_rows_and_thresholds_read_in_words(diabetes) -> None:
    train, test = diabetes
    model = _regressor(train)
    dummy = DummyRegressor().fit(train.drop(columns="target"), train["target"])
    report = ml.evaluate(model, test, target="target", baseline=dummy, slices="sex", log=False)
    assert report.baseline is not None and report.baseline.dataset == report.dataset
    assert report.baseline.metrics["rmse"] > report.metrics["rmse"]
    results = report.check(
        [
            ml.Threshold("rmse", min_absolute_change=1.0),
            ml.Threshold("r2", min_value=0.99),
            ml.Threshold("rmse", max_slice_drop=0.0),
        ]
    )
    assert [r.passed for r in results] == [True, False, True]
    assert "below the floor 0.99" in results[1].message
    assert "DummyRegressor" in results[0].message
    # the dummy as candidate, the real model as baseline: worse on every slice
    worse = ml.evaluate(dummy, test, target="target", baseline=model, slices="sex", log=False)
    (slice_rule,) = worse.check({"rmse": {"max_slice_drop": 1.0}})
    assert not slice_rule.passed and "worst slice is sex=" in slice_rule.message


def test_logged_report_is_a_run_with_the_dataset_digest(cancer) -> None:
    train, test = cancer
    model = _classifier(train)
    with ml.start_run("train") as parent:
        ml.log_model(model, input_example=train.drop(columns=["target", "group"]).head())
    ml.register_model(parent, "cancer")
    report = ml.evaluate("cancer/1", test, target="target")
    run = ml.get_run(report.run_id)
    assert run.tags["mlops.evaluation.dataset"] == ml.fingerprint(test)
    assert run.tags["mlops.evaluation.model"] == "cancer/1"
    assert run.metrics["accuracy"] == pytest.approx(report.metrics["accuracy"])
    stored = json.loads(run.artifact_path("evaluation.json").read_text())
    assert stored["metrics"] == report.metrics
    assert "evaluated" in str(ml.lineage("cancer/1"))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "target: no column 'nope'"),
        ({"target": "target", "slices": ["zone"]}, "slices: no column 'zone'"),
        ({"target": "target", "task": "ranking"}, "task: expected one of"),
    ],
)
def test_mistakes_name_the_argument(cancer, kwargs, message) -> None:
    train, test = cancer
    with pytest.raises(InvalidArgumentError, match=message):
        ml.evaluate(_classifier(train), test, log=False, **kwargs)


def test_report_renders_as_escaped_html_and_text(cancer) -> None:
    train, test = cancer
    frame = test.assign(group=np.where(test["group"] == "a", "<script>x</script>", "b"))
    report = ml.evaluate(_classifier(train), frame, target="target", slices="group", log=False)
    page = report._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "accuracy" in str(report)
