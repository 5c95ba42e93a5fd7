"""The live comparison view: ipywidgets controls around plotly ``FigureWidget``s.

:class:`ComparisonWidget` draws a :class:`~.view.Comparison` and wires
both directions: a brush on the parallel coordinates or a box/lasso on the
scatter changes ``Comparison.selected``; any change of the comparison calls
:meth:`ComparisonWidget.refresh`, which redraws only the views it affects.

The front-end assigns an ``HTML`` widget's value as ``innerHTML``: every name
or value from a run put into one is escaped (the diff and the groups table
escape their own cells).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from . import figures
from .model import short

if TYPE_CHECKING:
    from .view import Comparison


def _replace(target: Any, source: Any) -> None:
    """Redraw a FigureWidget with the traces and layout of a new figure."""
    with target.batch_update():
        target.data = []
        target.add_traces(list(source.data))
        target.layout = source.layout


class ComparisonWidget:
    """The widgets of one comparison; ``box`` is what the notebook displays."""

    def __init__(self, comparison: Comparison) -> None:
        import ipywidgets as w
        import plotly.graph_objects as go

        self.comparison = c = comparison
        self._busy = False
        metrics = c.runs.metrics
        # The scatter's x: params that vary (not every nested estimator param), then metrics.
        shown = c.runs.plottable_params() + c.runs.metric_columns
        if c.x_column not in shown:
            shown.insert(0, c.x_column)
        columns = list(dict.fromkeys(short(x) for x in shown))
        self.metric = w.Dropdown(options=metrics, value=c.metric, description="metric")
        self.x = w.Dropdown(options=columns, value=short(c.x_column), description="scatter x")
        self.y = w.Dropdown(options=metrics, value=c.metric, description="scatter y")
        self.only_differences = w.Checkbox(value=c.only_differences, description="only differences")
        self.aggregate = w.Checkbox(value=c.aggregate, description="mean ± std over repeats")
        self.clear = w.Button(description="clear selection", icon="undo")
        self.header = w.HTML()
        self.parcoords = go.FigureWidget(c.parcoords_figure())
        self.curves = go.FigureWidget(c.curves_figure())
        self.scatter = go.FigureWidget(c.scatter_figure())
        self.groups = w.HTML()
        self.diff = w.HTML()
        self.box = w.VBox(
            [
                self.header,
                w.HBox([self.metric, self.only_differences, self.aggregate, self.clear]),
                self.parcoords,
                w.HBox([self.curves, w.VBox([w.HBox([self.x, self.y]), self.scatter])]),
                self.groups,
                self.diff,
            ]
        )
        self.metric.observe(lambda ch: c.set_metric(ch["new"]), names="value")
        self.x.observe(lambda ch: c.set_scatter(x=ch["new"]), names="value")
        self.y.observe(lambda ch: c.set_scatter(y=ch["new"]), names="value")
        self.only_differences.observe(lambda ch: c.set_only_differences(ch["new"]), names="value")
        self.aggregate.observe(lambda ch: c.set_aggregate(ch["new"]), names="value")
        self.clear.on_click(lambda _: self.clear_brushes())
        self.parcoords.data[0].on_change(self._on_brush, "dimensions")
        self.scatter.data[0].on_selection(self._on_scatter_selection)
        self.refresh("all")

    def __repr__(self) -> str:
        return f"<ComparisonWidget of {len(self.comparison.runs)} runs>"

    # -- front-end -> model ----------------------------------------------------------

    def _on_brush(self, trace: Any, dimensions: Any) -> None:
        if self._busy:
            return
        c = self.comparison
        c.brushes = {}
        axes = c.axes()
        for axis, dim in zip(axes, dimensions, strict=False):
            ranges = dim.constraintrange
            if ranges:
                first = ranges[0]
                intervals = (
                    [tuple(r) for r in ranges]
                    if isinstance(first, list | tuple)
                    else [tuple(ranges)]
                )
                c.brushes[axis["column"]] = [(float(lo), float(hi)) for lo, hi in intervals]
        c._apply_brushes()

    def _on_scatter_selection(self, trace: Any, points: Any, selector: Any) -> None:
        ids = self.comparison.runs.run_ids
        if points.point_inds:
            self.comparison.select([ids[i] for i in points.point_inds])

    def clear_brushes(self) -> None:
        c = self.comparison
        c.brushes = {}
        self._busy = True
        try:
            with self.parcoords.batch_update():
                for dim in self.parcoords.data[0].dimensions:
                    dim.constraintrange = None
        finally:
            self._busy = False
        c.select(c.runs.run_ids)

    # -- model -> front-end -------------------------------------------------------------

    def refresh(self, what: str) -> None:
        """Redraw the views that ``what`` (a kind of change) affects."""
        c = self.comparison
        self.header.value = f"<b>{html.escape(c.summary())}</b>"
        if what in ("all", "metric"):
            if self.metric.value != c.metric:
                self.metric.value = c.metric
            if what == "metric":
                line = figures.line_colour([float(v) for v in c.runs.frame[f"metrics.{c.metric}"]])
                self._busy = True
                try:
                    with self.parcoords.batch_update():
                        trace_line = self.parcoords.data[0].line
                        trace_line.cmin = trace_line.cmax = None
                        trace_line.update(line)
                        self.parcoords.data[0].line.colorbar.title.text = figures.esc(c.metric)
                        self.parcoords.layout.title.text = figures.parcoords_title(c.metric)
                finally:
                    self._busy = False
        if what in ("metric", "selection"):
            _replace(self.curves, c.curves_figure())
        if what in ("metric", "scatter", "selection"):
            fig = c.scatter_figure()
            with self.scatter.batch_update():
                trace = self.scatter.data[0]
                trace.x, trace.y = fig.data[0].x, fig.data[0].y
                trace.hovertemplate = fig.data[0].hovertemplate
                trace.selectedpoints = fig.data[0].selectedpoints
                self.scatter.layout.title = fig.layout.title
                self.scatter.layout.xaxis.title = fig.layout.xaxis.title
                self.scatter.layout.yaxis.title = fig.layout.yaxis.title
            if short(c.y_column) in self.y.options and self.y.value != short(c.y_column):
                self.y.value = short(c.y_column)
        if what in ("all", "selection"):
            self.groups.value = c.aggregate_html() if c.aggregate else ""
        if what in ("all", "selection", "diff"):
            self.diff.value = "<h3>Differences</h3>" + c.diff().to_html()
