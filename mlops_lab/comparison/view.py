"""The :class:`Comparison`: linked views of several runs, live or static.

Live (ipywidgets + plotly ``FigureWidget``): parallel coordinates coloured by
a metric, where brushing an axis selects runs; metric curves by step and the
diff of the selected runs follow the selection; a scatter of any param or
metric against any metric, hover naming the run, whose box/lasso selection
selects runs too; mean ± std over repeated runs. Static: the same views as
self-contained HTML (:meth:`Comparison.to_html`). The state lives in plain
attributes, so the model can be driven and checked from Python::

    cmp = ml.compare(["rf-1", "rf-2", "gbm-1"], metric="acc")
    cmp.brush("lr", (0.01, 0.1))      # as dragging on the lr axis does
    cmp.selected                        # run ids inside the brush
    cmp.diff().params                   # {'lr': [0.01, 0.1, ...]}: differing keys only
    cmp.to_html("comparison.html")
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from . import figures, static
from .diff import RunDiff, diff_runs
from .model import CurvePayload, RunSet, short

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from .widgets import ComparisonWidget


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _metric_text(value: Any) -> str:
    number = float(value) if value is not None else math.nan
    return "—" if math.isnan(number) else f"{number:.4g}"


class Comparison:
    """Runs compared side by side (see the module docstring).

    Parameters
    ----------
    runset
        The runs (:func:`mlops_lab.comparison.model.load_runs`).
    metric
        The metric that colours the parallel coordinates, is drawn by step and
        is the scatter's y axis (default: the first metric).
    group_by
        Columns whose equal values make runs repeats of one setting (default:
        every param but seeds); used when ``aggregate`` is on.
    """

    def __init__(
        self,
        runset: RunSet,
        *,
        metric: str | None = None,
        group_by: Sequence[str] | None = None,
        aggregate: bool = False,
        max_curves: int = 25,
        max_diff: int = 8,
    ) -> None:
        self.runs = runset
        self.metric = runset.check_metric(metric)
        self.group_by = list(group_by) if group_by is not None else None
        if self.group_by is not None:
            runset.aggregate(self.group_by)  # names a missing column now
        self.aggregate = aggregate
        self.only_differences = True
        self.max_curves = max_curves
        self.max_diff = max_diff
        self.selected: list[str] = runset.run_ids
        self.brushes: dict[str, list[tuple[float, float]]] = {}
        varying = runset.plottable_params()
        self.x_column = (
            varying or runset.param_columns or runset.metric_columns or ["duration_s"]
        )[0]
        self.y_column = f"metrics.{self.metric}" if self.metric else "duration_s"
        self._widget: ComparisonWidget | None = None

    # -- state changes (each refreshes the live views, if any) ---------------------------

    def select(self, run_ids: Sequence[str]) -> None:
        """Make ``run_ids`` the selection (ids of compared runs, or unique prefixes)."""
        known = self.runs.run_ids
        chosen = []
        for ref in run_ids:
            matches = [r for r in known if r.startswith(ref)]
            if len(matches) != 1:
                raise InvalidArgumentError(f"run {ref!r} is not one of the compared runs")
            chosen.append(matches[0])
        wanted = set(chosen)
        self.selected = [r for r in known if r in wanted]
        self._refresh("selection")

    def brush(self, axis: str, ranges: Any) -> None:
        """Restrict the selection on one parallel-coordinates axis (``None`` clears it).

        ``ranges`` is ``(lo, hi)`` or a list of such intervals, as plotly sends them.
        """
        column = self._axis_column(axis)
        if ranges is None or len(ranges) == 0:
            self.brushes.pop(column, None)
        else:
            first = ranges[0]
            intervals = (
                [tuple(r) for r in ranges] if isinstance(first, list | tuple) else [tuple(ranges)]
            )
            self.brushes[column] = [(float(lo), float(hi)) for lo, hi in intervals]
        self._apply_brushes()

    def set_metric(self, metric: str) -> None:
        self.metric = self.runs.check_metric(metric)
        self.y_column = f"metrics.{self.metric}"
        self._refresh("metric")

    def set_scatter(self, x: str | None = None, y: str | None = None) -> None:
        """Choose the scatter's axes: any param or metric for ``x``, a metric for ``y``."""
        x_col = self._column(x) if x else self.x_column
        y_col = self._column(y) if y else self.y_column
        self.x_column, self.y_column = x_col, y_col
        self._refresh("scatter")

    def set_only_differences(self, on: bool) -> None:
        self.only_differences = bool(on)
        self._refresh("diff")

    def set_aggregate(self, on: bool) -> None:
        self.aggregate = bool(on)
        self._refresh("selection")

    def _column(self, name: str) -> str:
        if name in self.runs.frame.columns:
            return name
        for prefix in ("params.", "metrics."):
            if prefix + name in self.runs.frame.columns:
                return prefix + name
        have = ", ".join(short(c) for c in self.runs.param_columns + self.runs.metric_columns)
        raise InvalidArgumentError(
            f"no param or metric {name!r} in the compared runs (have: {have})"
        )

    def _axis_column(self, axis: str) -> str:
        for payload in self.axes():
            if axis in (payload["label"], payload["column"]):
                return payload["column"]
        raise InvalidArgumentError(f"no axis {axis!r} in the parallel coordinates")

    def _apply_brushes(self) -> None:
        axes = {a["column"]: a for a in self.axes()}
        keep = []
        for i, run_id in enumerate(self.runs.run_ids):
            inside = True
            for column, intervals in self.brushes.items():
                value = axes[column]["values"][i]
                if math.isnan(value) or not any(lo <= value <= hi for lo, hi in intervals):
                    inside = False
                    break
            if inside:
                keep.append(run_id)
        self.selected = keep
        self._refresh("selection")

    def _refresh(self, what: str) -> None:
        if self._widget is not None:
            self._widget.refresh(what)

    # -- the model of each view ----------------------------------------------------------

    def axes(self) -> list:
        if not hasattr(self, "_axes"):
            self._axes = self.runs.axes(metric=self.metric)
        return self._axes

    def curve_payloads(self) -> list[CurvePayload]:
        """Curves of the chosen metric for the selection (group means when aggregating)."""
        if self.metric is None:
            return []
        if self.aggregate:
            groups = self.runs.groups(self.group_by)
            wanted = set(self.selected)
            groups = {k: [r for r in v if r in wanted] for k, v in groups.items()}
            groups = {k: v for k, v in groups.items() if v}
            return self.runs.group_curves(
                dict(list(groups.items())[: self.max_curves]), self.metric
            )
        return self.runs.curves(self.selected[: self.max_curves], self.metric)

    def diff(self) -> RunDiff:
        """The diff of the selected runs (at most ``max_diff`` of them)."""
        runs = [self.runs.run(r) for r in self.selected[: self.max_diff]]
        if not runs:
            return RunDiff(run_ids=[], names=[], only_differences=self.only_differences)
        return diff_runs(runs, only_differences=self.only_differences)

    def parcoords_figure(self) -> go.Figure:
        color = None
        if self.metric is not None:
            color = [float(v) for v in self.runs.frame[f"metrics.{self.metric}"]]
        return figures.parcoords(self.axes(), color, self.metric)

    def curves_figure(self) -> go.Figure:
        payloads = self.curve_payloads()
        fig = figures.curves(payloads, self.metric)
        if self.aggregate:
            return fig
        shown, total = min(len(self.selected), self.max_curves), len(self.selected)
        notes = []
        if total > shown:
            notes.append(f"{shown} of {total} selected runs")
        if 0 < len(payloads) < shown:
            notes.append(f"{len(payloads)} of {shown} runs log it")
        if notes:
            title = fig.layout.title.text or ""
            fig.update_layout(title={"text": f"{title} ({', '.join(notes)})"})
        return fig

    def scatter_figure(self) -> go.Figure:
        fig = figures.scatter(self.runs.scatter(self.x_column, self.y_column))
        if len(self.selected) < len(self.runs):
            wanted = set(self.selected)
            fig.data[0].selectedpoints = [i for i, r in enumerate(self.runs.run_ids) if r in wanted]
        return fig

    def aggregate_html(self) -> str:
        table = self.runs.aggregate(self.group_by)
        caption = ", ".join(short(k) for k in (self.group_by or self.runs.default_group_keys()))
        body = table.to_html(
            index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="mlops-agg"
        )
        return (
            f"<h4>Mean ± std over repeated runs (grouped by {html.escape(caption or 'nothing')})"
            f"</h4><div class='mlops-scroll' style='overflow-x:auto;max-width:100%'>{body}</div>"
        )

    def summary(self) -> str:
        return f"{len(self.runs)} runs compared, {len(self.selected)} selected" + (
            f", coloured by {self.metric}" if self.metric else ""
        )

    def to_text(self) -> str:
        """The comparison for a terminal: each run with its metrics, then the diff."""
        lines = [self.summary()]
        width = max(len(n) for n in self.runs.names)
        chosen = [self.metric] if self.metric else []
        keys = list(dict.fromkeys(chosen + self.runs.common_metrics()))[:5]
        metrics = [f"metrics.{m}" for m in keys]
        if metrics:
            heads = "".join(f"  {_clip(short(m), 16):>16}" for m in metrics)
            lines.append("  " + " " * width + heads)
        for i, name in enumerate(self.runs.names):
            cells = "".join(f"  {_metric_text(self.runs.frame.at[i, m]):>16}" for m in metrics)
            lines.append(f"  {name.ljust(width)}{cells}")
        lines.append(self.diff().to_text())
        return "\n".join(lines)

    # -- display -------------------------------------------------------------------------

    def widget(self) -> Any:
        """The live view: an ``ipywidgets.VBox`` (built on first use)."""
        if self._widget is None:
            from .widgets import ComparisonWidget

            self._widget = ComparisonWidget(self)
        return self._widget.box

    @property
    def views(self) -> ComparisonWidget:
        """The live views (``parcoords``, ``curves``, ``scatter`` FigureWidgets, controls)."""
        self.widget()
        assert self._widget is not None
        return self._widget

    def html_fragment(self, *, include_plotlyjs: bool | str = True) -> str:
        """Every view as one HTML fragment: figures (plotly) and tables."""
        parts = [f"<p>{html.escape(self.summary())}</p>"]
        figs = [self.parcoords_figure(), self.curves_figure(), self.scatter_figure()]
        for i, fig in enumerate(figs):
            parts.append(
                static.figure_html(fig, include_plotlyjs=include_plotlyjs if i == 0 else False)
            )
        groups = self.runs.groups(self.group_by)
        if self.aggregate or any(len(v) > 1 for v in groups.values()):
            parts.append(self.aggregate_html())
        parts.append("<h3>Differences</h3>" + self.diff().to_html())
        return "<div class='mlops-comparison'>" + "".join(parts) + "</div>"

    def to_html(self, path: str | Path | None = None) -> str:
        """One self-contained HTML page (plotly.js embedded); written to ``path`` if given."""
        title = f"mlops-lab comparison: {', '.join(self.runs.names[:6])}" + (
            " ..." if len(self.runs) > 6 else ""
        )
        text = static.page(title, self.html_fragment(include_plotlyjs=True))
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        if static.live_frontend():
            bundle = dict(self.widget()._repr_mimebundle_())
            bundle["text/plain"] = repr(self)
            # A light fallback saved with the notebook, drawn where widgets are not.
            bundle["text/html"] = f"<style>{static.STYLE}</style>" + self.html_fragment(
                include_plotlyjs="cdn"
            )
            return bundle
        fragment = self.html_fragment(include_plotlyjs=static.notebook_plotlyjs())
        return {"text/html": f"<style>{static.STYLE}</style>{fragment}", "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.runs)} runs, {len(self.selected)} selected, metric {self.metric!r}>"
