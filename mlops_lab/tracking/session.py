"""The process's tracking state: open runs, the metric buffer, flushing, heartbeats.

Logging a metric appends a tuple to a list under a lock: microseconds, no
transaction. The buffer is written in one transaction when it holds
:data:`FLUSH_ROWS` rows, by a background thread every :data:`FLUSH_INTERVAL_S`,
when a run ends, before any read of the store (so reads see every value), at
the end of every notebook cell, and at interpreter exit. The same thread
refreshes the heartbeat of open runs, so another machine can tell a live
run from a dead one.

Inside a pipeline kernel the pipeline has already created the step's run and
names it in :data:`RUN_ID_ENV_VAR`: a top-level ``start_run`` (``ml.start_run``,
``%mlops start``, ``%%mlops run``, ``with ml.start_run(...)``) *adopts* that run
instead of opening another, and ending it is left to the pipeline, so the
notebook's code runs unchanged.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING, Any

from ..errors import (
    InvalidArgumentError,
    NoActiveRunError,
    RunAlreadyActiveError,
    RunNotFoundError,
)
from ..store import Store
from . import capture

if TYPE_CHECKING:
    from .run import Run

FLUSH_ROWS = 5000
FLUSH_INTERVAL_S = 1.0
HEARTBEAT_INTERVAL_S = 30.0
STATUSES = ("running", "finished", "failed", "killed")
RUN_ID_ENV_VAR = "MLOPS_LAB_RUN_ID"


class Session:
    """Open runs (a stack: the last is active) and their buffered metrics."""

    def __init__(self) -> None:
        self.stack: list[Run] = []
        self._stores: dict[str, Store] = {}
        self._pending: list[tuple[str, str, float, int, float]] = []
        self._pending_store: dict[str, Store] = {}
        self._steps: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_flush = time.monotonic()
        self._last_beat = time.monotonic()
        self._listeners: list[weakref.ReferenceType] = []
        self.adopted: set[str] = set()

    # -- stores -------------------------------------------------------------------------

    def store(self, root: str | None = None) -> Store:
        """The store at ``root`` (default: the one found from the working directory)."""
        from ..store import find_root

        path = str(find_root() if root is None else root)
        store = self._stores.get(path)
        if store is None:
            store = self._stores[path] = Store(path)
        return store

    # -- runs ---------------------------------------------------------------------------

    @property
    def active(self) -> Run | None:
        return self.stack[-1] if self.stack else None

    def require_active(self, what: str) -> Run:
        run = self.active
        if run is None:
            raise NoActiveRunError(
                f"{what} needs an open run: call ml.start_run() (or %mlops start) first"
            )
        return run

    def start_run(
        self,
        name: str | None,
        *,
        experiment: str | None,
        tags: dict[str, Any] | None,
        parent: Any,
        store: Store | None = None,
        source: dict[str, Any] | None = None,
    ) -> Run:
        from .run import Run

        if parent is None or parent is False:
            adopted = self._adopt(store, tags)
            if adopted is not None:
                return adopted
        parent_id: str | None = None
        if parent is not None and parent is not False:
            if parent is True:
                parent_id = self.require_active("start_run(parent=True)").run_id
            else:
                parent_id = getattr(parent, "run_id", None) or str(parent)
        elif self.stack:
            raise RunAlreadyActiveError(
                f"run {self.stack[-1].run_id[:8]} ({self.stack[-1].name}) is still open: "
                "end it with ml.end_run(), or pass parent= to start a child run",
                run_id=self.stack[-1].run_id,
            )
        store = store or (self.stack[-1].store if self.stack else self.store())
        if parent_id is not None:
            parent_id = store.resolve_run(parent_id)
        if name is not None and not isinstance(name, str):
            raise InvalidArgumentError(f"name: expected a string, got {type(name).__name__}")
        experiment = experiment or "default"
        now = time.time()
        run_id = uuid.uuid4().hex
        env = capture.environment()
        store.put_environment(env["env_id"], env["python"], env["platform"], env["packages_json"])
        record: dict[str, Any] = {
            "run_id": run_id,
            "name": name or _default_name(now),
            "experiment_id": store.experiment_id(experiment),
            "status": "running",
            "start_time": now,
            "parent_id": parent_id,
            "env_id": env["env_id"],
            "heartbeat": now,
            **capture.process(),
            **(source or capture.source()),
        }
        where = record.get("source_path")
        from pathlib import Path

        start_dir = Path(where).resolve().parent if where else Path.cwd()
        record.update(
            capture.git_info(start_dir, lambda dirty: self._set_dirty(store, run_id, dirty))
        )
        tag_values = {str(k): str(v) for k, v in (tags or {}).items()}
        store.create_run(record, tag_values)
        run = Run(store, run_id, name=record["name"])
        self.stack.append(run)
        self._ensure_thread()
        if record["source_type"] == "script" and record.get("source_path"):
            _capture_script(store, run_id, record["source_path"], now)
        for listener in list(self._listeners):
            fn = listener()
            if fn is not None:
                fn("start", run)
        return run

    def _adopt(self, store: Store | None, tags: dict[str, Any] | None) -> Run | None:
        """The pipeline step's run named by :data:`RUN_ID_ENV_VAR`, made active; else None."""
        from .run import Run

        run_id = os.environ.get(RUN_ID_ENV_VAR)
        if not run_id:
            return None
        run = next((r for r in self.stack if r.run_id == run_id), None)
        if run is None:
            store = store or self.store()
            try:
                store.run_record(run_id)
            except RunNotFoundError:
                raise RunNotFoundError(
                    f"{RUN_ID_ENV_VAR}={run_id} names no run in {store.root}: "
                    "this kernel was started for a pipeline step that does not exist",
                    run_id=run_id,
                ) from None
            run = Run(store, run_id)
            self.stack.append(run)
            self._ensure_thread()
        first = run_id not in self.adopted
        self.adopted.add(run_id)
        if tags:
            user_tags = {str(k): str(v) for k, v in tags.items() if not str(k).startswith("mlops.")}
            if user_tags:
                run.store.set_tags(run_id, user_tags)
        if first:
            for listener in list(self._listeners):
                fn = listener()
                if fn is not None:
                    fn("start", run)
        return run

    def is_adopted(self, run: Run | None) -> bool:
        """Whether ``run`` is a pipeline step's run this process adopted (the pipeline ends it)."""
        return run is not None and run.run_id in self.adopted

    def _set_dirty(self, store: Store, run_id: str, dirty: bool | None) -> None:
        if dirty is not None:
            try:
                store.update_run(run_id, git_dirty=int(dirty))
            except Exception:  # the store may be gone (tests); the flag is a nicety
                pass

    def end_run(
        self, run: Run | None = None, status: str = "finished", *, release: bool = False
    ) -> Run | None:
        """End ``run`` (default: the active one) and the children opened after it.

        An adopted run (see the module docstring) is left open unless ``release``:
        the pipeline that created it ends it.
        """
        if status not in STATUSES or status == "running":
            raise InvalidArgumentError(
                f"status: expected one of finished, failed, killed; got {status!r}"
            )
        run = run or self.active
        if run is None or run not in self.stack:
            return None  # nothing open, or already ended (ml.end_run inside a with block)
        if run.run_id in self.adopted:
            if not release:
                return run
            self.adopted.discard(run.run_id)
        rows = self._take(run.run_id)
        # Ending a parent ends the children opened after it, innermost first.
        index = self.stack.index(run)
        for child in reversed(self.stack[index + 1 :]):
            child.store.end_run(child.run_id, status, time.time(), self._take(child.run_id))
        run.store.end_run(run.run_id, status, time.time(), rows)
        del self.stack[index:]
        for key in [k for k in self._steps if k[0] == run.run_id]:
            del self._steps[key]
        for listener in list(self._listeners):
            fn = listener()
            if fn is not None:
                fn("end", run)
        return run

    def add_listener(self, fn: Any) -> None:
        """Call ``fn(event, run)`` on run start and end (held weakly)."""
        ref = weakref.WeakMethod(fn) if hasattr(fn, "__self__") else weakref.ref(fn)
        self._listeners.append(ref)

    # -- metrics buffer -----------------------------------------------------------------

    def log_metric(self, run: Run, key: str, value: Any, step: int | None) -> None:
        # The hot path: a few checks and an append under a lock, no I/O.
        if type(key) is not str or not key:
            raise InvalidArgumentError(f"metric key: expected a non-empty string, got {key!r}")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise InvalidArgumentError(
                f"metric {key!r}: expected a number, got {type(value).__name__} {value!r:.60}"
            ) from None
        run_id = run.run_id
        skey = (run_id, key)
        last = self._steps.get(skey, -1)
        if step is None:
            step = last + 1
        elif type(step) is not int:
            step = _as_step(key, step)
        if step > last:
            self._steps[skey] = step
        if run_id not in self._pending_store:
            self._pending_store[run_id] = run.store
        with self._lock:
            pending = self._pending
            pending.append((run_id, key, number, step, time.time()))
        if len(pending) >= FLUSH_ROWS:
            self.flush()

    def _take(self, run_id: str | None = None) -> list[tuple[str, str, float, int, float]]:
        with self._lock:
            if run_id is None:
                rows, self._pending = self._pending, []
            else:
                rows = [r for r in self._pending if r[0] == run_id]
                if rows:
                    self._pending = [r for r in self._pending if r[0] != run_id]
            return rows

    def _put_back(self, rows: list[tuple[str, str, float, int, float]]) -> None:
        """Return rows that could not be written to the front of the buffer (they are older)."""
        if rows:
            with self._lock:
                self._pending = rows + self._pending

    def flush(self) -> None:
        """Write every buffered metric now (one transaction per store).

        When a store's write fails, its rows (and those of the stores not tried
        yet) go back to the buffer in their order and the error is raised; the
        next flush writes them. A failed transaction is rolled back, so a
        retried row is never stored twice.
        """
        with self._flush_lock:
            rows = self._take()
            self._last_flush = time.monotonic()
            if not rows:
                return
            by_store: dict[Store, list[int]] = {}  # the indices of each store's rows
            written: set[Store] = set()
            try:
                for index, row in enumerate(rows):
                    store = self._pending_store.get(row[0]) or self.store()
                    by_store.setdefault(store, []).append(index)
                now = time.time()
                for store, indices in by_store.items():
                    store.log_metrics([rows[i] for i in indices], heartbeat=now)
                    written.add(store)
            except BaseException:
                done = {i for store in written for i in by_store[store]}
                self._put_back([row for i, row in enumerate(rows) if i not in done])
                raise

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="mlops-lab-flush", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.wait(FLUSH_INTERVAL_S)
            self._wake.clear()
            try:
                if self._pending:
                    self.flush()
                if self.stack and time.monotonic() - self._last_beat >= HEARTBEAT_INTERVAL_S:
                    self._last_beat = time.monotonic()
                    runs = list(self.stack)
                    for run in runs:
                        run.store.heartbeat([run.run_id], time.time())
            except Exception as exc:  # never let the thread die; retried next tick
                print(f"mlops-lab: background flush failed: {exc}", file=sys.stderr)

    # -- dead runs ----------------------------------------------------------------------

    def reap(self, store: Store) -> None:
        """Mark running runs whose process is gone (or whose heartbeat is stale) killed."""
        from ..store.store import STALE_HEARTBEAT_S

        here = capture.process()["host"]
        mine = {r.run_id for r in self.stack}
        now = time.time()
        dead = []
        for run_id, host, pid, start, beat in store.running_runs():
            if run_id in mine:
                continue
            if host == here and pid is not None:
                if not capture.pid_alive(pid, start):
                    dead.append(run_id)
            elif beat is not None and now - beat > STALE_HEARTBEAT_S:
                dead.append(run_id)
        if dead and not store.db.read_only:  # a read-only store is read as it stands
            store.mark_killed(dead, now)

    def close_all(self, status: str) -> None:
        """End every open run, innermost first; adopted runs are only let go of."""
        while self.stack:
            run = self.stack[-1]
            if run.run_id in self.adopted:
                self.stack.pop()
                continue
            self.end_run(run, status)

    def shutdown(self) -> None:
        """Interpreter exit: write what is buffered and close the runs still open."""
        try:
            self.close_all("finished")
            self.flush()
            capture.wait_for_git()
        except Exception as exc:
            print(f"mlops-lab: could not close runs at exit: {exc}", file=sys.stderr)


