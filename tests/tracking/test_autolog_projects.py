"""Autolog per project: each fit lands in the store of the project it belongs to.

The patched scikit-learn methods are one table per process; the settings are
each project's. Two projects in two folders, real fits, and the SQLite files
read back with the stdlib.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import mlops_lab as ml
from mlops_lab.project import current_default, set_default_root
from mlops_lab.tracking.autolog import patches

ORIGINAL_FIT = LogisticRegression.fit


def _run_names(root: Path) -> list[str]:
    """The names of the runs in the SQLite file of the store at ``root`` (none if absent)."""
    db = root / "mlops.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return sorted(name for (name,) in conn.execute("SELECT name FROM runs"))


@pytest.fixture
def two(tmp_path: Path) -> Iterator[tuple[ml.Project, ml.Project]]:
    a = ml.Project(tmp_path / "a" / ".mlops")
    b = ml.Project(tmp_path / "b" / ".mlops")
    yield a, b
    a.close()
    b.close()
    ml.autolog(False)
    patches().unpatch()


def _pipeline() -> Pipeline:
    return Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])


def test_fits_go_to_the_project_that_turned_autolog_on(two, store_root: Path) -> None:
    a, b = two
    X, y = load_iris(return_X_y=True)
    a.autolog(max_tuning_runs=2)

    _pipeline().fit(X, y)
    GridSearchCV(LogisticRegression(max_iter=1000), {"C": [0.1, 1.0, 10.0]}, cv=3).fit(X, y)
    a.flush()

    assert _run_names(a.root) == [
        "GridSearchCV",
        "GridSearchCV candidate 1",
        "GridSearchCV candidate 2",
        "Pipeline",
    ]
    assert _run_names(b.root) == []
    assert _run_names(store_root) == []  # the default project's store
    assert current_default() is None  # nor was a default project made
    search = a.get_run("GridSearchCV")
    assert search.params["best_C"] in (0.1, 1.0, 10.0)
    assert "best_cv_score" in search.metrics
    assert len(search.children) == 2
    assert "training_accuracy" in a.get_run("Pipeline").metrics


def test_the_project_with_an_active_run_gets_the_fit_else_the_latest_to_turn_it_on(
    two,
) -> None:
    a, b = two
    X, y = load_iris(return_X_y=True)
    a.autolog()
    b.autolog()  # b turned it on last

    with a.start_run("mine") as run:
        LogisticRegression(max_iter=1000).fit(X, y)
    LogisticRegression(max_iter=1000).fit(X, y)  # no run open anywhere: b

    assert _run_names(a.root) == ["mine"]
    assert "training_accuracy" in run.metrics
    assert _run_names(b.root) == ["LogisticRegression"]


def test_turning_it_off_in_one_project_leaves_it_on_in_the_other(two) -> None:
    a, b = two
    X, y = load_iris(return_X_y=True)
    b.autolog()
    a.autolog()

    a.autolog(False)
    assert a.autolog_settings is None and b.autolog_settings is not None
    assert LogisticRegression.fit is not ORIGINAL_FIT  # still patched for b
    _pipeline().fit(X, y)
    assert _run_names(a.root) == []
    assert _run_names(b.root) == ["Pipeline"]

    b.autolog(False)
    assert LogisticRegression.fit is ORIGINAL_FIT  # no project has it on: put back
    _pipeline().fit(X, y)
    assert _run_names(b.root) == ["Pipeline"]


def test_each_thread_logs_to_the_project_of_its_own_active_run(two, store_root: Path) -> None:
    a, b = two
    X, y = load_iris(return_X_y=True)
    a.autolog()
    b.autolog()
    errors: list[BaseException] = []

    def in_a() -> None:
        try:
            with a.start_run("thread run in a"):
                _pipeline().fit(X, y)
        except BaseException as exc:
            errors.append(exc)

    def no_run() -> None:
        try:
            LogisticRegression(max_iter=1000).fit(X, y)
        except BaseException as exc:
            errors.append(exc)

    with a.start_run("main run in a"):
        # The main thread's run is not the worker's: a thread starts with none.
        worker = threading.Thread(target=no_run)
        worker.start()
        worker.join()
    worker = threading.Thread(target=in_a)
    worker.start()
    worker.join()

    assert errors == []
    assert _run_names(a.root) == ["main run in a", "thread run in a"]
    assert "training_accuracy" in a.get_run("thread run in a").metrics
    assert _run_names(b.root) == ["LogisticRegression"]
    assert _run_names(store_root) == []


def test_a_closed_project_gets_no_more_fits(two) -> None:
    a, b = two
    X, y = load_iris(return_X_y=True)
    b.autolog()
    a.autolog()
    a.close()
    LogisticRegression(max_iter=1000).fit(X, y)
    assert _run_names(a.root) == []
    assert _run_names(b.root) == ["LogisticRegression"]
    with pytest.raises(ml.MlopsLabError, match="closed"):
        a.autolog()


def test_ml_autolog_is_the_default_projects_and_follows_a_new_default_root(
    tmp_path: Path, store_root: Path
) -> None:
    X, y = load_iris(return_X_y=True)
    other = tmp_path / "elsewhere" / ".mlops"
    try:
        ml.autolog()
        LogisticRegression(max_iter=1000).fit(X, y)
        set_default_root(other)  # what %config MlopsMagics.store does
        _pipeline().fit(X, y)
        ml.flush()
        assert _run_names(store_root) == ["LogisticRegression"]
        assert _run_names(other) == ["Pipeline"]
    finally:
        ml.autolog(False)
    assert LogisticRegression.fit is ORIGINAL_FIT
