"""Merging another store into this one: every table, and the blobs its rows name.

``merge_store(store, other_root)`` copies what the other store has and this one
lacks (``ml.merge`` is it over a project's store):
runs, params, metrics, tags, cells, environments, datasets, run inputs,
artifacts and their blobs, validations, drift results, predictions, the
registry, and any table a later schema adds. It is idempotent: merging the
same store again adds nothing. Rows are matched on their keys:

- runs, params, tags, cells, artifacts, datasets, ... on their primary key
  (run ids are UUIDs, dataset and blob ids are content digests); a row this
  store already has is kept as it is;
- experiments on their name (ids are re-mapped in the merged runs);
- rows without a key (metrics, model events) when no identical row exists;
- model versions on ``(name, run_id, model, digest)``: a version this store
  lacks gets the next free number of that name here (in the order the other
  store created them), so numbers never collide; the ``registered.version`` tags
  of merged runs are rewritten to the new numbers;
- aliases: the most recently moved wins (``updated``), so a re-merge or an
  older alias never moves this store's champion back.

The other store is checked first (:mod:`.merge_checks`: run ids, digests,
experiment and model names, blob file names; a bad row refuses the whole
merge before anything is written). Blobs are copied next (checked against
their digest), then all rows in one transaction through ``ATTACH DATABASE``:
a failed merge leaves nothing behind.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from . import metric_values
from .connection import Connection, check_file
from .merge_checks import check_source

if TYPE_CHECKING:
    from .store import Store

_ALIAS = "merged"
# Handled one by one below; every other table is merged by its key (or whole rows).
_SPECIAL = frozenset(
    {
        "experiments",
        "runs",
        "latest_metrics",
        "metric_series",
        "metric_values",
        "model_versions",
        "model_aliases",
        "model_events",
    }
)


@dataclass
class MergeReport:
    """What a merge added: rows per table, blobs copied, versions re-numbered."""

    source: str
    rows: dict[str, int] = field(default_factory=dict)
    blobs: int = 0
    renumbered: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def __str__(self) -> str:
        added = {k: v for k, v in self.rows.items() if v}
        lines = [f"merged {self.source}: {self.total} rows, {self.blobs} blobs"]
        lines += [f"  {table}: +{n}" for table, n in sorted(added.items())]
        lines += [f"  model {old} is {new} here" for old, new in self.renumbered.items()]
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _tables(conn: sqlite3.Connection, schema: str) -> list[str]:
    rows = conn.execute(
        f"SELECT name FROM {schema}.sqlite_master WHERE type = 'table' "
        "AND name NOT LIKE 'sqlite_%' ORDER BY name"
    ).fetchall()
    return [r[0] for r in rows]


def _columns(conn: sqlite3.Connection, schema: str, table: str) -> list[tuple[str, int]]:
    """``(column, position in the primary key or 0)`` of a table."""
    return [(r[1], r[5]) for r in conn.execute(f"PRAGMA {schema}.table_info({_q(table)})")]


def _common(conn: sqlite3.Connection, table: str) -> tuple[list[str], bool]:
    mine = _columns(conn, "main", table)
    theirs = {c for c, _ in _columns(conn, _ALIAS, table)}
    return [c for c, _ in mine if c in theirs], any(pk for _, pk in mine)


def _copy_rows(conn: sqlite3.Connection, table: str, *, skip: tuple[str, ...] = ()) -> int:
    """Copy the rows of ``merged.table`` this store lacks (by key, else by whole row)."""
    cols, keyed = _common(conn, table)
    cols = [c for c in cols if c not in skip]
    names = ", ".join(_q(c) for c in cols)
    if keyed:
        sql = (
            f"INSERT OR IGNORE INTO main.{_q(table)} ({names}) "
            f"SELECT {names} FROM {_ALIAS}.{_q(table)}"
        )
    else:
        same = " AND ".join(f"m.{_q(c)} IS o.{_q(c)}" for c in cols)
        sql = (
            f"INSERT INTO main.{_q(table)} ({names}) SELECT {names} FROM {_ALIAS}.{_q(table)} o "
            f"WHERE NOT EXISTS (SELECT 1 FROM main.{_q(table)} m WHERE {same})"
        )
    return conn.execute(sql).rowcount


def _copy_runs(conn: sqlite3.Connection) -> int:
    cols, _ = _common(conn, "runs")
    names = ", ".join(_q(c) for c in cols)
    picked = ", ".join(
        (
            "(SELECT e.experiment_id FROM main.experiments e WHERE e.name = "
            f"(SELECT x.name FROM {_ALIAS}.experiments x WHERE x.experiment_id = o.experiment_id))"
        )
        if c == "experiment_id"
        else f"o.{_q(c)}"
        for c in cols
    )
    return conn.execute(
        f"INSERT OR IGNORE INTO main.runs ({names}) SELECT {picked} FROM {_ALIAS}.runs o"
    ).rowcount


def _copy_latest_metrics(conn: sqlite3.Connection) -> int:
    return conn.execute(
        "INSERT INTO main.latest_metrics (run_id, key, value, step, timestamp) "
        f"SELECT run_id, key, value, step, timestamp FROM {_ALIAS}.latest_metrics WHERE true "
        "ON CONFLICT (run_id, key) DO UPDATE SET "
        "value = excluded.value, step = excluded.step, timestamp = excluded.timestamp "
        "WHERE excluded.step > latest_metrics.step OR "
        "(excluded.step = latest_metrics.step AND excluded.timestamp > latest_metrics.timestamp)"
    ).rowcount


def _copy_versions(conn: sqlite3.Connection, report: MergeReport) -> dict[tuple[str, int], int]:
    """Copy model versions, re-numbering new ones; ``{(name, their number): our number}``."""
    cols = [c for c, _ in _columns(conn, "main", "model_versions")]
    rows = conn.execute(
        f"SELECT {', '.join(_q(c) for c in cols)} FROM {_ALIAS}.model_versions "
        "ORDER BY created, name, version"
    ).fetchall()
    mapping: dict[tuple[str, int], int] = {}
    added = 0
    for row in rows:
        rec = dict(zip(cols, row, strict=True))
        same = conn.execute(
            "SELECT version FROM main.model_versions "
            "WHERE name = ? AND run_id = ? AND model = ? AND digest = ?",
            (rec["name"], rec["run_id"], rec["model"], rec["digest"]),
        ).fetchone()
        if same is not None:
            number = same[0]
        else:
            number = conn.execute(
                "SELECT coalesce(max(version), 0) + 1 FROM main.model_versions WHERE name = ?",
                (rec["name"],),
            ).fetchone()[0]
            rec["version"] = number
            conn.execute(
                f"INSERT INTO main.model_versions ({', '.join(_q(c) for c in cols)}) "
                f"VALUES ({', '.join('?' for _ in cols)})",
                tuple(rec.values()),
            )
            added += 1
        old = row[cols.index("version")]
        mapping[(rec["name"], old)] = number
        if same is None and number != old:
            report.renumbered[f"{rec['name']}/{old}"] = f"{rec['name']}/{number}"
            conn.execute(
                "UPDATE main.tags SET value = ? WHERE key = 'registered.version' AND value = ? "
                f"AND run_id IN (SELECT run_id FROM {_ALIAS}.tags "
                "WHERE key = 'registered.version' AND value = ?)",
                (f"{rec['name']}/{number}", f"{rec['name']}/{old}", f"{rec['name']}/{old}"),
            )
    report.rows["model_versions"] = added
    return mapping


def _copy_aliases(conn: sqlite3.Connection, mapping: Mapping[tuple[str, int], int]) -> int:
    changed = 0
    for name, alias, version, updated in conn.execute(
        f"SELECT name, alias, version, updated FROM {_ALIAS}.model_aliases"
    ).fetchall():
        number = mapping.get((name, version))
        if number is None:
            continue
        mine = conn.execute(
            "SELECT version, updated FROM main.model_aliases WHERE name = ? AND alias = ?",
            (name, alias),
        ).fetchone()
        if mine is None or (updated > mine[1] and number != mine[0]):
            conn.execute(
                "INSERT OR REPLACE INTO main.model_aliases (name, alias, version, updated) "
                "VALUES (?, ?, ?, ?)",
                (name, alias, number, updated),
            )
            changed += 1
    return changed


def _copy_events(conn: sqlite3.Connection, mapping: Mapping[tuple[str, int], int]) -> int:
    added = 0
    for name, version, kind, target, meta, created in conn.execute(
        f"SELECT name, version, kind, target, meta, created FROM {_ALIAS}.model_events"
    ).fetchall():
        number = mapping.get((name, version), version)
        row = (name, number, kind, target, meta, created)
        exists = conn.execute(
            "SELECT 1 FROM main.model_events WHERE name IS ? AND version IS ? AND kind IS ? "
            "AND target IS ? AND meta IS ? AND created IS ?",
            row,
        ).fetchone()
        if exists is None:
            conn.execute("INSERT INTO main.model_events VALUES (?, ?, ?, ?, ?, ?)", row)
            added += 1
    return added


def _merge_rows(conn: sqlite3.Connection, report: MergeReport) -> None:
    theirs = set(_tables(conn, _ALIAS))
    mine = _tables(conn, "main")
    if "experiments" in theirs:
        report.rows["experiments"] = _copy_rows(conn, "experiments", skip=("experiment_id",))
    if "environments" in theirs:
        report.rows["environments"] = _copy_rows(conn, "environments")
    if "runs" in theirs:
        report.rows["runs"] = _copy_runs(conn)
    for table in mine:
        if table in theirs and table not in _SPECIAL and table not in report.rows:
            report.rows[table] = _copy_rows(conn, table)
    report.rows["metrics"] = metric_values.copy_from(conn, _ALIAS, theirs)
    if "latest_metrics" in theirs:
        report.rows["latest_metrics"] = _copy_latest_metrics(conn)
    if "model_versions" in theirs:
        mapping = _copy_versions(conn, report)
        if "model_aliases" in theirs:
            report.rows["model_aliases"] = _copy_aliases(conn, mapping)
        if "model_events" in theirs:
            report.rows["model_events"] = _copy_events(conn, mapping)


def _copy_blobs(store: Store, other_blobs: Path) -> int:
    if not other_blobs.is_dir():
        return 0
    copied = 0
    for path in sorted(other_blobs.glob("??/*")):  # names checked by check_source
        if path.name.startswith(".") or store.blobs.path(path.name).exists():
            continue
        digest, _ = store.blobs.put_file(path)
        if digest != path.name:
            store.blobs.path(digest).unlink(missing_ok=True)
            raise StoreError(
                f"blob {path} does not match its digest (its content hashes to {digest[:12]}); "
                "nothing was merged",
                path=str(path),
            )
        copied += 1
    return copied


def merge_store(store: Store, other_root: str | os.PathLike[str]) -> MergeReport:
    """Merge the store at ``other_root`` into ``store`` (see the module docstring)."""
    other = Path(other_root).expanduser().resolve()
    if other.name == "mlops.db":
        other = other.parent
    db_path = other / "mlops.db"
    if other == store.root:
        raise StoreError(f"cannot merge the store {other} into itself", path=str(other))
    if not db_path.is_file():
        raise StoreError(f"no mlops-lab store at {other} (no mlops.db)", path=str(other))
    check_file(db_path)  # refuses another application's database, or a newer schema
    check_source(db_path, other / "blobs")  # refuses forged identifiers before any write
    report = MergeReport(str(other))
    report.blobs = _copy_blobs(store, other / "blobs")
    conn = Connection(store.db_path)  # a connection of its own: ATTACH is per connection
    try:
        conn.raw.execute(f"ATTACH DATABASE ? AS {_ALIAS}", (str(db_path),))
        try:
            conn.write(lambda c: _merge_rows(c, report))
        finally:
            conn.raw.execute(f"DETACH DATABASE {_ALIAS}")
    finally:
        conn.close()
    return report


def put_version(store: Store, record: Mapping[str, Any], aliases: Mapping[str, float]) -> None:
    """Write one model version with its own number and ``{alias: updated}`` (if absent).

    A sweep seeds each worker's empty store with the project's champion this
    way, so every combination's gate compares with the same champion.
    """

    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT OR IGNORE INTO registered_models (name, created) VALUES (?, ?)",
            (record["name"], record["created"]),
        )
        cols = [c for c, _ in _columns(conn, "main", "model_versions") if c in record]
        conn.execute(
            f"INSERT OR IGNORE INTO model_versions ({', '.join(_q(c) for c in cols)}) "
            f"VALUES ({', '.join('?' for _ in cols)})",
            tuple(record[c] for c in cols),
        )
        for alias, updated in aliases.items():
            conn.execute(
                "INSERT OR IGNORE INTO model_aliases (name, alias, version, updated) "
                "VALUES (?, ?, ?, ?)",
                (record["name"], alias, record["version"], updated),
            )

    store.db.write(insert)


def version_row(store: Store, name: str, alias: str) -> tuple[dict[str, Any], float] | None:
    """The raw row of ``name@alias`` and when the alias was set, or ``None``."""
    rows = store.db.read_dicts(
        "SELECT v.*, a.updated AS alias_updated FROM model_aliases a JOIN model_versions v "
        "ON v.name = a.name AND v.version = a.version WHERE a.name = ? AND a.alias = ?",
        (name, alias),
    )
    if not rows:
        return None
    row = rows[0]
    return row, row.pop("alias_updated")


def checkpoint(store: Store) -> None:
    """Fold the write-ahead log into ``mlops.db`` and close, so the folder can be copied."""
    store.db.read("PRAGMA wal_checkpoint(TRUNCATE)")
    store.db.close()
