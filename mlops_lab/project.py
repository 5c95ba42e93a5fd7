"""The :class:`Project`: one store and the tracking state that goes with it.

A ``Project`` owns its :class:`~mlops_lab.store.Store`, its open runs, its
metric buffer and the background thread that flushes the buffer and beats the
heartbeat of its open runs. The active run lives in a
:class:`contextvars.ContextVar`, so each thread and each asyncio task has its
own: a new thread starts with no active run, and a run started in a thread or
a task never becomes another one's active run::

    with ml.Project("/tmp/exp/.mlops") as project:
        with project.start_run("baseline"):
            project.log_metric("acc", 0.93)
        project.runs()

The module functions (``ml.start_run``, ``ml.log_metric``, ``ml.runs``...)
are shortcuts over :func:`default_project`, created on first use at the store
found from the working directory (see :mod:`mlops_lab.store.locate`), or the
one :func:`set_default_root` names. Anything that needs another store (a sweep
worker, a merge, the server, the Jupyter routes) makes its own ``Project`` or
``Store``; nothing swaps a global.

Logging a metric appends a tuple to a list under a lock: microseconds, no
transaction. The buffer is written in one transaction when it holds
:data:`FLUSH_ROWS` rows, by the background thread every
:data:`FLUSH_INTERVAL_S`, when a run ends, before any read of the store (so
reads see every value), at the end of every notebook cell, when the project
closes and at interpreter exit.

What is one per process by nature (the table of scikit-learn methods autolog
patched, the git watcher thread, the kernel pool, the executor registry) is
held here too, by :func:`process_resource`, so no other module keeps state of
its own: per-project state lives on the ``Project``, per-shell state on the
IPython extension object.

Inside a pipeline kernel the pipeline has already created the step's run and
names it in :data:`RUN_ID_ENV_VAR`: a top-level ``start_run`` of the default
project (or of a ``Project(adopt=True)``) *adopts* that run instead of opening another, and ending it is left to
the pipeline, so the notebook's code runs unchanged.
"""

from __future__ import annotations

import atexit
import contextvars
import os
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .errors import (
    InvalidArgumentError,
    NoActiveRunError,
    RunAlreadyActiveError,
    RunNotFoundError,
)
from .store import Store
from .store.locate import find_root
from .store.metric_values import MetricRow
from .tracking import capture
from .tracking.run import Run, param_value

if TYPE_CHECKING:
    import pandas as pd

    from .store.merge import MergeReport

FLUSH_ROWS = 5000
FLUSH_INTERVAL_S = 1.0
HEARTBEAT_INTERVAL_S = 30.0
STATUSES = ("running", "finished", "failed", "killed")
RUN_ID_ENV_VAR = "MLOPS_LAB_RUN_ID"

T = TypeVar("T")


