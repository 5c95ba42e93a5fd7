"""Models logged on scikit-learn's bundled datasets, for the bundle tests."""

from __future__ import annotations

import pytest

import mlops_lab as ml


def log_breast_cancer_model():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with ml.start_run("breast-cancer-lr") as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        ml.log_model(model, input_example=X.head())
        ml.log_metric("accuracy", float(model.score(X, y)))
    return run, model, X, y


def iris_with_category():
    """Iris with a text column (petal size as 'small'/'medium'/'large') and a target."""
    import pandas as pd
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    X["petal_size"] = pd.cut(
        X["petal_length"], [0, 2.5, 5.0, 10], labels=["small", "medium", "large"]
    ).astype(str)
    X = X.drop(columns=["petal_length"])
    return X, y


def log_iris_model():
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = iris_with_category()
    numeric = ["sepal_length", "sepal_width", "petal_width"]
    pre = ColumnTransformer(
        [("num", StandardScaler(), numeric), ("cat", OneHotEncoder(), ["petal_size"])]
    )
    with ml.start_run("iris-mixed") as run:
        model = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(X, y)
        ml.log_model(model, input_example=X.head())
    return run, model, X, y


@pytest.fixture
def cancer_run():
    return log_breast_cancer_model()


@pytest.fixture
def iris_run():
    return log_iris_model()
