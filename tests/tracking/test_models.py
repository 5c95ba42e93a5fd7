"""Models are saved with skops and load only with trusted types."""

from __future__ import annotations

import pytest

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, ModelLoadError
from mlops_lab.tracking.models import loads


@pytest.fixture
def data():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True, as_frame=True)


@pytest.mark.parametrize("kind", ["logistic", "forest", "hist_gbm"])
def test_logged_models_load_and_predict_the_same(data, kind: str) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    model = {
        "logistic": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
        "forest": RandomForestClassifier(n_estimators=5, random_state=0),
        "hist_gbm": HistGradientBoostingClassifier(max_iter=5),
    }[kind].fit(X, y)
    with ml.start_run(kind) as run:
        ml.log_model(model, input_example=X)
    loaded = ml.load_model(kind)
    assert (loaded.predict(X) == model.predict(X)).all()
    art = run.artifacts[0]
    assert art["kind"] == "model"
    assert art["meta"]["format"] == "skops"
    assert art["meta"]["signature"]["columns"][0] == {
        "name": "sepal length (cm)",
        "dtype": "float64",
    }
    example = art["meta"]["input_example"]
    assert example["columns"] == list(X.columns)
    assert len(example["data"]) == 5


def test_a_file_that_would_call_eval_is_refused() -> None:
    import skops.io as sio

    data = sio.dumps({"payload": eval})
    with pytest.raises(ModelLoadError, match=r"builtins\.eval"):
        loads(data)


def test_a_pickle_is_not_a_model() -> None:
    import pickle

    with pytest.raises(ModelLoadError, match="not a readable skops file"):
        loads(pickle.dumps({"a": 1}))


def test_missing_model_names_what_the_run_has(data) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = data
    with ml.start_run("r"):
        ml.log_model(LogisticRegression(max_iter=500).fit(X, y), name="clf")
    with pytest.raises(InvalidArgumentError, match=r"no model 'model'.*clf"):
        ml.load_model("r")
    with ml.start_run("empty"):
        pass
    with pytest.raises(InvalidArgumentError, match="logged no model"):
        ml.load_model("empty")


def test_log_model_refuses_a_non_estimator() -> None:
    with (
        ml.start_run(),
        pytest.raises(InvalidArgumentError, match="expected a scikit-learn estimator"),
    ):
        ml.log_model("not a model")