class Project:
    """A store with its open runs and metric buffer (see the module docstring).

    Parameters
    ----------
    path
        The store folder (holding ``mlops.db`` and ``blobs/``; created when first
        written). Default: the store found from the working directory, as
        :func:`mlops_lab.store.find_root` finds it (``MLOPS_LAB_HOME``, else the
        nearest ``.mlops/`` up from the working directory, else ``./.mlops/``).
    adopt
        A top-level :meth:`start_run` adopts the pipeline step's run named by
        :data:`RUN_ID_ENV_VAR` when it is set, as the default project does in a
        pipeline kernel (see the module docstring).

    A project is a context manager: leaving the block ends its open runs
    (``failed`` if the block raised, else ``finished``) and writes what is
    buffered. Projects still open at interpreter exit are closed the same way.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *, adopt: bool = False) -> None:
        root = Path(path).expanduser().resolve() if path is not None else find_root()
        self._store = Store(root)
        self._runs: contextvars.ContextVar[tuple[Run, ...]] = contextvars.ContextVar(
            f"mlops_lab_runs_{id(self):x}", default=()
        )
        self._open: dict[str, Run] = {}  # every open run, whichever context opened it
        self._pending: list[MetricRow] = []
        self._pending_store: dict[str, Store] = {}
        self._steps: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_flush = time.monotonic()
        self._last_beat = time.monotonic()
        self._listeners: list[weakref.ReferenceType] = []
        self._closed = False
        self.adopts = adopt
        self.adopted: set[str] = set()
        # scikit-learn autolog's settings for this project; None when it is off here
        # (see :meth:`autolog` and :mod:`mlops_lab.tracking.autolog`).
        self.autolog_settings: Any = None
        _track(self)

    def __repr__(self) -> str:
        state = " closed" if self._closed else ""
        return f"<Project {self._store.root}{state}>"

    # -- the store ------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The project's store."""
        return self._store

    @property
    def root(self) -> Path:
        """The store folder."""
        return self._store.root

    # -- open and close -------------------------------------------------------------------

    def __enter__(self) -> Project:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close("failed" if exc_type is not None else "finished")

    def close(self, status: str = "finished") -> None:
        """End the open runs (``status``), write what is buffered, stop the background thread.

        Closing twice does nothing. The store stays readable: its connection is
        reopened on the next read.
        """
        if self._closed:
            return
        try:
            self.close_all(status)
            self.flush()
            watcher = peek_process_resource(GIT_WATCHER)
            if watcher is not None:
                watcher.wait(1.0)
        finally:
            self._stop()
            self._store.db.close()

    def detach(self) -> None:
        """Write what is buffered and forget the open runs, leaving them as they are in the store."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._open.clear()
            self._runs.set(())
            self.adopted.clear()
            self._steps.clear()
            self._stop()

    def _stop(self) -> None:
        self._closed = True
        self.autolog_settings = None
        self._wake.set()
        _untrack(self)

    # -- runs ---------------------------------------------------------------------------

    @property
    def stack(self) -> RunStack:
        """The open runs of this thread or task, outermost first (the last is active)."""
        return RunStack(self._runs)

    @property
    def active(self) -> Run | None:
        """The run that logging calls go to in this thread or task, or ``None``."""
        runs = self._runs.get()
        return runs[-1] if runs else None

    def active_run(self) -> Run | None:
        """The run that logging calls go to in this thread or task, or ``None``."""
        return self.active

    def require_active(self, what: str) -> Run:
        runs = self._runs.get()
        if not runs:
            raise NoActiveRunError(
                f"{what} needs an open run: call ml.start_run() (or %mlops start) first"
            )
        return runs[-1]

    @contextmanager
    def top_level(self) -> Iterator[None]:
        """Inside the block no run is active, so a run started there is a top-level run.

        The runs open before the block are active again after it.
        """
        saved = self._runs.get()
        self._runs.set(())
        try:
            yield
        finally:
            self._runs.set(saved + tuple(r for r in self._runs.get() if r.run_id in self._open))

    def start_run(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        tags: dict[str, Any] | None = None,
        parent: Run | str | bool | None = None,
        source: dict[str, Any] | None = None,
        store: Store | None = None,
    ) -> Run:
        """Open a run in this project and make it the active one (of this thread or task).

        Parameters
        ----------
        name
            A readable name (default: ``run-YYYYmmdd-HHMMSS``). Names need not be unique.
        experiment
            The experiment to file the run under (created on first use; default ``default``).
        tags
            Initial tags.
        parent
            A parent run (``Run`` or id) to open a child run while the parent stays open;
            ``True`` means the active run.
        source
            What ran (``source_type``, ``source_path``); default: found from the process.
        store
            Open the run in another store, buffered and closed by this project
            (a throwaway check run); default: the project's store.

        Returns
        -------
        Run
            Also a context manager: the run ends ``finished``, or ``failed`` if the block raises.
        """
        self._check_open()
        if parent is None or parent is False:
            adopted = self._adopt(store, tags)
            if adopted is not None:
                return adopted
        runs = self._runs.get()
        parent_id: str | None = None
        if parent is not None and parent is not False:
            if parent is True:
                parent_id = self.require_active("start_run(parent=True)").run_id
            else:
                parent_id = getattr(parent, "run_id", None) or str(parent)
        elif runs:
            raise RunAlreadyActiveError(
                f"run {runs[-1].run_id[:8]} ({runs[-1].name}) is still open: "
                "end it with ml.end_run(), or pass parent= to start a child run",
                run_id=runs[-1].run_id,
            )
        store = store or (runs[-1].store if runs else self._store)
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
        start_dir = Path(where).resolve().parent if where else Path.cwd()
        record.update(git_watcher().info(start_dir, lambda dirty: _set_dirty(store, run_id, dirty)))
        tag_values = {str(k): str(v) for k, v in (tags or {}).items()}
        store.create_run(record, tag_values)
        run = Run(store, run_id, name=record["name"], project=self)
        self._open[run_id] = run
        self._runs.set((*self._runs.get(), run))
        self._ensure_thread()
        if record["source_type"] == "script" and record.get("source_path"):
            _capture_script(store, run_id, record["source_path"], now)
        self._notify("start", run)
        return run

    def _adopt(self, store: Store | None, tags: dict[str, Any] | None) -> Run | None:
        """The pipeline step's run named by :data:`RUN_ID_ENV_VAR`, made active; else None."""
        run_id = os.environ.get(RUN_ID_ENV_VAR) if self.adopts else None
        if not run_id:
            return None
        run = self._open.get(run_id)
        if run is None:
            store = store or self._store
            try:
                store.run_record(run_id)
            except RunNotFoundError:
                raise RunNotFoundError(
                    f"{RUN_ID_ENV_VAR}={run_id} names no run in {store.root}: "
                    "this kernel was started for a pipeline step that does not exist",
                    run_id=run_id,
                ) from None
            run = Run(store, run_id, project=self)
            self._open[run_id] = run
            self._ensure_thread()
        if run not in self._runs.get():
            self._runs.set((*self._runs.get(), run))
        first = run_id not in self.adopted
        self.adopted.add(run_id)
        if tags:
            user_tags = {str(k): str(v) for k, v in tags.items() if not str(k).startswith("mlops.")}
            if user_tags:
                run.store.set_tags(run_id, user_tags)
        if first:
            self._notify("start", run)
        return run

    def is_adopted(self, run: Run | None) -> bool:
        """Whether ``run`` is a pipeline step's run this project adopted (the pipeline ends it)."""
        return run is not None and run.run_id in self.adopted

    def end_run(
        self, status: str = "finished", *, run: Run | None = None, release: bool = False
    ) -> Run | None:
        """End the active run (or ``run``) and the child runs opened after it.

        The metrics buffered for them are written in the same transaction; when
        that fails they stay buffered and the run stays open, so nothing logged
        is lost and ending can be retried. An adopted run (see the module
        docstring) is left open unless ``release``: the pipeline that created it
        ends it. Returns the run ended, or ``None`` when none was open.
        """
        if status not in STATUSES or status == "running":
            raise InvalidArgumentError(
                f"status: expected one of finished, failed, killed; got {status!r}"
            )
        run = run or self.active
        if run is None or run.run_id not in self._open:
            return None  # nothing open, or already ended (ml.end_run inside a with block)
        if run.run_id in self.adopted:
            if not release:
                return run
            self.adopted.discard(run.run_id)
        runs = self._runs.get()
        # Ending a parent ends the children opened after it, innermost first.
        doomed = runs[runs.index(run) :] if run in runs else (run,)
        doomed = tuple(r for r in doomed if r.run_id in self._open)
        try:
            for target in reversed(doomed):
                rows = self._take(target.run_id)
                try:
                    target.store.end_run(target.run_id, status, time.time(), rows)
                except BaseException:
                    self._put_back(rows)
                    raise
                del self._open[target.run_id]
                for key in [k for k in self._steps if k[0] == target.run_id]:
                    del self._steps[key]
        finally:
            self._runs.set(tuple(r for r in self._runs.get() if r.run_id in self._open))
        self._notify("end", run)
        return run

    def close_all(self, status: str) -> None:
        """End every open run of every thread and task, innermost first; adopted runs are let go."""
        for run in reversed(list(self._open.values())):
            if run.run_id not in self._open:
                continue  # ended with its parent
            if run.run_id in self.adopted:
                del self._open[run.run_id]
                continue
            self.end_run(status, run=run, release=True)
        self._runs.set(())

    def add_listener(self, fn: Any) -> None:
        """Call ``fn(event, run)`` on run start and end (held weakly; once however often added)."""
        ref = weakref.WeakMethod(fn) if hasattr(fn, "__self__") else weakref.ref(fn)
        if ref not in self._listeners:
            self._listeners.append(ref)

    def _notify(self, event: str, run: Run) -> None:
        for listener in list(self._listeners):
            fn = listener()
            if fn is not None:
                fn(event, run)

    def _check_open(self) -> None:
        if self._closed:
            from .errors import StoreError

            raise StoreError(
                f"the project at {self._store.root} is closed: open a new ml.Project to log",
                path=str(self._store.root),
            )

    # -- logging --------------------------------------------------------------------------

    def _target(self, run: Run | None, what: str) -> Run:
        return run if run is not None else self.require_active(what)

    def log_param(self, key: str, value: Any, *, run: Run | None = None) -> None:
        """Log one param. Params are immutable: a different value for the same key raises."""
        self.log_params({key: value}, run=run)

    def log_params(self, params: dict[str, Any], *, run: Run | None = None) -> None:
        """Log several params at once (all or none are stored)."""
        target = self._target(run, "log_params")
        if not isinstance(params, dict):
            raise InvalidArgumentError(f"params: expected a dict, got {type(params).__name__}")
        items = []
        for key, value in params.items():
            if not isinstance(key, str) or not key:
                raise InvalidArgumentError(f"param key: expected a non-empty string, got {key!r}")
            text, vtype = param_value(key, value)
            items.append((key, text, vtype))
        target.store.log_params(target.run_id, items)

    def log_metric(
        self, key: str, value: float, step: int | None = None, *, run: Run | None = None
    ) -> None:
        """Log a metric value; ``step`` defaults to one more than the key's last step."""
        if run is None:
            runs = self._runs.get()
            run = runs[-1] if runs else self.require_active("log_metric")
        self.buffer_metric(run, key, value, step)

    def log_metrics(
        self, metrics: dict[str, float], step: int | None = None, *, run: Run | None = None
    ) -> None:
        """Log several metrics, all at ``step`` when given."""
        target = self._target(run, "log_metrics")
        if not isinstance(metrics, dict):
            raise InvalidArgumentError(f"metrics: expected a dict, got {type(metrics).__name__}")
        for key, value in metrics.items():
            self.buffer_metric(target, key, value, step)

    def set_tag(self, key: str, value: Any, *, run: Run | None = None) -> None:
        """Set a tag on the active run (tags, unlike params, may change)."""
        self._target(run, "set_tag").set_tag(key, value)

    def set_tags(self, tags: dict[str, Any], *, run: Run | None = None) -> None:
        """Set several tags on the active run."""
        target = self._target(run, "set_tags")
        if not isinstance(tags, dict):
            raise InvalidArgumentError(f"tags: expected a dict, got {type(tags).__name__}")
        target.store.set_tags(target.run_id, {str(k): str(v) for k, v in tags.items()})

    def log_artifact(
        self,
        path_or_bytes: str | os.PathLike[str] | bytes,
        name: str | None = None,
        *,
        run: Run | None = None,
    ) -> str:
        """Store a file (or bytes) with the active run; return the artifact's digest.

        The content is kept once in the store's blob folder however many runs log it.
        """
        target = self._target(run, "log_artifact")
        store = target.store
        if isinstance(path_or_bytes, bytes | bytearray):
            if not name:
                raise InvalidArgumentError("log_artifact: bytes need a name= for the artifact")
            digest, size = store.blobs.put_bytes(bytes(path_or_bytes))
        else:
            path = Path(path_or_bytes)
            if not path.is_file():
                raise InvalidArgumentError(f"log_artifact: no file at {str(path)!r}")
            digest, size = store.blobs.put_file(path)
            name = name or path.name
        store.add_artifact(target.run_id, name, digest, size, kind="file")
        return digest

    def log_model(
        self,
        model: Any,
        name: str = "model",
        *,
        input_example: Any = None,
        run: Run | None = None,
    ) -> str:
        """Save a fitted scikit-learn model with the active run (see :func:`mlops_lab.log_model`)."""
        from .tracking.models import log_model

        target = self._target(run, "log_model")
        return log_model(model, name, input_example=input_example, run=target)

    def load_model(
        self, run: Run | str | None = None, name: str = "model", *, trusted: list[str] | None = None
    ) -> Any:
        """Load a model a run of this project logged (see :func:`mlops_lab.load_model`).

        Registry references (``"name@alias"``, ``"name/3"``) are loaded by
        ``ml.load_model(ref, project=project)``: the registry sits above the project.
        """
        from .tracking.models import load_model

        if isinstance(run, str) and ("@" in run or "/" in run or run.startswith("runs:/")):
            raise InvalidArgumentError(
                f"{run!r} is a registry reference: load it with ml.load_model(ref, project=project)"
            )
        target = run if isinstance(run, Run) else self.get_run(run)
        return load_model(target, name, trusted=trusted)

    def autolog(
        self,
        enable: bool = True,
        *,
        log_models: bool = True,
        log_datasets: bool = True,
        max_tuning_runs: int | None = 5,
        silent: bool = False,
    ) -> None:
        """Turn scikit-learn autologging on (or off) for this project (see :func:`mlops_lab.autolog`).

        Each autologged fit goes to the project whose run is active in the fitting
        thread or task, among those with autolog on, else to the project that turned
        it on last. Turning it off here leaves it on in other projects.
        """
        from .tracking.autolog import autolog

        autolog(
            enable,
            log_models=log_models,
            log_datasets=log_datasets,
            max_tuning_runs=max_tuning_runs,
            silent=silent,
            project=self,
        )

    # -- the metric buffer ----------------------------------------------------------------

    def buffer_metric(self, run: Run, key: str, value: Any, step: int | None) -> None:
        """Append one metric value of ``run`` to the buffer (the hot path: no I/O)."""
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
        elif self._thread is None:
            self._ensure_thread()

    def _take(self, run_id: str | None = None) -> list[MetricRow]:
        with self._lock:
            if run_id is None:
                rows, self._pending = self._pending, []
            else:
                rows = [r for r in self._pending if r[0] == run_id]
                if rows:
                    self._pending = [r for r in self._pending if r[0] != run_id]
            return rows

    def _put_back(self, rows: list[MetricRow]) -> None:
        """Return rows that could not be written to the front of the buffer (they are older)."""
        if rows:
            with self._lock:
                self._pending = rows + self._pending

    def pending(self) -> list[MetricRow]:
        """The buffered metric rows not written yet: ``(run_id, key, value, step, time)``."""
        with self._lock:
            return list(self._pending)

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
                    store = self._pending_store.get(row[0]) or self._store
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
        if self._closed:
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=_background, args=(weakref.ref(self),), name="mlops-lab-flush", daemon=True
            )
            self._thread.start()

    def _tick(self) -> None:
        if self._pending:
            self.flush()
        if self._open and time.monotonic() - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = time.monotonic()
            for run in list(self._open.values()):
                run.store.heartbeat([run.run_id], time.time())

    # -- reading --------------------------------------------------------------------------

    def reap_dead_runs(self) -> list[str]:
        """Mark ``killed`` the running runs of the store whose process is gone.

        A run of this host whose process no longer exists, or a run of another
        host whose heartbeat is older than the stale limit; this project's own
        open runs are never touched, and a read-only store is read as it stands.
        :meth:`runs` calls it before reading. Returns the ids marked.
        """
        return self._store.reap_dead_runs(
            host=capture.process()["host"], alive=capture.pid_alive, keep=set(self._open)
        )

    def get_run(self, run_id: str | Run | None = None) -> Run:
        """A run by id, unique id prefix or name (the latest run of that name).

        With no argument: the active run, else the latest run.
        """
        store, full = self.resolve(run_id)
        self.flush()
        return Run(store, full, project=self)

    def resolve(self, ref: Any) -> tuple[Store, str]:
        """A run reference (Run, id, prefix, name; ``None``: active, else latest) to store and id."""
        if ref is None:
            active = self.active
            if active is not None:
                return active.store, active.run_id
            last = self._store.last_run_id()
            if last is None:
                raise RunNotFoundError(f"no runs yet in {self._store.root}")
            return self._store, last
        store = getattr(ref, "store", None) or self._store
        run_id = getattr(ref, "run_id", None) or str(ref)
        return store, store.resolve_run(run_id)

    def runs(
        self,
        *,
        experiment: str | list[str] | None = None,
        filter: str | None = None,
        order_by: str | list[str] | None = None,
        limit: int | None = None,
        group_by: str | list[str] | None = None,
    ) -> pd.DataFrame:
        """The project's runs as a DataFrame, newest first (see :func:`mlops_lab.runs`).

        Buffered metrics are written first, and runs whose process died are
        marked ``killed`` (:meth:`reap_dead_runs`).
        """
        from .store.query import group_runs, runs_frame

        if limit is not None and (not isinstance(limit, int) or limit < 0):
            raise InvalidArgumentError(f"limit: expected a non-negative integer, got {limit!r}")
        self.flush()
        self.reap_dead_runs()
        frame = runs_frame(
            self._store, experiment=experiment, filter=filter, order_by=order_by, limit=limit
        )
        if group_by is not None:
            return group_runs(frame, group_by)
        return frame

    def merge(self, other_root: str | os.PathLike[str]) -> MergeReport:
        """Merge another store into this project's (see :func:`mlops_lab.merge`)."""
        from .store.merge import merge_store

        self.flush()
        return merge_store(self._store, other_root)


