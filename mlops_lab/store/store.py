"""The :class:`Store`: every read and write of tracking records, in SQL.

This is the only module (with its siblings in ``store/``) that speaks SQL.
Callers pass and receive plain Python values; the tracking layer decides
what to log and when, the store decides how it is kept.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ParamConflictError, RunNotFoundError
from . import metric_values
from .blobs import BlobStore
from .bulk import RunRows, insert_runs
from .connection import Connection
from .locate import find_root
from .metric_values import MetricRow
from .summaries import refresh as refresh_summaries

# A run of another host is declared killed when its heartbeat is this old.
STALE_HEARTBEAT_S = 300.0


_CELL_COLUMNS = (
    "seq",
    "execution_count",
    "source",
    "status",
    "error_name",
    "error_value",
    "started",
    "duration_s",
    "kind",
    "cell_id",
)


def _context_from(rows: list[dict[str, Any]]) -> str | None:
    """The earlier run whose context comes before these cells (a ``context_from`` row)."""
    for row in rows:
        if row["kind"] == "context_from" and isinstance(row["source"], str):
            return row["source"]
    return None


def _none_to_nan(value: float | None) -> float:
    return math.nan if value is None else value


class Store:
    """A project store: ``mlops.db`` (SQLite, WAL) and ``blobs/`` in one folder.

    Examples
    --------
    >>> store = Store("/tmp/project/.mlops")          # doctest: +SKIP
    >>> store.experiment_id("default")                # doctest: +SKIP
    1
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()
        self.db_path = self.root / "mlops.db"
        self.blobs = BlobStore(self.root / "blobs")
        self.db = Connection(self.db_path)
        self._experiments: dict[str, int] = {}

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> Store:
        """Open the store at ``root``, or the one found from the working directory."""
        return cls(root if root is not None else find_root())

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"

    # -- experiments -------------------------------------------------------------

    def experiment_id(self, name: str) -> int:
        """The id of experiment ``name``, created on first use."""
        if name in self._experiments:
            return self._experiments[name]

        def create(conn) -> int:
            conn.execute(
                "INSERT OR IGNORE INTO experiments (name, created) VALUES (?, ?)",
                (name, time.time()),
            )
            return conn.execute(
                "SELECT experiment_id FROM experiments WHERE name = ?", (name,)
            ).fetchone()[0]

        row = self.db.read_one("SELECT experiment_id FROM experiments WHERE name = ?", (name,))
        exp_id = row[0] if row else self.db.write(create)
        self._experiments[name] = exp_id
        return exp_id

    def experiments(self) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT e.experiment_id, e.name, e.created, count(r.run_id) FROM experiments e "
            "LEFT JOIN runs r ON r.experiment_id = e.experiment_id "
            "GROUP BY e.experiment_id ORDER BY e.name"
        )
        return [
            {"experiment_id": r[0], "name": r[1], "created": r[2], "n_runs": r[3]} for r in rows
        ]

    # -- environments --------------------------------------------------------------

    def put_environment(self, env_id: str, python: str, platform: str, packages: str) -> str:
        """Store an environment once per distinct ``env_id`` (a digest of its content)."""
        if self.db.read_one("SELECT 1 FROM environments WHERE env_id = ?", (env_id,)) is None:
            self.db.write(
                lambda c: c.execute(
                    "INSERT OR IGNORE INTO environments VALUES (?, ?, ?, ?, ?)",
                    (env_id, python, platform, packages, time.time()),
                )
            )
        return env_id

    def environment(self, env_id: str | None) -> dict[str, Any]:
        if env_id is None:
            return {}
        row = self.db.read_one(
            "SELECT python, platform, packages FROM environments WHERE env_id = ?", (env_id,)
        )
        if row is None:
            return {}
        return {
            "env_id": env_id,
            "python": row[0],
            "platform": row[1],
            "packages": json.loads(row[2]),
        }

    # -- runs ------------------------------------------------------------------------

    def create_run(self, record: Mapping[str, Any], tags: Mapping[str, str] | None = None) -> None:
        """Insert a run row (``record`` maps column names to values) and its first tags."""
        cols = ", ".join(record)
        marks = ", ".join("?" for _ in record)
        values = tuple(record.values())
        run_id = record["run_id"]

        def insert(conn) -> None:
            conn.execute(f"INSERT INTO runs ({cols}) VALUES ({marks})", values)
            if tags:
                conn.executemany(
                    "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                    [(run_id, k, v) for k, v in tags.items()],
                )
                refresh_summaries(conn, [run_id], "tags_json")

        self.db.write(insert)

    def insert_runs(self, runs: Iterable[RunRows]) -> int:
        """Insert many finished runs in one transaction (see :mod:`.bulk`); how many."""
        return insert_runs(self, runs)

    def update_run(self, run_id: str, **columns: Any) -> None:
        sets = ", ".join(f"{c} = ?" for c in columns)
        self.db.write(
            lambda c: c.execute(
                f"UPDATE runs SET {sets} WHERE run_id = ?", (*columns.values(), run_id)
            )
        )

    def end_run(
        self, run_id: str, status: str, end_time: float, metrics: Iterable[MetricRow] = ()
    ) -> None:
        """Write pending metrics and the final status in one transaction."""
        rows = list(metrics)

        def finish(conn) -> None:
            if rows:
                self._insert_metrics(conn, rows)
            conn.execute(
                "UPDATE runs SET status = ?, end_time = ?, heartbeat = ? WHERE run_id = ?",
                (status, end_time, end_time, run_id),
            )

        self.db.write(finish)

    def heartbeat(self, run_ids: Iterable[str], now: float) -> None:
        ids = list(run_ids)
        if ids:
            self.db.write(
                lambda c: c.executemany(
                    "UPDATE runs SET heartbeat = ? WHERE run_id = ? AND status = 'running'",
                    [(now, r) for r in ids],
                )
            )

    def run_record(self, run_id: str) -> dict[str, Any]:
        rows = self.db.read_dicts(
            "SELECT r.*, e.name AS experiment FROM runs r "
            "JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_id = ?",
            (run_id,),
        )
        if not rows:
            raise RunNotFoundError(f"no run {run_id!r} in {self.root}", run_id=run_id)
        return rows[0]

    def resolve_run(self, ref: str) -> str:
        """Turn a full run id, a unique id prefix (4+ characters) or a run name into an id.

        A name shared by several runs means the latest of them.
        """
        ref = str(ref).strip()
        if not ref:
            raise RunNotFoundError("an empty run reference was given")
        row = self.db.read_one("SELECT run_id FROM runs WHERE run_id = ?", (ref,))
        if row:
            return row[0]
        if len(ref) >= 4 and all(ch in "0123456789abcdef" for ch in ref.lower()):
            rows = self.db.read(
                "SELECT run_id FROM runs WHERE run_id >= ? AND run_id < ? LIMIT 3",
                (ref.lower(), ref.lower() + "g"),
            )
            if len(rows) == 1:
                return rows[0][0]
            if len(rows) > 1:
                raise RunNotFoundError(
                    f"run id prefix {ref!r} is ambiguous: it matches "
                    + ", ".join(r[0][:12] for r in rows)
                    + (" and more" if len(rows) > 2 else ""),
                    run_id=ref,
                )
        row = self.db.read_one(
            "SELECT run_id FROM runs WHERE name = ? ORDER BY start_time DESC LIMIT 1", (ref,)
        )
        if row:
            return row[0]
        raise RunNotFoundError(
            f"no run matches {ref!r} (by id, id prefix or name) in {self.root}", run_id=ref
        )

    def last_run_id(self) -> str | None:
        row = self.db.read_one("SELECT run_id FROM runs ORDER BY start_time DESC LIMIT 1")
        return row[0] if row else None

    def running_runs(self) -> list[tuple[str, str | None, int | None, str | None, float | None]]:
        return self.db.read(
            "SELECT run_id, host, pid, pid_start, heartbeat FROM runs WHERE status = 'running'"
        )

    def reap_dead_runs(
        self,
        *,
        host: str,
        alive: Callable[[int, str | None], bool],
        keep: Collection[str] = (),
        now: float | None = None,
    ) -> list[str]:
        """Mark ``killed`` the running runs whose process is gone; return their ids.

        One query for the running runs, then for each: on ``host`` (this machine)
        ``alive(pid, pid_start)`` decides; elsewhere a heartbeat older than
        :data:`STALE_HEARTBEAT_S` does. Runs in ``keep`` (the caller's own open
        runs) are never marked, and a read-only store is left as it stands.
        """
        now = time.time() if now is None else now
        dead = []
        for run_id, run_host, pid, start, beat in self.running_runs():
            if run_id in keep:
                continue
            if run_host == host and pid is not None:
                if not alive(pid, start):
                    dead.append(run_id)
            elif beat is not None and now - beat > STALE_HEARTBEAT_S:
                dead.append(run_id)
        if not dead or self.db.read_only:
            return []
        self.mark_killed(dead, now)
        return dead

    def mark_killed(self, run_ids: Iterable[str], now: float) -> None:
        ids = list(run_ids)
        if ids:
            self.db.write(
                lambda c: c.executemany(
                    "UPDATE runs SET status = 'killed', "
                    "end_time = coalesce(heartbeat, start_time) "
                    "WHERE run_id = ? AND status = 'running'",
                    [(r,) for r in ids],
                )
            )

    def child_run_ids(self, run_id: str) -> list[str]:
        return [
            r[0]
            for r in self.db.read(
                "SELECT run_id FROM runs WHERE parent_id = ? ORDER BY start_time", (run_id,)
            )
        ]

    # -- params, metrics, tags ------------------------------------------------------------

    def log_params(self, run_id: str, items: Iterable[tuple[str, str, str]]) -> None:
        """Insert ``(key, value, vtype)`` params; an existing key with another value raises.

        All of them are written, or none.
        """
        rows = list(items)

        def insert(conn) -> None:
            for key, value, vtype in rows:
                old = conn.execute(
                    "SELECT value FROM params WHERE run_id = ? AND key = ?", (run_id, key)
                ).fetchone()
                if old is None:
                    conn.execute(
                        "INSERT INTO params VALUES (?, ?, ?, ?)", (run_id, key, value, vtype)
                    )
                elif old[0] != value:
                    raise ParamConflictError(key, old[0], value, run_id=run_id)
            refresh_summaries(conn, [run_id], "params_json")

        self.db.write(insert)

    def params(self, run_id: str) -> dict[str, tuple[str, str]]:
        """``{key: (value, vtype)}`` of a run."""
        rows = self.db.read(
            "SELECT key, value, vtype FROM params WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return {k: (v, t) for k, v, t in rows}

    @staticmethod
    def _insert_metrics(conn, rows: list[MetricRow]) -> None:
        # NaN is stored as NULL: SQLite turns every NaN it is given into NULL.
        # Only the newest row of each (run, key) in the batch can become its latest value.
        newest = metric_values.insert(conn, rows)
        conn.executemany(
            "INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id, key) DO UPDATE SET "
            "value = excluded.value, step = excluded.step, timestamp = excluded.timestamp "
            "WHERE excluded.step > latest_metrics.step OR "
            "(excluded.step = latest_metrics.step "
            "AND excluded.timestamp >= latest_metrics.timestamp)",
            newest,
        )
        refresh_summaries(conn, [row[0] for row in newest], "metrics_json")

    def log_metrics(self, rows: Iterable[MetricRow], heartbeat: float | None = None) -> None:
        """Append metric rows (one transaction), and refresh the runs' heartbeat."""
        batch = list(rows)
        if not batch:
            return

        def insert(conn) -> None:
            self._insert_metrics(conn, batch)
            if heartbeat is not None:
                conn.executemany(
                    "UPDATE runs SET heartbeat = ? WHERE run_id = ?",
                    [(heartbeat, r) for r in {row[0] for row in batch}],
                )

        self.db.write(insert)

    def latest_metrics(self, run_id: str) -> dict[str, float]:
        rows = self.db.read(
            "SELECT key, value FROM latest_metrics WHERE run_id = ? ORDER BY key", (run_id,)
        )
        return {k: _none_to_nan(v) for k, v in rows}

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float, float]]:
        rows = self.db.read(metric_values.HISTORY, (run_id, key))
        return [(s, _none_to_nan(v), t) for s, v, t in rows]

    def metric_keys(self, run_id: str) -> list[str]:
        return [r[0] for r in self.db.read(metric_values.KEYS, (run_id,))]

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        def write(conn) -> None:
            conn.executemany(
                "INSERT OR REPLACE INTO tags VALUES (?, ?, ?)",
                [(run_id, k, v) for k, v in tags.items()],
            )
            refresh_summaries(conn, [run_id], "tags_json")

        self.db.write(write)

    def tags(self, run_id: str) -> dict[str, str]:
        return dict(
            self.db.read("SELECT key, value FROM tags WHERE run_id = ? ORDER BY key", (run_id,))
        )

    # -- cells --------------------------------------------------------------------------

    def add_cell(self, run_id: str, cell: Mapping[str, Any]) -> None:
        """Append a captured cell; ``seq`` is the next number for that run."""
        self.add_cells(run_id, [cell])

    def add_cells(self, run_id: str, cells: Sequence[Mapping[str, Any]]) -> None:
        """Append captured cells in order, in one transaction."""
        if not cells:
            return

        def insert(conn) -> None:
            seq = conn.execute(
                "SELECT coalesce(max(seq), -1) + 1 FROM cells WHERE run_id = ?", (run_id,)
            ).fetchone()[0]
            conn.executemany(
                "INSERT INTO cells (run_id, seq, execution_count, source, status, error_name, "
                "error_value, started, duration_s, kind, cell_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        seq + i,
                        cell.get("execution_count"),
                        cell["source"],
                        cell.get("status", "ok"),
                        cell.get("error_name"),
                        cell.get("error_value"),
                        cell.get("started"),
                        cell.get("duration_s"),
                        cell.get("kind", "cell"),
                        cell.get("cell_id"),
                    )
                    for i, cell in enumerate(cells)
                ],
            )

        self.db.write(insert)

    def cells(self, run_id: str, *, context: bool = False) -> list[dict[str, Any]]:
        """The cells captured for a run, in execution order.

        ``context=True`` also returns the session's cells executed before the run
        started (``kind = 'context'``), which promotion slices from: those the run
        stored, after the context of the earlier run its ``context_from`` row names
        (and so on back; a chain that loops or names a run not in this store stops).
        """
        if not context:
            return self._cell_rows(
                run_id, " AND coalesce(kind, 'cell') NOT IN ('context', 'context_from')"
            )
        rows = self._cell_rows(run_id, "")
        chain, seen, since = [], {run_id}, _context_from(rows)
        while since is not None and since not in seen:
            seen.add(since)
            earlier = self._cell_rows(since, " AND kind IN ('context', 'context_from')")
            chain.append([r for r in earlier if r["kind"] == "context"])
            since = _context_from(earlier)
        out = [r for part in reversed(chain) for r in part]
        return out + [r for r in rows if r["kind"] != "context_from"]

    def _cell_rows(self, run_id: str, where: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            f"SELECT {', '.join(_CELL_COLUMNS)} FROM cells WHERE run_id = ?{where} ORDER BY seq",
            (run_id,),
        )
        return [dict(zip(_CELL_COLUMNS, r, strict=True)) for r in rows]

    # -- artifacts and datasets ---------------------------------------------------------

    def add_artifact(
        self,
        run_id: str,
        path: str,
        digest: str,
        size: int,
        *,
        kind: str = "file",
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?, ?, ?, ?, ?)",
                (run_id, path, digest, size, kind, json.dumps(meta or {}), time.time()),
            )
        )

    def artifacts(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT path, digest, size, kind, meta, created FROM artifacts "
            "WHERE run_id = ? ORDER BY created, path",
            (run_id,),
        )
        return [
            {
                "path": p,
                "digest": d,
                "size": s,
                "kind": k,
                "meta": json.loads(m or "{}"),
                "created": c,
            }
            for p, d, s, k, m, c in rows
        ]

    def put_dataset(
        self,
        digest: str,
        *,
        name: str | None,
        n_rows: int | None,
        n_cols: int | None,
        schema: Any = None,
        profile: Any = None,
        source: str | None = None,
    ) -> None:
        """Store a dataset's description once per digest (later calls keep the first)."""
        self.db.write(
            lambda c: c.execute(
                "INSERT OR IGNORE INTO datasets VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    digest,
                    name,
                    n_rows,
                    n_cols,
                    None if schema is None else json.dumps(schema),
                    None if profile is None else json.dumps(profile),
                    source,
                    time.time(),
                ),
            )
        )

    def dataset(self, digest: str) -> dict[str, Any] | None:
        row = self.db.read_one(
            "SELECT digest, name, n_rows, n_cols, schema, profile, source, created "
            "FROM datasets WHERE digest = ?",
            (digest,),
        )
        if row is None:
            return None
        keys = ("digest", "name", "n_rows", "n_cols", "schema", "profile", "source", "created")
        out = dict(zip(keys, row, strict=True))
        for key in ("schema", "profile"):
            out[key] = json.loads(out[key]) if out[key] else None
        return out

    def link_input(self, run_id: str, digest: str, *, name: str | None, role: str) -> None:
        self.db.write(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO run_inputs VALUES (?, ?, ?, ?, ?)",
                (run_id, digest, name, role, time.time()),
            )
        )

    def run_inputs(self, run_id: str) -> list[dict[str, Any]]:
        rows = self.db.read(
            "SELECT i.digest, i.name, i.role, d.n_rows, d.n_cols, d.source FROM run_inputs i "
            "LEFT JOIN datasets d ON d.digest = i.digest WHERE i.run_id = ? ORDER BY i.created",
            (run_id,),
        )
        keys = ("digest", "name", "role", "n_rows", "n_cols", "source")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def runs_with_dataset(self, digest: str) -> list[str]:
        return [
            r[0] for r in self.db.read("SELECT run_id FROM run_inputs WHERE digest = ?", (digest,))
        ]
