"""Metric history: one small integer per (run, key), and the values under it.

A run's metric history is the table a training loop writes to most: one row
per ``log_metric`` call. Each row used to carry its run id (32 characters)
and key, in the table and again in the ``(run_id, key, step)`` index that
reads a history back. Now ``metric_series`` gives each (run, key) pair a
``series_id`` once, and ``metric_values`` holds ``(series_id, value, step,
timestamp)`` rows with an index on ``(series_id, step)``: every row and
every index entry is a few integers and floats, which SQLite appends in
about half the time. The ``metrics`` view shows the rows as they were
(``run_id, key, value, step, timestamp``) to anyone reading the file with SQL.

Series ids belong to one store file: a merge gives the merged series ids of
its own (:func:`copy_from`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from operator import itemgetter
from typing import cast

# (run_id, key, value, step, timestamp), as the tracking API buffers them.
MetricRow = tuple[str, str, float | None, int, float]
_NEWEST = itemgetter(3, 4)  # the highest step, then the latest timestamp
_VALUE = itemgetter(2, 3, 4)  # what metric_values keeps of a row beside its series id

CREATE = (
    "CREATE TABLE metric_series (series_id INTEGER PRIMARY KEY, "
    "run_id TEXT NOT NULL, key TEXT NOT NULL)",
    "CREATE UNIQUE INDEX idx_metric_series_run_id_key ON metric_series (run_id, key)",
    "CREATE TABLE metric_values (series_id INTEGER NOT NULL, value FLOAT, "
    "step INTEGER NOT NULL, timestamp FLOAT NOT NULL)",
    "CREATE INDEX idx_metric_values_series_id_step ON metric_values (series_id, step)",
    "CREATE VIEW metrics AS SELECT s.run_id AS run_id, s.key AS key, v.value AS value, "
    "v.step AS step, v.timestamp AS timestamp "
    "FROM metric_values v JOIN metric_series s ON s.series_id = v.series_id",
)


def series_ids(
    conn: sqlite3.Connection, pairs: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """The ``series_id`` of each ``(run_id, key)``, made for those that have none (call
    inside a write transaction)."""
    ids: dict[tuple[str, str], int] = {}
    for run_id in {run_id for run_id, _ in pairs}:
        for key, series in conn.execute(
            "SELECT key, series_id FROM metric_series WHERE run_id = ?", (run_id,)
        ):
            ids[(run_id, key)] = series
    for pair in pairs:
        if pair not in ids:
            made = conn.execute("INSERT INTO metric_series (run_id, key) VALUES (?, ?)", pair)
            ids[pair] = cast(int, made.lastrowid)  # set by every INSERT of a row
    return ids


def insert(conn: sqlite3.Connection, rows: Sequence[MetricRow]) -> list[MetricRow]:
    """Append ``rows`` (inside a write transaction); return the newest row of each
    (run, key) among them: the one with the highest step, then the latest timestamp
    (the last logged of those that tie)."""
    groups: dict[tuple[str, str], list[MetricRow]] = {}
    for row in rows:
        pair = (row[0], row[1])
        group = groups.get(pair)
        if group is None:
            groups[pair] = [row]
        else:
            group.append(row)
    ids = series_ids(conn, list(groups))
    newest = []
    for pair, group in groups.items():
        # The series id, an integer this store made, stands for the run id and key.
        sql = f"INSERT INTO metric_values VALUES ({int(ids[pair])}, ?, ?, ?)"
        conn.executemany(sql, map(_VALUE, group))
        newest.append(max(reversed(group), key=_NEWEST))
    return newest


def insert_new_runs(conn: sqlite3.Connection, rows: list[MetricRow]) -> None:
    """Append the rows of runs that have no metric yet (runs just inserted), sorted by
    run, key and step so that each B-tree grows at its end; their series ids follow
    the store's last one."""
    rows.sort(key=lambda row: (row[0], row[1], row[3]))
    pairs = list(dict.fromkeys((row[0], row[1]) for row in rows))
    last = conn.execute("SELECT coalesce(max(series_id), 0) FROM metric_series").fetchone()[0]
    ids = {pair: last + 1 + i for i, pair in enumerate(pairs)}
    conn.executemany(
        "INSERT INTO metric_series (series_id, run_id, key) VALUES (?, ?, ?)",
        [(ids[pair], *pair) for pair in pairs],
    )
    conn.executemany(
        "INSERT INTO metric_values VALUES (?, ?, ?, ?)",
        [(ids[(row[0], row[1])], row[2], row[3], row[4]) for row in rows],
    )