def _as_step(key: str, step: Any) -> int:
    if isinstance(step, bool):
        raise InvalidArgumentError(f"step of metric {key!r}: expected an integer, got {step!r}")
    try:
        return int(step)
    except (TypeError, ValueError):
        raise InvalidArgumentError(
            f"step of metric {key!r}: expected an integer, got {step!r}"
        ) from None


def _default_name(now: float) -> str:
    return "run-" + time.strftime("%Y%m%d-%H%M%S", time.localtime(now))


def _capture_script(store: Store, run_id: str, path: str, now: float) -> None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return
    store.add_cell(run_id, {"source": text, "status": "ok", "started": now, "kind": "script"})


_session: Session | None = None
_session_lock = threading.Lock()


def session() -> Session:
    """The process-wide session, created on first use."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                _session = Session()
                atexit.register(_session.shutdown)
                _install_excepthook()
    return _session


def reset() -> None:
    """Forget the process's open runs and stores (tests, and ``%reset``-like fresh starts).

    Buffered metrics are written first; open runs are left as they are in the store.
    """
    if _session is None:
        return
    _session.flush()
    _session.stack.clear()
    _session.adopted.clear()
    _session._steps.clear()
    _session._stores.clear()


def _install_excepthook() -> None:
    """A script that dies with an exception leaves its open runs ``failed``."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb) -> None:
        if _session is not None:
            try:
                _session.close_all("failed")
            except Exception:
                pass
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def resolve(ref: Any, store: Store | None = None) -> tuple[Store, str]:
    """A run reference (Run, id, prefix, name) to its store and full id."""
    store = store or getattr(ref, "store", None) or session().store()
    if ref is None:
        active = session().active
        if active is not None:
            return active.store, active.run_id
        last = store.last_run_id()
        if last is None:
            raise RunNotFoundError(f"no runs yet in {store.root}")
        return store, last
    run_id = getattr(ref, "run_id", None) or str(ref)
    return store, store.resolve_run(run_id)
