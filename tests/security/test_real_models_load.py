"""Real fitted models of the kinds people log still load with the exact trusted names."""

from __future__ import annotations

import numpy as np
import pytest

import mlops_lab as ml
from mlops_lab.tracking.trust import loads


def _data():
    import pandas as pd
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.copy()
    X["size"] = pd.cut(X["petal length (cm)"], [0, 2.5, 5, 10], labels=["s", "m", "l"]).astype(str)
    X.iloc[::17, 0] = np.nan
    return X, y


def _model(kind: str):
    from sklearn import calibration, ensemble, linear_model, neighbors, neural_network
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = ["sepal length (cm)", "sepal width (cm)", "petal width (cm)"]
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), numeric),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["size"]),
        ]
    )

    def pipe(est):
        return make_pipeline(pre, est)

    grid = GridSearchCV(
        pipe(linear_model.LogisticRegression(max_iter=300)),
        {"logisticregression__C": [0.1, 1.0]},
        cv=3,
    )
    return {
        "pipeline_logistic": pipe(linear_model.LogisticRegression(max_iter=300)),
        "grid_best": grid,
        "grid_whole": grid,
        "hist_gbm": pipe(ensemble.HistGradientBoostingClassifier(max_iter=10)),
        "hist_gbm_regressor": pipe(ensemble.HistGradientBoostingRegressor(max_iter=10)),
        "random_forest": pipe(ensemble.RandomForestClassifier(n_estimators=5, random_state=0)),
        "random_forest_regressor": pipe(ensemble.RandomForestRegressor(n_estimators=5)),
        "gradient_boosting": pipe(ensemble.GradientBoostingClassifier(n_estimators=5)),
        "ridge": pipe(linear_model.Ridge()),
        "knn": pipe(neighbors.KNeighborsClassifier()),
        "mlp": pipe(neural_network.MLPClassifier(max_iter=50, random_state=0)),
        "calibrated": pipe(calibration.CalibratedClassifierCV(linear_model.LogisticRegression())),
        "voting": pipe(
            ensemble.VotingClassifier(
                [
                    ("lr", linear_model.LogisticRegression(max_iter=300)),
                    ("rf", ensemble.RandomForestClassifier(n_estimators=3, random_state=0)),
                ],
                voting="soft",
            )
        ),
    }[kind]


KINDS = [
    "pipeline_logistic",
    "grid_best",
    "grid_whole",
    "hist_gbm",
    "hist_gbm_regressor",
    "random_forest",
    "random_forest_regressor",
    "gradient_boosting",
    "ridge",
    "knn",
    "mlp",
    "calibrated",
    "voting",
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", KINDS)
def test_a_fitted_model_round_trips(kind: str) -> None:
    import skops.io as sio

    X, y = _data()
    model = _model(kind).fit(X, y)
    if kind == "grid_best":
        model = model.best_estimator_
    loaded = loads(sio.dumps(model), source=kind)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_logged_and_packaged_forest_loads_back(tmp_path) -> None:
    X, y = _data()
    model = _model("random_forest").fit(X, y)
    with ml.start_run("forest") as run:
        ml.log_model(model, input_example=X.head())
    np.testing.assert_array_equal(ml.load_model(run.run_id).predict(X), model.predict(X))
    bundle = ml.package(run, tmp_path / "b", onnx=False, archive=True)
    complete = X.dropna()
    with ml.load_bundle(tmp_path / "b.tar.gz") as again:
        np.testing.assert_array_equal(again.predict(complete), model.predict(complete))
    assert "sklearn.tree._tree.Tree" in bundle.metadata["model"]["types"]