class RunStack(MutableSequence[Run]):
    """The open runs of the current thread or task, as a list whose edits stay in it.

    Backed by the project's ``ContextVar`` holding a tuple: each edit sets a
    new tuple, so a task that inherited the stack never edits its parent's.
    """

    def __init__(self, var: contextvars.ContextVar[tuple[Run, ...]]) -> None:
        self._var = var

    @overload
    def __getitem__(self, index: int) -> Run: ...
    @overload
    def __getitem__(self, index: slice) -> MutableSequence[Run]: ...
    def __getitem__(self, index: int | slice) -> Run | MutableSequence[Run]:
        runs = self._var.get()
        if isinstance(index, slice):
            return list(runs[index])
        return runs[index]

    @overload
    def __setitem__(self, index: int, value: Run) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[Run]) -> None: ...
    def __setitem__(self, index: int | slice, value: Any) -> None:
        runs = list(self._var.get())
        runs[index] = value
        self._var.set(tuple(runs))

    def __delitem__(self, index: int | slice) -> None:
        runs = list(self._var.get())
        del runs[index]
        self._var.set(tuple(runs))

    def __len__(self) -> int:
        return len(self._var.get())

    def insert(self, index: int, value: Run) -> None:
        runs = list(self._var.get())
        runs.insert(index, value)
        self._var.set(tuple(runs))

    def clear(self) -> None:
        self._var.set(())

    def __repr__(self) -> str:
        return repr(list(self._var.get()))


