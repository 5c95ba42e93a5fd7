"""``ml.compare`` and ``ml.runs_widget``: the comparison entry points of the API."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .runs_widget import RunsTable
    from .view import Comparison


def compare(
    runs: Any = None,
    metric: str | None = None,
    *,
    last: int | None = None,
    filter: str | None = None,
    experiment: str | None = None,
    group_by: str | Sequence[str] | None = None,
    aggregate: bool = False,
) -> Comparison:
    """Compare runs: linked plotly views in a live notebook, static HTML elsewhere.

    Parameters
    ----------
    runs
        Run ids, id prefixes, names, ``Run`` objects or a DataFrame from
        ``ml.runs()``; default: the ``last`` newest runs (20) matching ``filter``.
    metric
        The metric to colour by, draw by step and plot against (default: the first).
    last, filter, experiment
        Choose the runs by recency and the filter language of ``ml.runs``.
    group_by
        Columns (``params.lr``) defining repeats of one setting for the mean ± std
        view; default: every param except seeds.
    aggregate
        Start with the mean ± std view on.

    Returns
    -------
    Comparison
        Displays itself; ``.to_html(path)`` writes a self-contained page.
        An unknown run or metric raises an error naming it.

    Examples
    --------
    >>> cmp = ml.compare(filter="params.model = 'rf'", metric="acc")   # doctest: +SKIP
    >>> cmp.to_html("rf.html")                                        # doctest: +SKIP
    """
    from .model import load_runs
    from .view import Comparison

    if last is not None and (not isinstance(last, int) or last < 1):
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(f"last: expected a positive integer, got {last!r}")
    keys = [group_by] if isinstance(group_by, str) else group_by
    runset = load_runs(runs, last=last, filter=filter, experiment=experiment)
    if len(runset) == 0:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError("compare: no runs match")
    return Comparison(runset, metric=metric, group_by=keys, aggregate=aggregate)


def runs_widget(
    *,
    filter: str | None = None,
    order_by: str | None = None,
    experiment: str | None = None,
    columns: Sequence[str] | None = None,
    page_size: int = 25,
    limit: int | None = None,
) -> RunsTable:
    """The interactive runs table: filter, sort, choose columns, select, compare.

    ``limit`` keeps the newest N runs matching ``filter`` (default: all of them).

    Returns
    -------
    RunsTable
        ``.widget()`` is the ipywidgets view; ``.compare()`` (or its button)
        opens the :class:`Comparison` of the selected runs below the table.
    """
    from .runs_widget import RunsTable

    return RunsTable(
        filter=filter,
        order_by=order_by,
        experiment=experiment,
        columns=columns,
        page_size=page_size,
        limit=limit,
    )
