"""The prediction log in SQL: what the model server answered, and the labels sent later.

The server writes batches of finished requests (one row per request, inputs
and outputs as JSON text) from a background thread; the monitor reads them
back by model name and time. A row's key ``request_id`` is always the
server's own id; the id a client sent (``client_request_id``) is kept beside
it, so no request can overwrite another's row. Ground truth arrives later by
either id and is kept in its own table, so a label may be recorded before its
request's row is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

COLUMNS = (
    "request_id",
    "client_request_id",
    "model",
    "version",
    "run_id",
    "created",
    "protocol",
    "status",
    "latency_ms",
    "n_rows",
    "inputs",
    "outputs",
    "error",
    "runtime",
    "rss_bytes",
)


def insert_predictions(store: Store, rows: Iterable[Mapping[str, Any]]) -> int:
    """Append prediction rows (dicts keyed by :data:`COLUMNS`) in one transaction.

    ``request_id`` is the server's key: a row whose key is already stored is
    not written again (the first one stays).
    """
    batch = [tuple(row.get(c) for c in COLUMNS) for row in rows]
    if not batch:
        return 0
    marks = ", ".join("?" for _ in COLUMNS)
    store.db.write(
        lambda c: c.executemany(
            f"INSERT OR IGNORE INTO predictions ({', '.join(COLUMNS)}) VALUES ({marks})", batch
        )
    )
    return len(batch)


def predictions(
    store: Store,
    model: str,
    *,
    since: float | None = None,
    until: float | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of ``model`` (oldest first), with the feedback ``label`` when one was sent.

    Feedback sent for the server's id wins over feedback sent for the client's id.
    """
    sql = (
        f"SELECT {', '.join('p.' + c for c in COLUMNS)}, COALESCE(f.label, g.label) "
        "FROM predictions p "
        "LEFT JOIN prediction_feedback f ON f.request_id = p.request_id "
        "LEFT JOIN prediction_feedback g ON g.request_id = p.client_request_id "
        "WHERE p.model = ?"
    )
    params: list[Any] = [model]
    if since is not None:
        sql += " AND p.created >= ?"
        params.append(since)
    if until is not None:
        sql += " AND p.created < ?"
        params.append(until)
    sql += " ORDER BY p.created"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(int(limit))
    rows = store.db.read(sql, params)
    out = []
    for row in rows:
        record = dict(zip((*COLUMNS, "label"), row, strict=True))
        if record["label"] is not None:
            record["label"] = json.loads(record["label"])
        out.append(record)
    return out


def served_models(store: Store) -> list[str]:
    """Names of the models that have logged predictions."""
    return [r[0] for r in store.db.read("SELECT DISTINCT model FROM predictions ORDER BY model")]


def set_feedback(store: Store, request_id: str, label: Any, *, now: float | None = None) -> None:
    """Record the ground truth of a request (a later call replaces the label)."""
    store.db.write(
        lambda c: c.execute(
            "INSERT OR REPLACE INTO prediction_feedback VALUES (?, ?, ?)",
            (request_id, json.dumps(label), now if now is not None else time.time()),
        )
    )