# -- the default project ------------------------------------------------------------------

_default: Project | None = None
_default_root: Path | None = None
_default_lock = threading.Lock()
_live: weakref.WeakSet[Project] = weakref.WeakSet()
_hooks_installed = False
_hooks_lock = threading.Lock()


def default_project() -> Project:
    """The project the module functions (``ml.start_run``, ``ml.runs``...) use, made on first use.

    Its store is the one :func:`set_default_root` names, else the one found
    from the working directory when it is made; it adopts the pipeline step's
    run named by ``MLOPS_LAB_RUN_ID``.
    """
    project = _default
    if project is None or project._closed:
        with _default_lock:
            project = _default
            if project is None or project._closed:
                project = _new_default()
    return project


def _new_default() -> Project:
    global _default
    project = Project(_default_root, adopt=True)
    _default = project
    return project


def current_default() -> Project | None:
    """The default project if it was made (and is open), without making one."""
    project = _default
    return None if project is None or project._closed else project


def set_default_root(path: str | os.PathLike[str] | None) -> None:
    """Use the store at ``path`` for the module functions (``None`` restores discovery).

    The current default project writes what it buffered and is let go of (its
    open runs stay as they are in the store); the next module call makes a
    new one at ``path``. The ``%config MlopsMagics.store`` setting and
    ``mlops-lab --store`` use this.
    """
    global _default_root
    previous = current_default()
    settings = previous.autolog_settings if previous is not None else None
    with _default_lock:
        _default_root = Path(path).expanduser().resolve() if path is not None else None
    reset_default()
    if settings is not None:  # scikit-learn autolog stays on for the new default project
        default_project().autolog_settings = settings


