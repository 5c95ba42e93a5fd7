"""The interactive runs table (``ml.runs_widget``, ``%mlops runs`` in a live notebook).

:class:`RunsTable` holds the state (filter, sort, columns, page, selection)
in plain attributes and reads runs through ``ml.runs``; its widget shows one
page at a time (one HTML table and one checkbox per row), so tens of
thousands of runs stay responsive. A filter that does not parse keeps the
previous rows and shows the error under the box. The compare button opens
the :class:`~.view.Comparison` of the selected runs below the table::

    table = ml.runs_widget(filter="metrics.acc > 0.8", order_by="metrics.acc desc")
    table.select(table.page_frame()["run_id"][:3])
    cmp = table.compare()
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..errors import FilterSyntaxError, InvalidArgumentError
from .model import short
from .table_view import ROW_HEIGHT, RunsTableView

if TYPE_CHECKING:
    import pandas as pd

    from .view import Comparison

BASE_COLUMNS = ("name", "status", "start_time", "duration_s")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


class RunsTable:
    """Runs to browse, filter, sort and select for comparison (see the module docstring)."""

    def __init__(
        self,
        *,
        filter: str | None = None,
        order_by: str | None = None,
        experiment: str | None = None,
        columns: Sequence[str] | None = None,
        page_size: int = 25,
        limit: int | None = None,
    ) -> None:
        if page_size < 1:
            raise InvalidArgumentError(f"page_size: expected a positive integer, got {page_size!r}")
        self.experiment = experiment
        self.limit = limit
        self.order_by = order_by
        self.page_size = page_size
        self.page = 0
        self.sort_column: str | None = None
        self.ascending = False
        self.selected: list[str] = []
        self.error: str | None = None
        self.comparison: Comparison | None = None
        self._widget: Any = None
        self.filter = ""
        self._frame = self._query(filter or "")
        self.filter = filter or ""
        self.columns = list(columns) if columns is not None else self._default_columns()

    # -- state -------------------------------------------------------------------------

    def _query(self, text: str) -> pd.DataFrame:
        from ..tracking import api

        return api.runs(
            experiment=self.experiment,
            filter=text or None,
            order_by=self.order_by,
            limit=self.limit,
        )

    def _default_columns(self) -> list[str]:
        params = [c for c in self._frame.columns if c.startswith("params.")][:6]
        metrics = [c for c in self._frame.columns if c.startswith("metrics.")][:6]
        return [c for c in BASE_COLUMNS if c in self._frame.columns] + params + metrics

    @property
    def frame(self) -> pd.DataFrame:
        """Every run that matches the filter, in the current sort order."""
        return self._frame

    @property
    def all_columns(self) -> list[str]:
        return [c for c in self._frame.columns if c not in ("run_id", "parent_id")]

    @property
    def page_count(self) -> int:
        return max(1, math.ceil(len(self._frame) / self.page_size))

    def page_frame(self) -> pd.DataFrame:
        """The rows of the current page."""
        start = self.page * self.page_size
        return self._frame.iloc[start : start + self.page_size]

    def set_filter(self, text: str) -> bool:
        """Apply a filter; on a syntax error keep the rows and set ``error``. True if applied."""
        try:
            frame = self._query(text.strip())
        except (FilterSyntaxError, InvalidArgumentError) as exc:
            self.error = str(exc)
            self._refresh()
            return False
        self.error = None
        self.filter = text.strip()
        self._frame = frame
        if self.sort_column is not None:
            self._sort()
        self.page = 0
        missing = [c for c in self.columns if c not in self._frame.columns]
        if missing:
            self.columns = [c for c in self.columns if c in self._frame.columns]
        self._refresh()
        return True

    def sort(self, column: str, *, ascending: bool | None = None) -> None:
        """Sort by any column (params, metrics, tags or attributes); missing values last."""
        if column not in self._frame.columns:
            raise InvalidArgumentError(f"no column {column!r} in the runs table")
        if ascending is None:
            ascending = not self.ascending if column == self.sort_column else True
        self.sort_column, self.ascending = column, ascending
        self._sort()
        self.page = 0
        self._refresh()

    def _sort(self) -> None:
        column = self.sort_column
        if column not in self._frame.columns:
            return
        try:
            self._frame = self._frame.sort_values(
                column, ascending=self.ascending, na_position="last", kind="stable"
            )
        except TypeError:  # params of mixed types: compare their text
            self._frame = self._frame.sort_values(
                column,
                ascending=self.ascending,
                na_position="last",
                kind="stable",
                key=lambda s: s.map(lambda v: None if v is None else str(v)),
            )

    def set_columns(self, columns: Sequence[str]) -> None:
        unknown = [c for c in columns if c not in self._frame.columns]
        if unknown:
            raise InvalidArgumentError(f"no column {unknown[0]!r} in the runs table")
        self.columns = list(columns)
        self._refresh()

    def set_page(self, page: int) -> None:
        self.page = min(max(0, page), self.page_count - 1)
        self._refresh()

    def select(self, run_ids: Iterable[str]) -> None:
        """Make ``run_ids`` the selection (kept across pages, filters and sorts)."""
        self.selected = list(dict.fromkeys(run_ids))
        self._refresh()

    def toggle(self, run_id: str, on: bool) -> None:
        if on and run_id not in self.selected:
            self.selected.append(run_id)
        elif not on and run_id in self.selected:
            self.selected.remove(run_id)
        self._refresh(rows=False)

    def compare(self, metric: str | None = None) -> Comparison:
        """The comparison of the selected runs (or of the current page if none is selected)."""
        from .model import load_runs
        from .view import Comparison

        ids = self.selected or list(self.page_frame()["run_id"])
        if not ids:
            raise InvalidArgumentError("compare: no runs selected")
        self.comparison = Comparison(load_runs(ids), metric=metric)
        if self._widget is not None:
            self._widget.comparison_box.children = [self.comparison.widget()]
        return self.comparison

    def _refresh(self, *, rows: bool = True) -> None:
        if self._widget is not None:
            self._widget.refresh(rows=rows)

    # -- display -----------------------------------------------------------------------

    def page_html(self) -> str:
        """The current page as an HTML table (the rows beside the checkboxes)."""
        cols = self.columns
        style = f"height:{ROW_HEIGHT};padding:0 8px;white-space:nowrap;text-align:left"
        arrow = {True: " ▲", False: " ▼"}
        head = "".join(
            f"<th style='{style}'>{html.escape(short(c))}"
            f"{arrow[self.ascending] if c == self.sort_column else ''}</th>"
            for c in cols
        )
        rows = []
        for _, row in self.page_frame().iterrows():
            shade = "background:#e8f0fe" if row["run_id"] in self.selected else ""
            cells = "".join(f"<td style='{style}'>{html.escape(_cell(row[c]))}</td>" for c in cols)
            rows.append(f"<tr style='{shade}'>{cells}</tr>")
        return (
            "<table style='border-collapse:collapse;font-size:90%'>"
            f"<tr style='border-bottom:1px solid #ccc'>{head}</tr>{''.join(rows)}</table>"
        )

    def widget(self) -> Any:
        """The ipywidgets view (built on first use)."""
        if self._widget is None:
            self._widget = RunsTableView(self)
        return self._widget.box

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from . import static
        from .tables import runs_table

        fallback = runs_table(self.page_frame()).html
        if static.live_frontend():
            bundle = dict(self.widget()._repr_mimebundle_())
            bundle.update({"text/plain": repr(self), "text/html": fallback})
            return bundle
        return {"text/html": fallback, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return (
            f"<RunsTable {len(self._frame)} runs, page {self.page + 1}/{self.page_count}, "
            f"{len(self.selected)} selected>"
        )
