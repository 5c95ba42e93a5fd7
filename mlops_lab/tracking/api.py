"""The tracking API: the functions ``import mlops_lab as ml`` exposes.

Each is a shortcut over the default :class:`~mlops_lab.project.Project`
(``ml.log_metric(...)`` is ``ml.default_project().log_metric(...)``), or over
``project=`` when given. Each acts on the active run (the innermost one opened
by :func:`start_run` in this thread or task) unless a ``run=`` is given. Reads
(:func:`runs`, :func:`get_run`) flush the metric buffer first; :func:`runs`
also marks runs whose process died as ``killed``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..project import Project, default_project
from .run import Run

if TYPE_CHECKING:
    import pandas as pd


def _project(project: Project | None) -> Project:
    return project if project is not None else default_project()


def start_run(
    name: str | None = None,
    *,
    experiment: str | None = None,
    tags: dict[str, Any] | None = None,
    parent: Run | str | bool | None = None,
    project: Project | None = None,
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
    project
        The project to open it in (default: :func:`~mlops_lab.default_project`).

    Returns
    -------
    Run
        Also a context manager: the run ends ``finished``, or ``failed`` if the block raises.
    """
    return _project(project).start_run(name, experiment=experiment, tags=tags, parent=parent)


def end_run(status: str = "finished", *, project: Project | None = None) -> None:
    """End the active run (and any child runs opened after it)."""
    _project(project).end_run(status)


def active_run(*, project: Project | None = None) -> Run | None:
    """The run that logging calls go to, or ``None``."""
    return _project(project).active


def log_param(key: str, value: Any, *, project: Project | None = None) -> None:
    """Log one param. Params are immutable: a different value for the same key raises."""
    _project(project).log_params({key: value})


def log_params(
    params: dict[str, Any], *, run: Run | None = None, project: Project | None = None
) -> None:
    """Log several params at once (all or none are stored)."""
    _project(project).log_params(params, run=run)


def log_metric(
    key: str, value: float, step: int | None = None, *, project: Project | None = None
) -> None:
    """Log a metric value; ``step`` defaults to one more than the key's last step."""
    _project(project).log_metric(key, value, step)


def log_metrics(
    metrics: dict[str, float], step: int | None = None, *, project: Project | None = None
) -> None:
    """Log several metrics, all at ``step`` when given."""
    _project(project).log_metrics(metrics, step)


def set_tag(key: str, value: Any, *, project: Project | None = None) -> None:
    """Set a tag on the active run (tags, unlike params, may change)."""
    _project(project).set_tag(key, value)


def set_tags(tags: dict[str, Any], *, project: Project | None = None) -> None:
    """Set several tags on the active run."""
    _project(project).set_tags(tags)


def log_artifact(
    path_or_bytes: str | os.PathLike[str] | bytes,
    name: str | None = None,
    *,
    project: Project | None = None,
) -> str:
    """Store a file (or bytes) with the active run; return the artifact's digest.

    The content is kept once in the store's blob folder however many runs log it.
    """
    return _project(project).log_artifact(path_or_bytes, name)


def get_run(run_id: str | Run | None = None, *, project: Project | None = None) -> Run:
    """A run by id, unique id prefix or name (the latest run of that name).

    With no argument: the active run, else the latest run.
    """
    return _project(project).get_run(run_id)


def runs(
    *,
    experiment: str | list[str] | None = None,
    filter: str | None = None,
    order_by: str | list[str] | None = None,
    limit: int | None = None,
    group_by: str | list[str] | None = None,
    project: Project | None = None,
) -> pd.DataFrame:
    """Runs as a DataFrame, newest first.

    Columns: ``run_id, name, experiment, status, start_time, end_time, duration_s,
    parent_id``, then ``params.<key>``, ``metrics.<key>`` (latest value) and
    ``tags.<key>``. Runs whose process died are marked ``killed`` first.

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
    project
        The project to read (default: :func:`~mlops_lab.default_project`).
    """
    return _project(project).runs(
        experiment=experiment, filter=filter, order_by=order_by, limit=limit, group_by=group_by
    )


def flush(*, project: Project | None = None) -> None:
    """Write buffered metrics now (they are also written in the background)."""
    _project(project).flush()