def reset_default() -> None:
    """Let go of the default project: its buffer is written, its open runs are left as they are.

    Its autolog settings go with it, and so do the process resources made with
    ``reset=True`` (see :func:`process_resource`).
    """
    global _default
    with _default_lock:
        project, _default = _default, None
    if project is not None:
        project.detach()
    with _resources_lock:
        doomed = [key for key, (_, _, reset) in _resources.items() if reset]
        entries = [_resources.pop(key) for key in doomed]
    _close_resources(entries)


# -- process resources --------------------------------------------------------------------

# key -> (the instance, how to close it or None, dropped by reset_default?)
_resources: dict[str, tuple[Any, Callable[[Any], None] | None, bool]] = {}
_resources_lock = threading.RLock()
_fork_unsafe: set[str] = set()  # keys a forked child makes anew (their threads stay behind)
GIT_WATCHER = "tracking.git_watcher"


def process_resource(
    key: str,
    factory: Callable[[], T],
    *,
    close: Callable[[T], None] | None = None,
    reset: bool = False,
    inherit: bool = True,
    stale: Callable[[T], bool] | None = None,
) -> T:
    """The one instance of ``key`` in this process, made by ``factory()`` on first use.

    For what is process-wide by nature (a patch table, a watcher thread, a pool
    of kernels, a registry), so that no module keeps state of its own. Thread-safe:
    ``factory`` runs once, under a lock, even when threads ask at the same time.

    Parameters
    ----------
    key
        A name unique in the process, by convention ``"<package>.<what>"``.
    factory
        Makes the instance (called without arguments).
    close
        Called with the instance by :func:`close_all_projects` (interpreter exit,
        a pipeline kernel's last cell) and by :func:`discard_process_resource`.
    reset
        :func:`reset_default` lets go of it too (closing it), like the default project.
    inherit
        ``False``: a forked child does not use the parent's instance (one that runs
        threads, which a child does not have) but makes its own on first use.
    stale
        ``stale(instance)`` true: the instance is done with (a pool closed by its own
        exit path), and a new one is made in its place.
    """
    entry = _resources.get(key)
    if entry is None or (stale is not None and stale(entry[0])):
        with _resources_lock:
            entry = _resources.get(key)
            if entry is None or (stale is not None and stale(entry[0])):
                entry = (factory(), close, reset)
                _resources[key] = entry
                if not inherit:
                    _fork_unsafe.add(key)
    return entry[0]  # type: ignore[no-any-return]


