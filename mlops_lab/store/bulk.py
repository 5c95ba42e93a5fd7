"""Many finished runs written in one transaction: imports, fixtures, benchmarks.

:meth:`Store.insert_runs` takes what the tracking API would have written run
by run (the run row, its params, metric rows and tags) and writes it with one
``executemany`` per table, the summary objects of each run computed here
rather than read back, so a hundred thousand runs take seconds, not minutes.
The rows written are the same as those of ``create_run`` + ``log_params`` +
``end_run`` (a test compares the two runs tables).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import InvalidArgumentError
from . import metric_values

if TYPE_CHECKING:
    from .store import Store


class RunRows(NamedTuple):
    """One run to insert: its row, params, metric rows and tags.

    ``record`` maps column names of the runs table to values (``run_id``,
    ``experiment_id``, ``status`` and ``start_time`` at least); ``params`` are
    ``(key, value, vtype)`` as :meth:`Store.log_params` takes them; ``metrics``
    are ``(key, value, step, timestamp)``.
    """

    record: Mapping[str, Any]
    params: Sequence[tuple[str, str, str]] = ()
    metrics: Sequence[tuple[str, float, int, float]] = ()
    tags: Mapping[str, str] | None = None


_SUMMARY_COLUMNS = ("params_json", "metrics_json", "tags_json")


def _dumps(obj: dict[str, Any]) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def insert_runs(store: Store, runs: Iterable[RunRows]) -> int:
    """Insert ``runs`` (none of which may exist yet) in one transaction; how many.

    Raises
    ------
    InvalidArgumentError
        When runs do not share one set of columns, or a run id is given twice
        or already in the store (nothing is written then).
    """
    from .query import convert_param

    batch = list(runs)
    if not batch:
        return 0
    columns = list(batch[0].record)
    if "run_id" not in columns:
        raise InvalidArgumentError("insert_runs: each record needs a 'run_id'")
    column_set = set(columns)
    run_rows: list[tuple] = []
    param_rows: list[tuple] = []
    metric_rows: list[tuple] = []
    latest_rows: list[tuple] = []
    tag_rows: list[tuple] = []
    for index, run in enumerate(batch):
        record = run.record
        if set(record) != column_set:
            raise InvalidArgumentError(
                f"insert_runs: run {index} ({record.get('run_id')!r}) has columns "
                f"{sorted(record)}, the first run has {sorted(columns)}"
            )
        run_id = record["run_id"]
        params: dict[str, Any] = {}
        for key, value, vtype in run.params:
            if key in params:
                raise InvalidArgumentError(f"insert_runs: run {run_id!r} has param {key!r} twice")
            params[key] = convert_param(value, vtype)
            param_rows.append((run_id, key, value, vtype))
        newest: dict[str, tuple] = {}
        for key, number, step, timestamp in run.metrics:
            row = (run_id, key, None if number != number else number, step, timestamp)
            metric_rows.append(row)
            prev = newest.get(key)
            if prev is None or step > prev[3] or (step == prev[3] and timestamp >= prev[4]):
                newest[key] = row
        latest_rows.extend(newest.values())
        metrics = {k: math.nan if r[2] is None else r[2] for k, r in sorted(newest.items())}
        tags = dict(run.tags or {})
        tag_rows.extend((run_id, k, v) for k, v in tags.items())
        summaries = (
            _dumps(dict(sorted(params.items()))) if params else None,
            _dumps(metrics) if metrics else None,
            _dumps(dict(sorted(tags.items()))) if tags else None,
        )
        run_rows.append((*(record[c] for c in columns), *summaries))
    all_columns = [c for c in columns if c not in _SUMMARY_COLUMNS] + list(_SUMMARY_COLUMNS)
    if len(all_columns) != len(columns) + len(_SUMMARY_COLUMNS):
        raise InvalidArgumentError("insert_runs: summary columns are computed, not given")
    marks = ", ".join("?" for _ in all_columns)
    run_sql = f"INSERT INTO runs ({', '.join(all_columns)}) VALUES ({marks})"

    def write(conn: sqlite3.Connection) -> None:
        known = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
        unknown = sorted(set(all_columns) - known)
        if unknown:
            raise InvalidArgumentError(
                f"insert_runs: the runs table has no column {unknown[0]!r}; "
                f"it has {', '.join(sorted(known))}"
            )
        try:
            conn.executemany(run_sql, run_rows)
        except sqlite3.IntegrityError as exc:
            raise InvalidArgumentError(
                f"insert_runs: a run id is given twice or is already in {store.root} ({exc})"
            ) from None
        # In key order, each B-tree grows at its end instead of at random pages.
        param_rows.sort()
        latest_rows.sort()
        tag_rows.sort()
        conn.executemany("INSERT INTO params VALUES (?, ?, ?, ?)", param_rows)
        metric_values.insert_new_runs(conn, metric_rows)
        conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?)", latest_rows)
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", tag_rows)

    # A page cache large enough for the secondary indexes while they grow (the default
    # 2 MB makes SQLite re-read index pages from the OS for every few rows).
    conn = store.db.raw
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]
    conn.execute(f"PRAGMA cache_size = {-min(1 << 20, max(2000, len(batch) * 3))}")
    try:
        store.db.write(write)
    finally:
        conn.execute(f"PRAGMA cache_size = {int(cache)}")
    return len(batch)
