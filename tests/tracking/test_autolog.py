"""scikit-learn autolog: what one fit logs, runs opened and closed, searches, failures."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.ensemble import IsolationForest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
from sklearn.model_selection._search import BaseSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, MlopsLabWarning
from mlops_lab.tracking import autolog as autolog_module
from mlops_lab.tracking.autolog import _digest, training_metrics

CLASSIFIER_METRICS = {
    "training_accuracy",
    "training_precision",
    "training_recall",
    "training_f1",
    "training_log_loss",
    "training_roc_auc",
}


@pytest.fixture(autouse=True)
def autolog_on() -> Iterator[None]:
    ml.autolog()
    yield
    ml.autolog(False)


def _frame() -> tuple[pd.DataFrame, pd.Series]:
    iris = load_iris(as_frame=True)
    X = iris.data.copy()
    X["site"] = np.array(["north", "south", "east"])[np.arange(len(X)) % 3]
    return X, iris.target


def test_classifier_fit_is_one_finished_run_with_params_metrics_model_and_data() -> None:
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(C=0.5, max_iter=5000)

    assert model.fit(X, y) is model

    frame = ml.runs()
    assert len(frame) == 1
    run = ml.get_run(frame["run_id"].iloc[0])
    assert run.name == "LogisticRegression"
    assert run.status == "finished"
    assert ml.active_run() is None
    assert run.params["C"] == 0.5
    assert run.params["max_iter"] == 5000
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert set(run.metrics) == CLASSIFIER_METRICS
    assert run.metrics["training_accuracy"] == pytest.approx(model.score(X, y))

    loaded = ml.load_model(run)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    (art,) = [a for a in run.artifacts if a["kind"] == "model"]
    assert art["meta"]["signature"] == {"type": "array", "shape": [None, 30], "dtype": "float64"}

    inputs = {d["name"]: d for d in run.datasets}
    assert set(inputs) == {"X", "y"}
    assert {d["role"] for d in inputs.values()} == {"train"}
    assert (inputs["X"]["n_rows"], inputs["X"]["n_cols"]) == X.shape
    assert inputs["X"]["digest"] == _digest(X)[0]
    assert inputs["y"]["source"] == "autolog"


def test_regressor_metrics_equal_scikit_learn() -> None:
    X, y = load_diabetes(return_X_y=True)
    model = LinearRegression().fit(X, y)

    run = ml.get_run()
    pred = model.predict(X)
    assert run.metrics == pytest.approx(
        {
            "training_mse": metrics.mean_squared_error(y, pred),
            "training_rmse": metrics.root_mean_squared_error(y, pred),
            "training_mae": metrics.mean_absolute_error(y, pred),
            "training_r2": metrics.r2_score(y, pred),
        }
    )


@pytest.mark.parametrize("dataset", ["binary", "multiclass"])
@pytest.mark.parametrize("labels", ["int", "str"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("estimator", ["logistic", "tree"])
def test_classifier_metrics_equal_scikit_learn(
    dataset: str, labels: str, weighted: bool, estimator: str
) -> None:
    ml.autolog(False)
    X, y = (load_breast_cancer if dataset == "binary" else load_iris)(return_X_y=True)
    if labels == "str":
        y = np.array(["ant", "bee", "cat"])[y]
    weights = np.random.default_rng(0).uniform(0.1, 2.0, len(y)) if weighted else None
    model = (
        LogisticRegression(max_iter=5000)
        if estimator == "logistic"
        else DecisionTreeClassifier(max_depth=2, random_state=0)  # ties in predict_proba
    ).fit(X, y, sample_weight=weights)
    pred, proba = model.predict(X), model.predict_proba(X)
    binary = len(model.classes_) == 2
    average = {"average": "binary", "pos_label": model.classes_[1]} if binary else {}
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y, pred, sample_weight=weights, zero_division=0, **(average or {"average": "weighted"})
    )
    auc = metrics.roc_auc_score(
        y,
        proba[:, 1] if binary else proba,
        sample_weight=weights,
        **({} if binary else {"multi_class": "ovr", "average": "weighted"}),
    )

    got, failed = training_metrics(model, X, y, weights)

    assert failed == []
    assert got == pytest.approx(
        {
            "training_accuracy": metrics.accuracy_score(y, pred, sample_weight=weights),
            "training_precision": precision,
            "training_recall": recall,
            "training_f1": f1,
            "training_log_loss": metrics.log_loss(
                y, y_proba=proba, sample_weight=weights, labels=model.classes_
            ),
            "training_roc_auc": auc,
        },
        rel=1e-9,
    )


def test_multioutput_regressor_metrics_are_the_mean_over_outputs() -> None:
    ml.autolog(False)
    X, y = load_diabetes(return_X_y=True)
    Y = np.c_[y, np.sqrt(y)]
    weights = np.random.default_rng(1).uniform(0.5, 1.5, len(y))
    model = Ridge().fit(X, Y, sample_weight=weights)
    pred = model.predict(X)

    got, failed = training_metrics(model, X, Y, weights)

    assert failed == []
    assert got == pytest.approx(
        {
            "training_mse": metrics.mean_squared_error(Y, pred, sample_weight=weights),
            "training_rmse": metrics.root_mean_squared_error(Y, pred, sample_weight=weights),
            "training_mae": metrics.mean_absolute_error(Y, pred, sample_weight=weights),
            "training_r2": metrics.r2_score(Y, pred, sample_weight=weights),
        }
    )


def test_pipeline_with_column_transformer_logs_once_with_column_signature() -> None:
    X, y = _frame()
    numeric = list(X.columns[:4])
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(), ["site"])]
                ),
            ),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )

    pipe.fit(X, y)

    frame = ml.runs()
    assert len(frame) == 1
    run = ml.get_run(frame["run_id"].iloc[0])
    assert run.name == "Pipeline"
    params = run.params
    assert params["steps"] == [["prep", "ColumnTransformer"], ["clf", "LogisticRegression"]]
    assert params["clf"] == "LogisticRegression"
    assert params["clf__C"] == 1.0
    assert params["prep__cat__handle_unknown"] == "error"
    assert set(run.metrics) == CLASSIFIER_METRICS
    (art,) = [a for a in run.artifacts if a["kind"] == "model"]
    signature = art["meta"]["signature"]
    assert signature["type"] == "dataframe"
    assert [c["name"] for c in signature["columns"]] == list(X.columns)
    assert signature["columns"][0]["dtype"] == "float64"
    assert signature["columns"][-1]["dtype"] == str(X["site"].dtype)
    loaded = ml.load_model(run)
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_fit_transform_of_a_transformer_logs_once() -> None:
    X, _ = _frame()

    ColumnTransformer([("num", StandardScaler(), list(X.columns[:4]))]).fit_transform(X)
    CountVectorizer().fit_transform(["red green blue", "green blue"])

    assert sorted(ml.runs()["name"]) == ["ColumnTransformer", "CountVectorizer"]


@pytest.mark.parametrize("search_class", [GridSearchCV, RandomizedSearchCV])
def test_search_logs_best_params_and_top_candidates_as_children(search_class: type) -> None:
    ml.autolog(max_tuning_runs=3)
    X, y = load_iris(return_X_y=True)
    grid = {"C": [0.01, 0.1, 1.0, 10.0, 100.0]}
    options = {"n_iter": 5, "random_state": 0} if search_class is RandomizedSearchCV else {}
    search = search_class(LogisticRegression(max_iter=2000), grid, cv=3, **options)

    search.fit(X, y)

    frame = ml.runs()
    assert len(frame) == 1 + 3  # the search and three children: candidates' fits are not runs
    parent = ml.get_run(search_class.__name__)
    assert parent.status == "finished"
    assert parent.params["best_C"] == search.best_params_["C"]
    assert parent.params["estimator"] == "LogisticRegression"
    assert parent.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert set(parent.metrics) >= CLASSIFIER_METRICS
    children = parent.children
    assert len(children) == 3
    ranks = search.cv_results_["rank_test_score"]
    expected = [search.cv_results_["params"][i]["C"] for i in np.argsort(ranks, kind="stable")]
    for child, value in zip(children, expected[:3], strict=True):
        assert child.parent_id == parent.run_id
        assert child.status == "finished"
        assert child.experiment == parent.experiment
        assert child.params == {"C": value}
        index = int(child.tags["candidate_index"])
        assert child.metrics["mean_test_score"] == pytest.approx(
            search.cv_results_["mean_test_score"][index]
        )
        assert "std_test_score" in child.metrics
    loaded = ml.load_model(parent)
    np.testing.assert_array_equal(loaded.predict(X), search.predict(X))
    assert ml.active_run() is None


def test_search_children_do_not_disturb_an_open_run() -> None:
    X, y = load_iris(return_X_y=True)
    with ml.start_run("tuning") as run:
        GridSearchCV(LogisticRegression(max_iter=2000), {"C": [0.1, 1.0]}, cv=3).fit(X, y)
        assert ml.active_run() == run
        ml.log_metric("after", 1.0)
    assert len(run.children) == 2
    assert "best_cv_score" in run.metrics
    assert run.metrics["after"] == 1.0
    assert run.status == "finished"


def test_search_without_refit_logs_candidates_but_no_model() -> None:
    X, y = load_iris(return_X_y=True)
    GridSearchCV(LogisticRegression(max_iter=2000), {"C": [0.1, 1.0]}, cv=3, refit=False).fit(X, y)
    parent = ml.get_run("GridSearchCV")
    assert parent.artifacts == []
    assert parent.params["best_C"] in (0.1, 1.0)
    assert len(parent.children) == 2


def test_fits_in_worker_threads_are_not_logged_on_their_own() -> None:
    from joblib import parallel_config

    X, y = load_iris(return_X_y=True)
    IsolationForest(n_estimators=10, n_jobs=2, random_state=0).fit(X)  # trees in threads
    with parallel_config(backend="threading"):
        GridSearchCV(LogisticRegression(max_iter=2000), {"C": [0.1, 1.0]}, n_jobs=2).fit(X, y)

    names = ml.runs()["name"].tolist()
    assert sorted(names) == sorted(
        ["IsolationForest", "GridSearchCV", "GridSearchCV candidate 1", "GridSearchCV candidate 2"]
    )


def test_open_run_receives_the_fit() -> None:
    X, y = load_iris(return_X_y=True)
    with ml.start_run("mine") as run:
        LogisticRegression(max_iter=1000).fit(X, y)
        assert ml.active_run() == run
    assert len(ml.runs()) == 1
    assert set(run.metrics) >= CLASSIFIER_METRICS
    assert run.params["max_iter"] == 1000
    assert run.tags["estimator_name"] == "LogisticRegression"
    assert run.status == "finished"


def test_second_fit_with_other_params_in_one_run_warns_and_keeps_the_first() -> None:
    X, y = load_iris(return_X_y=True)
    with ml.start_run("two models") as run:
        LogisticRegression(C=1.0, max_iter=1000).fit(X, y)
        with pytest.warns(MlopsLabWarning, match="already has other values for params C"):
            second = LogisticRegression(C=2.0, max_iter=1000).fit(X, y)
    assert hasattr(second, "coef_")
    assert run.params["C"] == 1.0
    assert len(run.metric_history("training_accuracy")) == 2


def test_one_run_per_fit_when_none_is_open() -> None:
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=1000).fit(X, y)
    DecisionTreeClassifier().fit(X, y)

    frame = ml.runs()
    assert sorted(frame["name"]) == ["DecisionTreeClassifier", "LogisticRegression"]
    assert set(frame["status"]) == {"finished"}
    assert ml.active_run() is None


def test_fit_that_raises_fails_the_run_and_propagates() -> None:
    X, y = load_iris(return_X_y=True)
    X = X.copy()
    X[0, 0] = np.nan

    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(X, y)

    (status,) = ml.runs()["status"]
    assert status == "failed"
    assert ml.active_run() is None


def test_logging_failure_warns_and_fit_still_returns_the_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlops_lab.tracking import models

    def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(models, "log_model", broken)
    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000)

    with pytest.warns(MlopsLabWarning, match="model not logged.*disk full"):
        result = model.fit(X, y)

    assert result is model
    assert hasattr(model, "coef_")
    run = ml.get_run()
    assert run.status == "finished"
    assert set(run.metrics) >= CLASSIFIER_METRICS


def test_silent_hides_logging_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_lab.tracking import models

    monkeypatch.setattr(models, "log_model", lambda *a, **k: 1 / 0)
    ml.autolog(silent=True)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=1000).fit(X, y)  # MlopsLabWarning is an error in the tests
    assert len(ml.runs()) == 1


def test_settings_turn_model_and_dataset_logging_off() -> None:
    ml.autolog(log_models=False, log_datasets=False)
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=1000).fit(X, y)
    run = ml.get_run()
    assert run.artifacts == []
    assert run.datasets == []
    assert set(run.metrics) >= CLASSIFIER_METRICS


def test_autolog_off_restores_every_original_method() -> None:
    ml.autolog(False)
    originals = {
        cls: cls.__dict__["fit"]
        for cls in (LogisticRegression, Pipeline, ColumnTransformer, BaseSearchCV)
    }
    transform = ColumnTransformer.__dict__["fit_transform"]

    ml.autolog()
    assert all(cls.__dict__["fit"] is not fit for cls, fit in originals.items())
    assert LogisticRegression.fit.__wrapped__ is originals[LogisticRegression]
    assert "fit" not in GridSearchCV.__dict__  # patched where it is defined

    ml.autolog(False)
    assert all(cls.__dict__["fit"] is fit for cls, fit in originals.items())
    assert LogisticRegression.fit is originals[LogisticRegression]
    assert ColumnTransformer.fit_transform is transform
    assert autolog_module.patches().originals == {}
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=1000).fit(X, y)
    assert len(ml.runs()) == 0


def test_enabling_twice_patches_once() -> None:
    ml.autolog(False)
    original = LogisticRegression.fit
    ml.autolog()
    ml.autolog(max_tuning_runs=2)
    assert LogisticRegression.fit.__wrapped__ is original
    X, y = load_iris(return_X_y=True)
    LogisticRegression(max_iter=1000).fit(X, y)
    assert len(ml.runs()) == 1


def test_bad_max_tuning_runs_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="max_tuning_runs"):
        ml.autolog(max_tuning_runs=-1)


def test_autolog_magic(shell) -> None:
    ml.autolog(False)
    original = LogisticRegression.fit
    shell.run_cell("%mlops autolog on")
    shell.run_cell(
        "from sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "X, y = load_iris(return_X_y=True)\n"
        "model = LogisticRegression(max_iter=1000).fit(X, y)"
    )
    run = ml.get_run()
    assert run.name == "LogisticRegression"
    assert set(run.metrics) >= CLASSIFIER_METRICS
    shell.run_cell("%mlops autolog off")
    assert LogisticRegression.fit is original


def test_importing_autolog_does_not_import_scikit_learn() -> None:
    code = (
        "import sys, mlops_lab as ml; ml.autolog; "
        "assert 'sklearn' not in sys.modules, 'sklearn imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_digest_follows_content_and_schema() -> None:
    X, _ = _frame()
    digest = _digest(X)[0]

    assert _digest(X.copy())[0] == digest
    assert _digest(X)[1:] == (150, 5)
    changed = X.copy()
    changed.iloc[3, 4] = "west"
    assert _digest(changed)[0] != digest
    assert _digest(X.rename(columns={"site": "place"}))[0] != digest
    assert _digest(X.astype({"site": "category"}))[0] != digest
    array = X.iloc[:, :4].to_numpy()
    assert _digest(array)[0] == _digest(array.copy(order="F"))[0]
    assert _digest(array)[0] != _digest(array.astype("float32"))[0]
    assert _digest(array)[0] != _digest(array.reshape(300, 2))[0]
    objects = np.array(["a", 1, None], dtype=object)
    assert _digest(objects)[0] == _digest(objects.copy())[0]
    assert _digest(objects)[1:] == (3, 1)