def git_watcher() -> capture.GitWatcher:
    """The process's git watcher: repositories seen, and the thread running ``git status``."""
    return process_resource(GIT_WATCHER, capture.GitWatcher, inherit=False)


def _after_fork() -> None:
    # A forked child has none of the parent's threads: what runs them is made anew.
    for key in list(_fork_unsafe):
        _resources.pop(key, None)


os.register_at_fork(after_in_child=_after_fork)


def peek_process_resource(key: str) -> Any | None:
    """The instance of ``key`` if it was made, without making one."""
    entry = _resources.get(key)
    return None if entry is None else entry[0]


def discard_process_resource(key: str) -> None:
    """Close and forget the instance of ``key`` (the next :func:`process_resource` makes one)."""
    with _resources_lock:
        entry = _resources.pop(key, None)
    if entry is not None:
        _close_resources([entry])


def _close_resources(entries: list[tuple[Any, Callable[[Any], None] | None, bool]]) -> None:
    for value, close, _ in entries:
        if close is not None:
            try:
                close(value)
            except Exception as exc:
                print(f"mlops-lab: could not close {value!r}: {exc}", file=sys.stderr)


def merge(
    other_root: str | os.PathLike[str],
    *,
    store: Store | None = None,
    project: Project | None = None,
) -> MergeReport:
    """Merge another store (a folder holding ``mlops.db`` and ``blobs/``) into this project's.

    Parameters
    ----------
    other_root
        The other store's folder (a colleague's ``.mlops/``, a worker's store).
    store
        The store merged into (default: the project's).
    project
        The project merged into (default: :func:`~mlops_lab.default_project`).

    Returns
    -------
    MergeReport
        Rows added per table, blobs copied, model versions given new numbers.
        Merging the same store again adds nothing.

    Examples
    --------
    >>> ml.merge("/shared/alice/.mlops")              # doctest: +SKIP
    merged /shared/alice/.mlops: 1532 rows, 41 blobs
    """
    if store is not None:
        from .store.merge import merge_store

        return merge_store(store, other_root)
    return (project if project is not None else default_project()).merge(other_root)


