"""The tracking calls of a :class:`~mlops_lab.project.Project`, with the run passed first.

The state (open runs, metric buffer, flushing, heartbeats) lives in the
project; :class:`Session` holds none of its own. It is the calling convention
the library's internals use (``session().end_run(run, status)``,
``session().log_metric(run, key, value, step)``), over the default project
unless given another.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..project import (
    FLUSH_INTERVAL_S,
    FLUSH_ROWS,
    HEARTBEAT_INTERVAL_S,
    RUN_ID_ENV_VAR,
    STATUSES,
    Project,
    RunStack,
    default_project,
    reset_default,
)
from ..store import Store

if TYPE_CHECKING:
    from .run import Run

__all__ = [
    "FLUSH_INTERVAL_S",
    "FLUSH_ROWS",
    "HEARTBEAT_INTERVAL_S",
    "RUN_ID_ENV_VAR",
    "STATUSES",
    "Session",
    "reset",
    "resolve",
    "session",
]


class Session:
    """A view of a project (default: the default project, looked up on each call)."""

    def __init__(self, project: Project | None = None) -> None:
        self._project = project

    @property
    def project(self) -> Project:
        return self._project if self._project is not None else default_project()

    def store(self, root: Any = None) -> Store:
        """The project's store, or a store at ``root``."""
        return self.project.store if root is None else Store(root)

    @property
    def stack(self) -> RunStack:
        return self.project.stack

    @property
    def active(self) -> Run | None:
        return self.project.active

    @property
    def adopted(self) -> set[str]:
        return self.project.adopted

    def require_active(self, what: str) -> Run:
        return self.project.require_active(what)

    def is_adopted(self, run: Run | None) -> bool:
        return self.project.is_adopted(run)

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
        return self.project.start_run(
            name, experiment=experiment, tags=tags, parent=parent, store=store, source=source
        )

    def end_run(
        self, run: Run | None = None, status: str = "finished", *, release: bool = False
    ) -> Run | None:
        return self.project.end_run(status, run=run, release=release)

    def log_metric(self, run: Run, key: str, value: Any, step: int | None) -> None:
        self.project.buffer_metric(run, key, value, step)

    def add_listener(self, fn: Any) -> None:
        self.project.add_listener(fn)

    def flush(self) -> None:
        self.project.flush()

    def close_all(self, status: str) -> None:
        self.project.close_all(status)


def session() -> Session:
    """The default project's tracking calls."""
    return Session()


def reset() -> None:
    """Let go of the default project (tests, and fresh starts): see :func:`reset_default`."""
    reset_default()


def resolve(ref: Any, store: Store | None = None) -> tuple[Store, str]:
    """A run reference (Run, id, prefix, name) to its store and full id."""
    project = default_project()
    if store is None:
        return project.resolve(ref)
    if ref is None:
        return project.resolve(None) if project.active is not None else (store, _last(store))
    run_id = getattr(ref, "run_id", None) or str(ref)
    return store, store.resolve_run(run_id)


def _last(store: Store) -> str:
    from ..errors import RunNotFoundError

    last = store.last_run_id()
    if last is None:
        raise RunNotFoundError(f"no runs yet in {store.root}")
    return last
