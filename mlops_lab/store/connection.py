"""Opening the SQLite file safely and running short, retried transactions.

Many writers share one store (several kernels, a pipeline, a server), so
every connection uses WAL, ``synchronous=NORMAL`` and a busy timeout, and every
write is a short ``BEGIN IMMEDIATE`` transaction retried with backoff when
SQLite still answers "database is locked". A file that is not an mlops-lab
database is refused before anything is written to it.

A store this process may not write (a read-only mount, a file or folder
without write permission) is opened read-only (SQLite's ``mode=ro``, and
``immutable=1`` when not even the WAL index can be created beside it), so it
can still be read; a write then says the store is read-only.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeAlias, TypeVar

from ..errors import NotAStoreError, StoreError, StoreVersionError
from .locate import check_layout
from .schema import APPLICATION_ID, SCHEMA_VERSION, migrate

T = TypeVar("T")
Query: TypeAlias = "tuple[str, tuple | list | dict]"

BUSY_TIMEOUT_MS = 30_000
_RETRIES = 60
_SQLITE_MAGIC = b"SQLite format 3\x00"


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    text = str(exc)
    return "locked" in text or "busy" in text


def _uri(db_path: Path, *, immutable: bool = False) -> str:
    """The ``file:`` URI that opens ``db_path`` read-only (any character in the path is safe)."""
    query = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"file:{urllib.parse.quote(str(db_path))}?{query}"


def _needs_immutable(db_path: Path) -> bool:
    """True when SQLite cannot create the WAL index beside ``db_path`` (a read-only folder)."""
    shm = db_path.with_name(db_path.name + "-shm")
    return not shm.exists() and not os.access(db_path.parent, os.W_OK)


def is_writable(db_path: Path) -> bool:
    """Can this process write the store's database (and the WAL files beside it)?"""
    if not db_path.exists():
        return True  # created on open; a folder that refuses it says so then
    if not os.access(db_path, os.W_OK):
        return False
    if os.access(db_path.parent, os.W_OK):
        return True
    side = [db_path.with_name(db_path.name + s) for s in ("-wal", "-shm")]
    return all(p.exists() and os.access(p, os.W_OK) for p in side)


