"""Metric history under series ids: the order and the latest value as logged, stores
from before series ids migrated and merged without losing a row."""

from __future__ import annotations

import math
import sqlite3
from pathlib import Path

import sqlite_utils

from mlops_lab.store import Store
from mlops_lab.store.merge import merge_store
from mlops_lab.store.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

A, B = "a" * 32, "b" * 32
# (run_id, key, value, step, timestamp): two runs, two keys, interleaved; steps out of
# order, a NaN (NULL), and two values at the same step and timestamp.
ROWS = [
    (A, "loss", 0.9, 0, 10.0),
    (A, "acc", 0.1, 0, 10.0),
    (B, "loss", 0.8, 0, 10.5),
    (A, "loss", 0.5, 2, 11.0),
    (A, "loss", 0.7, 1, 12.0),
    (A, "acc", None, 1, 12.0),
    (B, "loss", 0.6, 1, 13.0),
    (B, "loss", 0.4, 1, 13.0),
]


def _history(rows, run_id: str, key: str) -> list[tuple]:
    mine = [(i, r) for i, r in enumerate(rows) if r[0] == run_id and r[1] == key]
    mine.sort(key=lambda item: (item[1][3], item[1][4], item[0]))
    return [(r[3], math.nan if r[2] is None else r[2], r[4]) for _, r in mine]


def _same(got: list[tuple], expected: list[tuple]) -> bool:
    def norm(rows):
        return [
            tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in r) for r in rows
        ]

    return norm(got) == norm(expected)


def _old_store(root: Path, rows: list[tuple]) -> Path:
    """A store as the release before metric series wrote it, with ``rows`` in its
    ``metrics`` table (in that order)."""
    root.mkdir(parents=True)
    conn = sqlite3.connect(root / "mlops.db")
    db = sqlite_utils.Database(conn)
    before = MIGRATIONS.index(next(m for m in MIGRATIONS if m.__name__ == "_metric_series"))
    for step in MIGRATIONS[:before]:
        step(db)
    conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?)", rows)
    conn.execute(f"PRAGMA user_version = {before}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.commit()
    conn.close()
    return root


def test_history_keeps_the_order_logged_and_the_latest_value_is_the_highest_step(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / ".mlops")
    store.log_metrics(ROWS[:5])
    store.log_metrics(ROWS[5:])  # a second flush: the series exist
    for run_id, key in [(A, "loss"), (A, "acc"), (B, "loss")]:
        assert _same(store.metric_history(run_id, key), _history(ROWS, run_id, key))
    assert store.metric_keys(A) == ["acc", "loss"]
    assert store.latest_metrics(A) == {"acc": store.latest_metrics(A)["acc"], "loss": 0.5}
    assert math.isnan(store.latest_metrics(A)["acc"])  # step 1, logged as NaN
    assert store.latest_metrics(B) == {"loss": 0.4}  # the last logged of a tie
    # Read with SQL, the rows are those logged.
    seen = store.db.read("SELECT run_id, key, value, step, timestamp FROM metrics")
    assert sorted(seen, key=repr) == sorted(ROWS, key=repr)


def test_a_store_from_before_metric_series_keeps_every_row_in_order(tmp_path: Path) -> None:
    root = _old_store(tmp_path / ".mlops", ROWS)
    store = Store(root)
    assert store.db.read_one("PRAGMA user_version")[0] == SCHEMA_VERSION
    for run_id, key in [(A, "loss"), (A, "acc"), (B, "loss")]:
        assert _same(store.metric_history(run_id, key), _history(ROWS, run_id, key))
    assert store.db.read_one("SELECT count(*) FROM metrics")[0] == len(ROWS)
    store.log_metrics([(A, "loss", 0.3, 3, 20.0)])  # logging goes on in the same series
    assert store.metric_history(A, "loss")[-1] == (3, 0.3, 20.0)


def test_a_merge_maps_series_to_this_stores_own_and_adds_nothing_the_second_time(
    tmp_path: Path,
) -> None:
    mine = Store(tmp_path / "mine" / ".mlops")
    mine.log_metrics([(B, "acc", 0.2, 0, 1.0), (A, "acc", 0.1, 0, 10.0)])  # series 1 and 2 here
    theirs = Store(tmp_path / "theirs" / ".mlops")
    theirs.log_metrics(ROWS)
    old = _old_store(tmp_path / "old" / ".mlops", [(B, "loss", 0.1, 5, 30.0), *ROWS[:2]])

    merge_store(mine, theirs.root)
    merge_store(mine, old)
    after = mine.db.read_one("SELECT count(*) FROM metrics")[0]
    merge_store(mine, theirs.root)
    merge_store(mine, old)

    # Their (A, acc) at step 0 is the row mine has; the old store's first two are theirs.
    assert mine.db.read_one("SELECT count(*) FROM metrics")[0] == after == 2 + len(ROWS) - 1 + 1
    assert _same(mine.metric_history(A, "loss"), _history(ROWS, A, "loss"))
    expected_b = _history([*ROWS, (B, "loss", 0.1, 5, 30.0)], B, "loss")
    assert _same(mine.metric_history(B, "loss"), expected_b)
    assert mine.metric_history(B, "acc") == [(0, 0.2, 1.0)]
    assert _same(mine.metric_history(A, "acc"), [(0, 0.1, 10.0), (1, math.nan, 12.0)])


def test_the_migration_run_again_changes_nothing(tmp_path: Path) -> None:
    root = _old_store(tmp_path / ".mlops", ROWS)
    store = Store(root)
    before = store.db.read("SELECT * FROM metric_values ORDER BY rowid")
    conn = sqlite3.connect(root / "mlops.db")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    conn.commit()
    conn.close()
    again = Store(root)
    assert again.db.read("SELECT * FROM metric_values ORDER BY rowid") == before
    assert _same(again.metric_history(A, "loss"), _history(ROWS, A, "loss"))
