"""Per-run JSON summaries of params, latest metrics and tags, for the runs table.

Each run row keeps three JSON objects (``params_json``, ``metrics_json``,
``tags_json``) rewritten inside every transaction that changes the run's
params, metrics or tags. The runs table then reads one text per run instead
of one row per value, and a single ``json.loads`` gives typed values.

The objects are written by Python's ``json`` (NaN and Infinity included, floats
by their shortest exact repr), not by SQLite's JSON functions, whose numbers
keep only 15 significant digits.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable
from types import MappingProxyType

COLUMNS = ("params_json", "metrics_json", "tags_json")

_SELECT = MappingProxyType(
    {
        "params_json": "SELECT key, value, vtype FROM params WHERE run_id = ?",
        "metrics_json": "SELECT key, value FROM latest_metrics WHERE run_id = ?",
        "tags_json": "SELECT key, value FROM tags WHERE run_id = ?",
    }
)


def _object(column: str, rows: list[tuple]) -> str:
    from .query import convert_param

    if column == "params_json":
        obj = {key: convert_param(value, vtype) for key, value, vtype in rows}
    elif column == "metrics_json":
        obj = {key: math.nan if value is None else value for key, value in rows}
    else:
        obj = dict(rows)
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def refresh(conn: sqlite3.Connection, run_ids: Iterable[str], column: str) -> None:
    """Rewrite ``column`` of each run in ``run_ids`` from its table (inside the caller's txn)."""
    select = _SELECT[column]
    updates = [
        (_object(column, conn.execute(select, (run_id,)).fetchall()), run_id)
        for run_id in set(run_ids)
    ]
    conn.executemany(f"UPDATE runs SET {column} = ? WHERE run_id = ?", updates)