def check_file(db_path: Path) -> None:
    """Refuse a file that exists but is not an mlops-lab database, without touching it."""
    check_layout(db_path.parent)
    try:
        if not db_path.exists() or db_path.stat().st_size == 0:
            return
        with open(db_path, "rb") as fh:
            header = fh.read(16)
    except OSError as exc:
        raise StoreError(
            f"cannot read the store database {db_path}: {exc.strerror or exc}",
            path=str(db_path),
        ) from exc
    if header != _SQLITE_MAGIC:
        raise NotAStoreError(
            f"{db_path} is not an mlops-lab store (not an SQLite database); "
            "it was left untouched. Point MLOPS_LAB_HOME elsewhere or move the file.",
            path=str(db_path),
        )
    try:
        conn = sqlite3.connect(
            _uri(db_path, immutable=_needs_immutable(db_path)),
            uri=True,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            n_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            conn.execute("PRAGMA quick_check(1)").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise NotAStoreError(
            f"{db_path} cannot be read as an mlops-lab store ({exc}); it was left untouched.",
            path=str(db_path),
        ) from exc
    if app_id != APPLICATION_ID and n_tables > 0:
        raise NotAStoreError(
            f"{db_path} is an SQLite database of another application; it was left untouched.",
            path=str(db_path),
        )
    if version > SCHEMA_VERSION:
        raise StoreVersionError(
            f"{db_path} has schema version {version}, newer than this mlops-lab knows "
            f"({SCHEMA_VERSION}); upgrade mlops-lab to read it.",
            path=str(db_path),
        )


class Connection:
    """One SQLite connection per process, shared by threads under a lock.

    After ``fork`` the child opens its own connection on first use, so a
    connection is never used by two processes.

    Parameters
    ----------
    db_path
        The ``mlops.db`` file.
    read_only
        ``True`` opens it read-only, ``False`` read-write; the default decides
        from what this process may write (:func:`is_writable`).
    """

    def __init__(self, db_path: Path, *, read_only: bool | None = None) -> None:
        self.db_path = db_path
        self._read_only_wanted = read_only
        self.read_only = bool(read_only)
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = -1

    @property
    def raw(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self._conn = self._open()
            self._pid = os.getpid()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        check_file(self.db_path)
        wanted = self._read_only_wanted
        self.read_only = not is_writable(self.db_path) if wanted is None else wanted
        if self.read_only:
            return self._open_read_only()
        folder = self.db_path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the store folder {folder}: {exc.strerror or exc}", path=str(folder)
            ) from exc
        if not self.db_path.exists() and not os.access(folder, os.W_OK):
            raise StoreError(
                f"cannot create the store database {self.db_path}: the folder is not writable",
                path=str(self.db_path),
            )
        try:
            conn = sqlite3.connect(
                self.db_path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
            if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the store {self.db_path}: {exc}", path=str(self.db_path)
            ) from exc
        return conn

    def _open_read_only(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                _uri(self.db_path, immutable=_needs_immutable(self.db_path)),
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StoreError(
                f"cannot open the read-only store {self.db_path}: {exc}", path=str(self.db_path)
            ) from exc
        if version < SCHEMA_VERSION:
            conn.close()
            what = "is empty" if version == 0 else f"has the older schema version {version}"
            raise StoreError(
                f"the store {self.db_path} is read-only and {what}; this mlops-lab reads "
                f"version {SCHEMA_VERSION}: open it once with write access to upgrade it",
                path=str(self.db_path),
            )
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        def step() -> None:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Another process may have migrated while we waited for the lock.
                if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
                    migrate(conn)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        self._retry(step)

    @staticmethod
    def _retry(fn: Callable[[], T]) -> T:
        delay = 0.005
        for attempt in range(_RETRIES):
            try:
                return fn()
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or attempt == _RETRIES - 1:
                    raise
                time.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 0.5)
        raise AssertionError("unreachable")

    def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried when busy."""

        def attempt() -> T:
            conn = self.raw
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return result

        with self._lock:
            _ = self.raw  # opens the connection, which tells whether the store is read-only
            if self.read_only:
                raise StoreError(
                    f"the store {self.db_path.parent} is read-only (opened read-only, as this "
                    f"process may not write {self.db_path}): it can be read, not written",
                    path=str(self.db_path),
                )
            try:
                return self._retry(attempt)
            except sqlite3.OperationalError as exc:
                raise StoreError(
                    f"writing to {self.db_path} failed: {exc}", path=str(self.db_path)
                ) from exc

    def read(self, sql: str, params: tuple | list | dict = ()) -> list[tuple]:
        with self._lock:
            return self._retry(lambda: self.raw.execute(sql, params).fetchall())

    def read_dicts(self, sql: str, params: tuple | list | dict = ()) -> list[dict]:
        def fetch() -> list[dict]:
            cur = self.raw.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        with self._lock:
            return self._retry(fetch)

    def read_snapshot(
        self,
        queries: Sequence[Query | Callable[[], Query]],
        each: Callable[[int, list[tuple]], None] | None = None,
    ) -> list[list[tuple]]:
        """The rows of several SELECTs, all read from one snapshot (one read transaction).

        A query is ``(sql, params)``, or a function that returns one when it is
        its turn (so that it can use the rows read before it). ``each(i, rows)``,
        when given, is called with each query's rows as soon as they are read,
        before the next query runs (again if a busy store makes the whole read
        start over).
        """

        def fetch() -> list[list[tuple]]:
            conn = self.raw
            conn.execute("BEGIN")
            try:
                results = []
                for i, query in enumerate(queries):
                    sql, params = query() if callable(query) else query
                    results.append(conn.execute(sql, params).fetchall())
                    if each is not None:
                        each(i, results[-1])
                return results
            finally:
                conn.execute("COMMIT")

        with self._lock:
            return self._retry(fetch)

    def read_one(self, sql: str, params: tuple | list | dict = ()) -> tuple | None:
        rows = self.read(sql, params)
        return rows[0] if rows else None

    def close(self) -> None:
        with self._lock:
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None
