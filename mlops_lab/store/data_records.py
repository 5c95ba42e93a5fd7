"""Validation results and drift scores in the store (the SQL of the data plane).

Functions take a :class:`~mlops_lab.store.Store`; tables ``validations`` and
``drift_results`` come from schema version 2. Drift results are one row per
column per comparison, so a column's drift can be trended over time.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def put_validation(
    store: Store,
    *,
    digest: str,
    passed: bool,
    report: Mapping[str, Any],
    run_id: str | None = None,
    schema_digest: str | None = None,
) -> str:
    """Keep one validation result; returns its id."""
    validation_id = uuid.uuid4().hex
    store.db.write(
        lambda c: c.execute(
            "INSERT INTO validations (validation_id, run_id, digest, schema_digest, passed, "
            "n_rows, n_failed_checks, n_failed_rows, report, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                validation_id,
                run_id,
                digest,
                schema_digest,
                int(bool(passed)),
                report.get("n_rows"),
                len(report.get("failures", [])),
                report.get("n_failed_rows"),
                json.dumps(report, default=str),
                time.time(),
            ),
        )
    )
    return validation_id


def validations(
    store: Store, *, digest: str | None = None, run_id: str | None = None
) -> list[dict[str, Any]]:
    """Stored validations, newest first, optionally of one dataset or run."""
    where, params = [], []
    if digest is not None:
        where.append("digest = ?")
        params.append(digest)
    if run_id is not None:
        where.append("run_id = ?")
        params.append(run_id)
    sql = "SELECT * FROM validations" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.db.read_dicts(sql + " ORDER BY created DESC", tuple(params))
    for row in rows:
        row["passed"] = bool(row["passed"])
        row["report"] = json.loads(row["report"]) if row["report"] else None
    return rows


def put_drift(
    store: Store,
    rows: Iterable[Mapping[str, Any]],
    *,
    reference_digest: str | None,
    current_digest: str | None,
    run_id: str | None = None,
) -> str:
    """Keep one drift comparison (one row per column: column, test, statistic,
    p_value, threshold, drifted); returns the comparison's id."""
    drift_id = uuid.uuid4().hex
    now = time.time()
    values = [
        (
            drift_id,
            run_id,
            reference_digest,
            current_digest,
            r["column"],
            r["test"],
            _finite(r.get("statistic")),
            _finite(r.get("p_value")),
            _finite(r.get("threshold")),
            int(bool(r.get("drifted"))),
            now,
        )
        for r in rows
    ]
    if values:
        store.db.write(
            lambda c: c.executemany(
                "INSERT INTO drift_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
            )
        )
    return drift_id


def drift_history(
    store: Store,
    *,
    column: str | None = None,
    reference_digest: str | None = None,
    run_id: str | None = None,
) -> list[dict[str, Any]]:
    """Stored drift scores, oldest first, for trending a column over time."""
    where, params = [], []
    for key, value in (
        ("column", column),
        ("reference_digest", reference_digest),
        ("run_id", run_id),
    ):
        if value is not None:
            where.append(f'"{key}" = ?')
            params.append(value)
    sql = "SELECT * FROM drift_results" + (" WHERE " + " AND ".join(where) if where else "")
    rows = store.db.read_dicts(sql + " ORDER BY created, rowid", tuple(params))
    for row in rows:
        row["drifted"] = bool(row["drifted"])
    return rows
