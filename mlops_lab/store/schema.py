"""The store's schema and its forward migrations.

The schema version lives in ``PRAGMA user_version``. Each entry of
:data:`MIGRATIONS` takes the database from version ``i`` to ``i + 1``; opening
a store applies the missing ones in one transaction, so a database is either
at the old version or the new one, never in between. A database whose version
is higher than this code knows is refused rather than guessed at.

sqlite-utils is used here, and only here, to create and change tables: it is
imported when a migration is needed, not on every open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

# Tells mlops-lab databases apart from other SQLite files (PRAGMA application_id).
APPLICATION_ID = 0x4D4C4F50  # "MLOP"


def _v1(db) -> None:
    db["experiments"].create(
        {"experiment_id": int, "name": str, "created": float},
        pk="experiment_id",
        not_null={"name", "created"},
    )
    db["experiments"].create_index(["name"], unique=True)
    db["environments"].create(
        {"env_id": str, "python": str, "platform": str, "packages": str, "created": float},
        pk="env_id",
    )
    db["runs"].create(
        {
            "run_id": str,
            "name": str,
            "experiment_id": int,
            "status": str,
            "start_time": float,
            "end_time": float,
            "parent_id": str,
            "source_type": str,
            "source_path": str,
            "git_commit": str,
            "git_branch": str,
            "git_dirty": int,
            "git_root": str,
            "host": str,
            "user": str,
            "pid": int,
            "pid_start": str,
            "python": str,
            "env_id": str,
            "heartbeat": float,
        },
        pk="run_id",
        not_null={"status", "start_time", "experiment_id"},
        foreign_keys=[("experiment_id", "experiments"), ("env_id", "environments")],
    )
    db["runs"].create_index(["experiment_id", "start_time"])
    db["runs"].create_index(["status"])
    db["runs"].create_index(["parent_id"])
    db["runs"].create_index(["name"])
    db["params"].create(
        {"run_id": str, "key": str, "value": str, "vtype": str},
        pk=("run_id", "key"),
        not_null={"value", "vtype"},
    )
    db["params"].create_index(["key", "value"])
    # Full history; value NULL stands for NaN (SQLite turns NaN into NULL).
    db["metrics"].create(
        {"run_id": str, "key": str, "value": float, "step": int, "timestamp": float},
        not_null={"step", "timestamp"},
    )
    db["metrics"].create_index(["run_id", "key", "step"])
    # The value with the highest step (then latest timestamp) per run and key.
    db["latest_metrics"].create(
        {"run_id": str, "key": str, "value": float, "step": int, "timestamp": float},
        pk=("run_id", "key"),
    )
    db["latest_metrics"].create_index(["key", "value"])
    db["tags"].create({"run_id": str, "key": str, "value": str}, pk=("run_id", "key"))
    db["tags"].create_index(["key", "value"])
    db["cells"].create(
        {
            "run_id": str,
            "seq": int,
            "execution_count": int,
            "source": str,
            "status": str,
            "error_name": str,
            "error_value": str,
            "started": float,
            "duration_s": float,
            "kind": str,
        },
        pk=("run_id", "seq"),
    )
    db["datasets"].create(
        {
            "digest": str,
            "name": str,
            "n_rows": int,
            "n_cols": int,
            "schema": str,
            "profile": str,
            "source": str,
            "created": float,
        },
        pk="digest",
    )
    db["run_inputs"].create(
        {"run_id": str, "digest": str, "name": str, "role": str, "created": float},
        pk=("run_id", "digest", "role"),
    )
    db["run_inputs"].create_index(["digest"])
    db["artifacts"].create(
        {
            "run_id": str,
            "path": str,
            "digest": str,
            "size": int,
            "kind": str,
            "meta": str,
            "created": float,
        },
        pk=("run_id", "path"),
    )
    db["artifacts"].create_index(["digest"])


def _v2(db) -> None:
    # Data plane: one row per validation of a dataset, one row per column per drift test.
    db["validations"].create(
        {
            "validation_id": str,
            "run_id": str,
            "digest": str,
            "schema_digest": str,
            "passed": int,
            "n_rows": int,
            "n_failed_checks": int,
            "n_failed_rows": int,
            "report": str,
            "created": float,
        },
        pk="validation_id",
        not_null={"digest", "passed", "created"},
    )
    db["validations"].create_index(["digest", "created"])
    db["validations"].create_index(["run_id"])
    db["drift_results"].create(
        {
            "drift_id": str,
            "run_id": str,
            "reference_digest": str,
            "current_digest": str,
            "column": str,
            "test": str,
            "statistic": float,
            "p_value": float,
            "threshold": float,
            "drifted": int,
            "created": float,
        },
        pk=("drift_id", "column"),
        not_null={"column", "test", "drifted", "created"},
    )
    db["drift_results"].create_index(["reference_digest", "column", "created"])
    db["drift_results"].create_index(["run_id"])


def _predictions(db) -> None:
    """The model server's prediction log and the ground truth attached to it later."""
    db["predictions"].create(
        {
            "request_id": str,
            "model": str,
            "version": str,
            "run_id": str,
            "created": float,
            "protocol": str,
            "status": int,
            "latency_ms": float,
            "n_rows": int,
            "inputs": str,
            "outputs": str,
            "error": str,
            "runtime": str,
            "rss_bytes": int,
        },
        pk="request_id",
        not_null={"model", "created", "status"},
    )
    db["predictions"].create_index(["model", "created"])
    db["prediction_feedback"].create(
        {"request_id": str, "label": str, "created": float},
        pk="request_id",
        not_null={"label", "created"},
    )


