"""The tracking API: the functions ``import mlops_lab as ml`` exposes.

Each acts on the active run (the innermost one opened by :func:`start_run`)
unless a ``run=`` is given. Reads (:func:`runs`, :func:`get_run`) flush the
metric buffer first and mark runs whose process died as ``killed``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from .run import Run, param_value
from .session import resolve, session

if TYPE_CHECKING:
    import pandas as pd


def start_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    tags: dict[str, Any] | None = None,
    parent: Run | str | bool | None = None,
) -> Run:
    """Open a run and make it the active one.

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

    Returns
    -------
    Run
        Also a context manager: the run ends ``finished``, or ``failed`` if the block raises.
    """
    return session().start_run(name, experiment=experiment, tags=tags, parent=parent)


def end_run(status: str = "finished") -> None:
    """End the active run (and any child runs opened after it)."""
    session().end_run(None, status)


def active_run() -> Run | None:
    """The run that logging calls go to, or ``None``."""
    return session().active


def _target(run: Run | None, what: str) -> Run:
    return run if run is not None else session().require_active(what)


def log_param(key: str, value: Any) -> None:
    """Log one param. Params are immutable: a different value for the same key raises."""
    log_params({key: value})


def log_params(params: dict[str, Any], *, run: Run | None = None) -> None:
    """Log several params at once (all or none are stored)."""
    target = _target(run, "log_params")
    if not isinstance(params, dict):
        raise InvalidArgumentError(f"params: expected a dict, got {type(params).__name__}")
    items = []
    for key, value in params.items():
        if not isinstance(key, str) or not key:
            raise InvalidArgumentError(f"param key: expected a non-empty string, got {key!r}")
        text, vtype = param_value(key, value)
        items.append((key, text, vtype))
    target.store.log_params(target.run_id, items)


def log_metric(key: str, value: float, step: int | None = None) -> None:
    """Log a metric value; ``step`` defaults to one more than the key's last step."""
    sess = session()
    stack = sess.stack
    run = stack[-1] if stack else sess.require_active("log_metric")
    sess.log_metric(run, key, value, step)


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Log several metrics, all at ``step`` when given."""
    sess = session()
    run = sess.require_active("log_metrics")
    if not isinstance(metrics, dict):
        raise InvalidArgumentError(f"metrics: expected a dict, got {type(metrics).__name__}")
    for key, value in metrics.items():
        sess.log_metric(run, key, value, step)


def set_tag(key: str, value: Any) -> None:
    """Set a tag on the active run (tags, unlike params, may change)."""
    run = session().require_active("set_tag")
    run.set_tag(key, value)


def set_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the active run."""
    run = session().require_active("set_tags")
    run.store.set_tags(run.run_id, {str(k): str(v) for k, v in tags.items()})


def log_artifact(path_or_bytes: str | os.PathLike[str] | bytes, name: str | None = None) -> str:
    """Store a file (or bytes) with the active run; return the artifact's digest.

    The content is kept once in the store's blob folder however many runs log it.
    """
    run = session().require_active("log_artifact")
    store = run.store
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
    store.add_artifact(run.run_id, name, digest, size, kind="file")
    return digest


def get_run(run_id: str | Run | None = None) -> Run:
    """A run by id, unique id prefix or name (the latest run of that name).

    With no argument: the active run, else the latest run.
    """
    store, full = resolve(run_id)
    sess = session()
    sess.flush()
    sess.reap(store)
    return Run(store, full)


def runs(
    *,
    experiment: str | list[str] | None = None,
    filter: str | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
    group_by: str | list[str] | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, start_time, end_time, duration_s,
    parent_id``, then ``params.<key>``, ``metrics.<key>`` (latest value) and
    ``tags.<key>``.

    Parameters
    ----------
    filter
        e.g. ``"metrics.acc > 0.9 and params.model in ('rf', 'gbm')"``; see
        :mod:`mlops_lab.store.filter` for the language.
    order_by
        e.g. ``"metrics.acc desc"`` or ``["params.C", "start_time desc"]``.
    group_by
        Aggregate repeated runs: one row per group with ``metrics.<key>.mean``,
        ``.std``, ``.min``, ``.max``, ``.count`` and ``runs``.
    """
    from ..store.query import group_runs, runs_frame

    if limit is not None and (not isinstance(limit, int) or limit < 0):
        raise InvalidArgumentError(f"limit: expected a non-negative integer, got {limit!r}")
    sess = session()
    store = sess.store()
    sess.flush()
    sess.reap(store)
    frame = runs_frame(store, experiment=experiment, filter=filter, order_by=order_by, limit=limit)
    if group_by is not None:
        return group_runs(frame, group_by)
    return frame


def flush() -> None:
    """Write buffered metrics now (they are also written in the background)."""
    session().flush()
