"""Fixtures for the attack tests; the forging helpers are in ``forgery.py``."""

from __future__ import annotations

import pytest

import mlops_lab as ml


@pytest.fixture
def iris_run():
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    with ml.start_run("iris") as run:
        ml.log_model(LogisticRegression(max_iter=300).fit(X, y), input_example=X.head())
    return run