def _registry(db) -> None:
    """The model registry: named models, their versions, aliases, and what became of them."""
    db["registered_models"].create(
        {"name": str, "description": str, "created": float},
        pk="name",
        not_null={"created"},
    )
    db["model_versions"].create(
        {
            "name": str,
            "version": int,
            "run_id": str,
            "model": str,
            "digest": str,
            "metrics": str,
            "meta": str,
            "created": float,
        },
        pk=("name", "version"),
        not_null={"run_id", "model", "digest", "created"},
    )
    db["model_versions"].create_index(["run_id", "model"])
    db["model_aliases"].create(
        {"name": str, "alias": str, "version": int, "updated": float},
        pk=("name", "alias"),
        not_null={"version", "updated"},
    )
    # Packages, deployments, gate decisions: one row per event of a model version.
    db["model_events"].create(
        {
            "name": str,
            "version": int,
            "kind": str,
            "target": str,
            "meta": str,
            "created": float,
        },
        not_null={"name", "version", "kind", "created"},
    )
    db["model_events"].create_index(["name", "version"])


def _run_summaries(db) -> None:
    """Per-run JSON summaries of params, latest metrics and tags (see :mod:`.summaries`)."""
    from .summaries import COLUMNS, refresh

    for column in COLUMNS:
        db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT")
    run_ids = [r[0] for r in db.execute("SELECT run_id FROM runs").fetchall()]
    for column in COLUMNS:
        refresh(db.conn, run_ids, column)


def _prediction_client_ids(db) -> None:
    """The id a client sent with a request, kept beside the server's own key.

    Idempotent (the column is added only when missing), so it stays correct
    whatever other migrations come before or after it.
    """
    columns = {row[1] for row in db.execute("PRAGMA table_info(predictions)").fetchall()}
    if "client_request_id" not in columns:
        db.execute("ALTER TABLE predictions ADD COLUMN client_request_id TEXT")


def _cell_ids(db) -> None:
    """The front-end's id of each captured cell, so a re-executed cell is known as one."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(cells)").fetchall()}
    if "cell_id" not in columns:
        db.execute("ALTER TABLE cells ADD COLUMN cell_id TEXT")


def _metric_series(db) -> None:
    """Metric history keyed by an integer per (run, key) (see :mod:`.metric_values`).

    Idempotent, like the migrations before it."""
    from .metric_values import migrate as to_series

    to_series(db.conn)


MIGRATIONS: tuple[Callable, ...] = (
    _v1,
    _v2,
    _predictions,
    _registry,
    _run_summaries,
    _prediction_client_ids,
    _cell_ids,
    _metric_series,
)
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> None:
    """Bring ``conn``'s database to :data:`SCHEMA_VERSION` (the caller holds a write lock)."""
    import sqlite_utils

    version = conn.execute("PRAGMA user_version").fetchone()[0]
    db = sqlite_utils.Database(conn)
    for step in MIGRATIONS[version:]:
        step(db)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