def flush_for(store: Store) -> None:
    """Write what any open project buffered for runs of ``store``, so a read sees every value."""
    for project in list(_live):
        if project._pending and (
            project._store.root == store.root
            or any(s.root == store.root for s in project._pending_store.values())
        ):
            project.flush()


def open_projects() -> list[Project]:
    """The projects of this process that are open (made and not closed yet)."""
    return [project for project in list(_live) if not project._closed]


def _track(project: Project) -> None:
    global _hooks_installed
    _live.add(project)
    if not _hooks_installed:
        with _hooks_lock:
            if not _hooks_installed:
                _hooks_installed = True
                atexit.register(close_all_projects)
                _install_excepthook()


def _untrack(project: Project) -> None:
    _live.discard(project)


def close_all_projects() -> None:
    """Every open project writes its buffer and closes its open runs (interpreter exit, and
    a pipeline kernel after its last cell); the closable process resources are closed."""
    for project in list(_live):
        try:
            project.close("finished")
        except Exception as exc:
            print(f"mlops-lab: could not close runs at exit: {exc}", file=sys.stderr)
    with _resources_lock:
        entries = [entry for entry in _resources.values() if entry[1] is not None]
        for key in [k for k, entry in _resources.items() if entry[1] is not None]:
            del _resources[key]
    _close_resources(entries)


def _install_excepthook() -> None:
    """A script that dies with an exception leaves its open runs ``failed``."""
    previous = sys.excepthook

    def hook(exc_type, exc, tb) -> None:  # type: ignore[no-untyped-def]
        for project in list(_live):
            try:
                project.close_all("failed")
            except Exception:
                pass
        previous(exc_type, exc, tb)

    sys.excepthook = hook


def _background(ref: weakref.ReferenceType[Project]) -> None:
    """The flush and heartbeat thread of a project; ends when the project closes or is gone."""
    while True:
        project = ref()
        if project is None or project._closed:
            return
        wake = project._wake
        del project  # not kept alive by its own thread while waiting
        wake.wait(FLUSH_INTERVAL_S)
        wake.clear()
        project = ref()
        if project is None or project._closed:
            return
        try:
            project._tick()
        except Exception as exc:  # never let the thread die; retried next tick
            print(f"mlops-lab: background flush failed: {exc}", file=sys.stderr)
        del project


def _set_dirty(store: Store, run_id: str, dirty: bool | None) -> None:
    if dirty is not None:
        try:
            store.update_run(run_id, git_dirty=int(dirty))
        except Exception:  # the store may be gone (tests); the flag is a nicety
            pass


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
