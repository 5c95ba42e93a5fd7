"""A metric flush that fails keeps its rows: nothing logged is lost, nothing is stored twice.

The failure is real: another connection holds the database's write lock and
the store gives up quickly (a short busy timeout and two retries instead of 30 s).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import mlops_lab as ml
from mlops_lab.errors import StoreError
from mlops_lab.store import Store, connection


@contextmanager
def write_locked(store: Store) -> Iterator[None]:
    """Hold ``store``'s write lock from another connection, as a second writer would."""
    store.db.raw.execute("PRAGMA busy_timeout = 20")
    other = sqlite3.connect(store.db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.db.raw.execute(f"PRAGMA busy_timeout = {connection.BUSY_TIMEOUT_MS}")


@pytest.fixture(autouse=True)
def give_up_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "_RETRIES", 2)


def history(store: Store, run_id: str, key: str) -> list[tuple[int, float]]:
    return [(step, value) for step, value, _ in store.metric_history(run_id, key)]


def test_a_failed_flush_keeps_every_value_for_the_next(store: Store) -> None:
    sess = ml.default_project()
    run = ml.start_run("locked")
    for step in range(10):
        ml.log_metric("loss", 1.0 / (step + 1))
    with write_locked(store):
        with pytest.raises(StoreError, match="database is locked"):
            sess.flush()
        for step in range(10, 15):
            ml.log_metric("loss", 1.0 / (step + 1))
        with pytest.raises(StoreError, match="database is locked"):
            sess.flush()
        with sess._flush_lock:  # not while the background thread holds the rows
            assert [r[3] for r in sess._pending] == list(range(15))
    sess.flush()
    assert sess._pending == []
    assert history(store, run.run_id, "loss") == [(s, 1.0 / (s + 1)) for s in range(15)]
    sess.flush()
    ml.end_run()
    assert history(store, run.run_id, "loss") == [(s, 1.0 / (s + 1)) for s in range(15)]
    assert ml.get_run("locked").metrics == {"loss": 1.0 / 15}


@pytest.mark.parametrize("locked_first", [False, True], ids=["written-then-failed", "failed-first"])
def test_only_the_rows_of_the_failed_store_are_retried(
    store: Store, tmp_path: Path, locked_first: bool
) -> None:
    sess = ml.default_project()
    here = ml.start_run("here")
    other = ml.Project(tmp_path / "elsewhere" / ".mlops")
    elsewhere_store = other.store
    elsewhere = other.start_run("elsewhere")
    targets = [(elsewhere, elsewhere_store), (here, store)]
    if not locked_first:
        targets.reverse()
    for step in range(3):
        for run, _ in targets:
            sess.buffer_metric(run, "acc", step / 10, None)  # one buffer, two stores
    with write_locked(elsewhere_store):
        with pytest.raises(StoreError, match="database is locked"):
            sess.flush()
        expected = {(elsewhere.run_id, s) for s in range(3)}
        if locked_first:  # the other store was not tried: its rows wait too
            expected |= {(here.run_id, s) for s in range(3)}
        with sess._flush_lock:
            pending = [(r[0], r[3]) for r in sess._pending]
        assert set(pending) == expected and len(pending) == len(expected)
    sess.flush()
    for run, st in targets:
        assert history(st, run.run_id, "acc") == [(s, s / 10) for s in range(3)]
    ml.end_run()
    other.close()
