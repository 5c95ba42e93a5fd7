"""The widgets of the runs table: filter box, sort, columns, pages, checkboxes, compare.

Only one page of rows exists as widgets at any time (``page_size`` checkboxes
and one HTML table), reused when the page changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .model import short

if TYPE_CHECKING:
    from .runs_widget import RunsTable

ROW_HEIGHT = "26px"


class RunsTableView:
    """The ipywidgets of a :class:`RunsTable`; ``box`` is what the notebook displays."""

    def __init__(self, table: RunsTable) -> None:
        import ipywidgets as w

        self.table = t = table
        self._syncing = False
        self.filter = w.Text(
            value=t.filter,
            placeholder="filter, e.g. metrics.acc > 0.9 and params.model = 'rf'",
            continuous_update=False,
            layout=w.Layout(width="60%"),
        )
        self.apply = w.Button(description="apply", icon="filter")
        self.error = w.HTML()
        self.sort = w.Dropdown(description="sort by", options=[("(store order)", "")])
        self.descending = w.Checkbox(value=not t.ascending, description="descending")
        self.columns = w.SelectMultiple(description="columns", rows=5)
        self.prev = w.Button(description="◀", layout=w.Layout(width="40px"))
        self.next = w.Button(description="▶", layout=w.Layout(width="40px"))
        self.page_label = w.HTML()
        self.select_page = w.Checkbox(description="select page", value=False)
        self.checks = [
            w.Checkbox(
                indent=False,
                layout=w.Layout(height=ROW_HEIGHT, margin="0", width="110px"),
            )
            for _ in range(t.page_size)
        ]
        self.rows = w.HTML()
        self.compare_button = w.Button(description="compare selected", button_style="primary")
        self.comparison_box = w.VBox([])
        self.box = w.VBox(
            [
                w.HBox([self.filter, self.apply]),
                self.error,
                w.HBox([self.sort, self.descending, self.columns]),
                w.HBox([self.prev, self.next, self.page_label, self.select_page]),
                w.HBox(
                    [
                        w.VBox(
                            [w.HTML(layout=w.Layout(height=ROW_HEIGHT, margin="0")), *self.checks],
                            layout=w.Layout(width="120px"),
                        ),
                        self.rows,
                    ]
                ),
                self.compare_button,
                self.comparison_box,
            ]
        )
        self.filter.observe(lambda ch: t.set_filter(ch["new"]), names="value")
        self.apply.on_click(lambda _: t.set_filter(self.filter.value))
        self.sort.observe(self._on_sort, names="value")
        self.descending.observe(self._on_sort, names="value")
        self.columns.observe(self._on_columns, names="value")
        self.prev.on_click(lambda _: t.set_page(t.page - 1))
        self.next.on_click(lambda _: t.set_page(t.page + 1))
        self.select_page.observe(self._on_select_page, names="value")
        for i, check in enumerate(self.checks):
            check.observe(lambda ch, i=i: self._on_check(i, ch["new"]), names="value")
        self.compare_button.on_click(lambda _: t.compare())
        self.refresh()

    def __repr__(self) -> str:
        return f"<RunsTableView of {self.table!r}>"

    def _on_sort(self, change: Any) -> None:
        if self._syncing:
            return
        if self.sort.value:
            self.table.sort(self.sort.value, ascending=not self.descending.value)

    def _on_columns(self, change: Any) -> None:
        if not self._syncing and change["new"]:
            self.table.set_columns(list(change["new"]))

    def _on_check(self, index: int, on: bool) -> None:
        if self._syncing:
            return
        ids = list(self.table.page_frame()["run_id"])
        if index < len(ids):
            self.table.toggle(ids[index], on)

    def _on_select_page(self, change: Any) -> None:
        if self._syncing:
            return
        ids = list(self.table.page_frame()["run_id"])
        chosen = [r for r in self.table.selected if r not in ids]
        self.table.select(chosen + ids if change["new"] else chosen)

    def refresh(self, *, rows: bool = True) -> None:
        """Show the table's current state (``rows``: the page's rows changed too)."""
        t = self.table
        self._syncing = True
        try:
            if self.filter.value != t.filter and t.error is None:
                self.filter.value = t.filter
            self.error.value = (
                f"<pre style='color:#b00020;margin:0'>{_escape(t.error)}</pre>" if t.error else ""
            )
            options = [("(store order)", "")] + [(short(c), c) for c in t.all_columns]
            if list(self.sort.options) != options:
                self.sort.options = options
            self.sort.value = t.sort_column or ""
            self.descending.value = not t.ascending
            col_options = [(short(c), c) for c in t.all_columns]
            if list(self.columns.options) != col_options:
                self.columns.options = col_options
            self.columns.value = tuple(c for c in t.columns if c in t.all_columns)
            self.page_label.value = (
                f"page {t.page + 1} / {t.page_count} &middot; {len(t.frame):,} runs "
                f"&middot; {len(t.selected)} selected"
            )
            page = t.page_frame()
            ids, names = list(page["run_id"]), list(page["name"])
            for i, check in enumerate(self.checks):
                if i < len(ids):
                    check.description = (names[i] or ids[i][:8])[:14]
                    check.value = ids[i] in t.selected
                    check.layout.visibility = "visible"
                else:
                    check.description, check.value = "", False
                    check.layout.visibility = "hidden"
            self.select_page.value = bool(ids) and all(r in t.selected for r in ids)
            self.compare_button.description = f"compare selected ({len(t.selected)})"
            self.rows.value = t.page_html()
        finally:
            self._syncing = False


def _escape(text: str | None) -> str:
    import html

    return html.escape(text or "")
