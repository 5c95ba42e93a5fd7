"""The registry's records in SQL: model names, versions, aliases, model events.

The model registry (:mod:`mlops_lab.registry`) decides what a reference means
and what may be registered; this module only keeps and reads the rows. A new
version number and its alias are written in one transaction, so two
pipelines registering the same name at once get two distinct versions.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .store import Store

_VERSION_COLUMNS = ("name", "version", "run_id", "model", "digest", "metrics", "meta", "created")


def _version_dict(row: tuple, aliases: list[str]) -> dict[str, Any]:
    out = dict(zip(_VERSION_COLUMNS, row, strict=True))
    out["metrics"] = json.loads(out["metrics"] or "{}")
    out["meta"] = json.loads(out["meta"] or "{}")
    out["aliases"] = aliases
    return out


def add_version(
    store: Store,
    name: str,
    *,
    run_id: str,
    model: str,
    digest: str,
    metrics: Mapping[str, float],
    meta: Mapping[str, Any] | None = None,
    aliases: tuple[str, ...] = (),
) -> int:
    """Register the next version of ``name`` (created on first use); return its number.

    Each alias in ``aliases`` is moved to the new version in the same transaction.
    """
    now = time.time()
    clean = {k: (None if v != v else v) for k, v in metrics.items()}  # NaN -> null

    def insert(conn) -> int:
        conn.execute(
            "INSERT OR IGNORE INTO registered_models (name, created) VALUES (?, ?)", (name, now)
        )
        version = conn.execute(
            "SELECT coalesce(max(version), 0) + 1 FROM model_versions WHERE name = ?", (name,)
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO model_versions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                version,
                run_id,
                model,
                digest,
                json.dumps(clean, sort_keys=True),
                json.dumps(dict(meta or {}), sort_keys=True),
                now,
            ),
        )
        for alias in aliases:
            conn.execute(
                "INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?, ?)",
                (name, alias, version, now),
            )
        return version

    return store.db.write(insert)


def model_names(store: Store) -> list[dict[str, Any]]:
    """One row per registered model: latest version, count, aliases, created, updated."""
    rows = store.db.read(
        "SELECT m.name, m.created, m.description, max(v.version), count(v.version), "
        "max(v.created) FROM registered_models m "
        "LEFT JOIN model_versions v ON v.name = m.name GROUP BY m.name ORDER BY m.name"
    )
    aliases = all_aliases(store)
    return [
        {
            "name": name,
            "latest_version": latest,
            "versions": count,
            "aliases": {a: v for (n, a), v in aliases.items() if n == name},
            "description": description,
            "created": created,
            "updated": updated,
        }
        for name, created, description, latest, count, updated in rows
    ]


def has_model(store: Store, name: str) -> bool:
    return store.db.read_one("SELECT 1 FROM registered_models WHERE name = ?", (name,)) is not None


def all_aliases(store: Store) -> dict[tuple[str, str], int]:
    return {
        (n, a): v
        for n, a, v in store.db.read(
            "SELECT name, alias, version FROM model_aliases ORDER BY name, alias"
        )
    }


def aliases_of(store: Store, name: str) -> dict[int, list[str]]:
    """``{version: [alias, ...]}`` of a model."""
    out: dict[int, list[str]] = {}
    for alias, version in store.db.read(
        "SELECT alias, version FROM model_aliases WHERE name = ? ORDER BY alias", (name,)
    ):
        out.setdefault(version, []).append(alias)
    return out


def versions(store: Store, name: str) -> list[dict[str, Any]]:
    """Every version of ``name``, newest first."""
    rows = store.db.read(
        f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions WHERE name = ? "
        "ORDER BY version DESC",
        (name,),
    )
    aliases = aliases_of(store, name)
    return [_version_dict(r, aliases.get(r[1], [])) for r in rows]


def version(store: Store, name: str, number: int | None = None) -> dict[str, Any] | None:
    """Version ``number`` of ``name`` (``None``: the latest), or ``None`` if there is none."""
    if number is None:
        row = store.db.read_one(
            f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions WHERE name = ? "
            "ORDER BY version DESC LIMIT 1",
            (name,),
        )
    else:
        row = store.db.read_one(
            f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions "
            "WHERE name = ? AND version = ?",
            (name, number),
        )
    if row is None:
        return None
    return _version_dict(row, aliases_of(store, name).get(row[1], []))


def alias_version(store: Store, name: str, alias: str) -> int | None:
    row = store.db.read_one(
        "SELECT version FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
    )
    return row[0] if row else None


def versions_of_run(store: Store, run_id: str, model: str | None = None) -> list[dict[str, Any]]:
    """The registered versions made from a run's model (newest first)."""
    sql = f"SELECT {', '.join(_VERSION_COLUMNS)} FROM model_versions WHERE run_id = ?"
    params: tuple = (run_id,)
    if model is not None:
        sql += " AND model = ?"
        params = (run_id, model)
    rows = store.db.read(sql + " ORDER BY created DESC", params)
    out = []
    for row in rows:
        out.append(_version_dict(row, aliases_of(store, row[0]).get(row[1], [])))
    return out


def set_alias(store: Store, name: str, alias: str, number: int) -> None:
    store.db.write(
        lambda c: c.execute(
            "INSERT OR REPLACE INTO model_aliases VALUES (?, ?, ?, ?)",
            (name, alias, number, time.time()),
        )
    )


def delete_alias(store: Store, name: str, alias: str) -> bool:
    """Remove an alias; ``False`` if it did not exist."""
    return bool(
        store.db.write(
            lambda c: (
                c.execute(
                    "DELETE FROM model_aliases WHERE name = ? AND alias = ?", (name, alias)
                ).rowcount
            )
        )
    )


def add_event(
    store: Store,
    name: str,
    number: int,
    kind: str,
    *,
    target: str | None = None,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Record something that happened to a model version (packaged, deployed, gated...)."""
    store.db.write(
        lambda c: c.execute(
            "INSERT INTO model_events VALUES (?, ?, ?, ?, ?, ?)",
            (name, number, kind, target, json.dumps(dict(meta or {})), time.time()),
        )
    )


def events(store: Store, name: str, number: int) -> list[dict[str, Any]]:
    rows = store.db.read(
        "SELECT kind, target, meta, created FROM model_events "
        "WHERE name = ? AND version = ? ORDER BY created, rowid",
        (name, number),
    )
    return [
        {"kind": k, "target": t, "meta": json.loads(m or "{}"), "created": c} for k, t, m, c in rows
    ]


def artifact(store: Store, run_id: str, path: str) -> dict[str, Any] | None:
    """One artifact of a run (digest, kind, meta, created), or ``None``."""
    row = store.db.read_one(
        "SELECT digest, size, kind, meta, created FROM artifacts WHERE run_id = ? AND path = ?",
        (run_id, path),
    )
    if row is None:
        return None
    return {
        "path": path,
        "digest": row[0],
        "size": row[1],
        "kind": row[2],
        "meta": json.loads(row[3] or "{}"),
        "created": row[4],
    }