# ``(step, value, timestamp)`` of one run's metric (run_id, key), by step, in the order logged.
HISTORY = (
    "SELECT v.step, v.value, v.timestamp FROM metric_series s "
    "JOIN metric_values v ON v.series_id = s.series_id "
    "WHERE s.run_id = ? AND s.key = ? ORDER BY v.step, v.timestamp, v.rowid"
)
# The metric keys a run (run_id) has values of, in order.
KEYS = (
    "SELECT key FROM metric_series s WHERE run_id = ? AND EXISTS "
    "(SELECT 1 FROM metric_values v WHERE v.series_id = s.series_id) ORDER BY key"
)


def migrate(conn: sqlite3.Connection) -> None:
    """From the ``metrics`` table of earlier stores to series and values, in the order
    the rows were written. Idempotent: a store that has them already is left as it is."""
    kind = conn.execute("SELECT type FROM sqlite_master WHERE name = 'metrics'").fetchone()
    if kind is not None and kind[0] == "view":
        return
    for statement in CREATE[:4]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO metric_series (run_id, key) "
        "SELECT DISTINCT run_id, key FROM metrics ORDER BY run_id, key"
    )
    conn.execute(
        "INSERT INTO metric_values (series_id, value, step, timestamp) "
        "SELECT s.series_id, m.value, m.step, m.timestamp FROM metrics m "
        "JOIN metric_series s ON s.run_id = m.run_id AND s.key = m.key ORDER BY m.rowid"
    )
    conn.execute("DROP TABLE metrics")
    conn.execute(CREATE[4])


def copy_from(conn: sqlite3.Connection, schema: str, tables: set[str]) -> int:
    """Copy the metric values of the attached store ``schema`` that this one lacks (the
    same series, step, timestamp and value); return how many. ``tables`` are that
    store's tables: series and values, or an earlier store's ``metrics`` table."""
    if "metric_series" in tables and "metric_values" in tables:
        conn.execute(
            "INSERT OR IGNORE INTO main.metric_series (run_id, key) "
            f"SELECT run_id, key FROM {schema}.metric_series ORDER BY series_id"
        )
        source = (
            f"SELECT s.run_id, s.key, v.value, v.step, v.timestamp, v.rowid AS seq "
            f"FROM {schema}.metric_values v JOIN {schema}.metric_series s "
            "ON s.series_id = v.series_id"
        )
    elif "metrics" in tables:
        conn.execute(
            "INSERT OR IGNORE INTO main.metric_series (run_id, key) "
            f"SELECT DISTINCT run_id, key FROM {schema}.metrics ORDER BY run_id, key"
        )
        source = f"SELECT run_id, key, value, step, timestamp, rowid AS seq FROM {schema}.metrics"
    else:
        return 0
    return conn.execute(
        "INSERT INTO main.metric_values (series_id, value, step, timestamp) "
        f"SELECT ms.series_id, o.value, o.step, o.timestamp FROM ({source}) o "
        "JOIN main.metric_series ms ON ms.run_id = o.run_id AND ms.key = o.key "
        "WHERE NOT EXISTS (SELECT 1 FROM main.metric_values m WHERE m.series_id = ms.series_id "
        "AND m.step IS o.step AND m.timestamp IS o.timestamp AND m.value IS o.value) "
        "ORDER BY o.seq"
    ).rowcount
