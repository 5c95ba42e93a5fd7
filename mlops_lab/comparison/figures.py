"""The plotly figures of a comparison, built from the typed payloads of :mod:`.model`.

Each builder returns a plain ``plotly.graph_objects.Figure``; the widget wraps
it in a ``FigureWidget``, the static page writes it as HTML. plotly is
imported inside the builders only.

plotly draws titles, labels, legends and hover text from a subset of HTML,
so every name or value from a run (run names, param keys and values, metric
names) goes through :func:`esc` first and shows as the text it is. A metric
logged once per run is drawn as one bar per run, not as a "curve" of one dot.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .model import AxisPayload, CurvePayload, ScatterPayload, short

if TYPE_CHECKING:
    import plotly.graph_objects as go

HEIGHT = 380


def finite(values: Sequence[Any]) -> list[Any]:
    """Data for a figure, NaN and infinities as ``None`` (a gap).

    A live ``FigureWidget`` sends its data as JSON, which has no NaN: one NaN
    makes the kernel's message fail to serialise.
    """
    return [None if isinstance(x, float) and not math.isfinite(x) else x for x in values]


def esc(text: Any) -> str:
    """Text from a run, safe in plotly's pseudo-HTML (and in its ``%{...}`` templates)."""
    return html.escape(str(text), quote=False).replace("%{", "%&#123;")


def parcoords(
    axes: Sequence[AxisPayload], color: Sequence[float] | None, metric: str | None
) -> go.Figure:
    """Parallel coordinates of params and metrics, lines coloured by ``metric``."""
    import plotly.graph_objects as go

    dimensions = []
    for axis in axes:
        dim: dict = {"label": esc(axis["label"]), "values": finite(axis["values"])}
        if axis["ticktext"] is not None:
            dim["tickvals"] = axis["tickvals"]
            dim["ticktext"] = list(axis["ticktext"])  # drawn as plain text by plotly
        dimensions.append(dim)
    line: dict = {"colorscale": "Viridis", "showscale": color is not None}
    if color is not None:
        line.update(line_colour(color))
        line["colorbar"] = {"title": {"text": esc(metric or "")}}
    # Axis labels sit above the axes: the title goes higher, in a top margin of its own.
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line, labelangle=-12))
    fig.update_layout(
        title={
            "text": parcoords_title(metric),
            "y": 0.97,
            "yanchor": "top",
            "yref": "container",
        },
        height=HEIGHT + 40,
        margin={"l": 80, "r": 80, "t": 120, "b": 30},
    )
    return fig


def line_colour(color: Sequence[float]) -> dict:
    """``color``, ``cmin``, ``cmax``, ``colorscale`` of the lines: grey for runs without the metric.

    plotly takes no gaps in line colours: a missing value gets a value just
    below the others, in a grey band at the bottom of the scale.
    """
    from plotly.colors import sequential

    values = [float(c) for c in color]
    present = [c for c in values if math.isfinite(c)]
    if len(present) == len(values) or not present:
        return {"color": [c if math.isfinite(c) else 0.0 for c in values], "colorscale": "Viridis"}
    lo, hi = min(present), max(present)
    gap = ((hi - lo) or 1.0) * 0.06
    cut = gap / (hi - lo + gap)
    viridis = sequential.Viridis
    scale: list = [[0.0, "#c8c8c8"], [cut * 0.999, "#c8c8c8"]]
    scale += [[cut + (1 - cut) * i / (len(viridis) - 1), c] for i, c in enumerate(viridis)]
    return {
        "color": [c if math.isfinite(c) else lo - gap for c in values],
        "cmin": lo - gap,
        "cmax": hi,
        "colorscale": scale,
    }


def parcoords_title(metric: str | None) -> str:
    return f"Params and metrics, coloured by {esc(metric)}" if metric else "Params"


def curves(payloads: Sequence[CurvePayload], metric: str | None) -> go.Figure:
    """Metric curves by step, one line per run (mean with a ±std band per group).

    When no run logged ``metric`` at more than one step, one bar per run instead.
    """
    import plotly.graph_objects as go

    if payloads and all(len(c["steps"]) <= 1 for c in payloads):
        return bars(payloads, metric)
    fig = go.Figure()
    for curve in payloads:
        hover = f"{esc(curve['name'])}<br>step %{{x}}<br>{esc(metric)} %{{y:.4g}}<extra></extra>"
        if curve["std"] is not None:
            upper = finite([m + s for m, s in zip(curve["values"], curve["std"], strict=True)])
            lower = finite([m - s for m, s in zip(curve["values"], curve["std"], strict=True)])
            fig.add_trace(
                go.Scatter(
                    x=curve["steps"] + curve["steps"][::-1],
                    y=upper + lower[::-1],
                    fill="toself",
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=curve["name"],
                )
            )
        fig.add_trace(
            go.Scatter(
                x=curve["steps"],
                y=finite(curve["values"]),
                mode="lines+markers" if len(curve["steps"]) < 30 else "lines",
                name=esc(curve["name"]),
                legendgroup=curve["name"],
                customdata=[curve["run_id"]] * len(curve["steps"]),
                hovertemplate=hover,
            )
        )
    fig.update_layout(
        title={"text": f"{esc(metric)} by step" if metric else "no metric"},
        xaxis_title="step",
        yaxis_title=esc(metric or ""),
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def bars(payloads: Sequence[CurvePayload], metric: str | None) -> go.Figure:
    """A metric logged once per run: one bar per run (a group's mean with ±std)."""
    import plotly.graph_objects as go

    names = [esc(c["name"]) for c in payloads]
    values = finite([c["values"][0] if c["values"] else None for c in payloads])
    error = None
    if any(c["std"] is not None for c in payloads):
        error = {"type": "data", "array": finite([(c["std"] or [0.0])[0] for c in payloads])}
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values,
            error_y=error,
            customdata=[c["run_id"] for c in payloads],
            text=[f"{x:.4g}" if x is not None else "" for x in values],
            textposition="auto",
            hovertemplate=f"%{{x}}<br>{esc(metric)} %{{y:.4g}}<extra></extra>",
            marker={"color": "#4c78a8"},
        )
    )
    fig.update_layout(
        title={"text": f"{esc(metric)} per run (logged once)"},
        yaxis_title=esc(metric or ""),
        xaxis={"type": "category", "tickangle": -30 if len(payloads) > 4 else 0},
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 90},
        showlegend=False,
    )
    return fig


def scatter(payload: ScatterPayload) -> go.Figure:
    """One point per run: ``x`` (a param or metric) against a metric; hover names the run."""
    import plotly.graph_objects as go

    x_label, y_label = esc(short(payload["x_column"])), esc(short(payload["y_column"]))
    fig = go.Figure(
        go.Scatter(
            x=finite([esc(x) if isinstance(x, str) else x for x in payload["x"]]),
            y=finite(payload["y"]),
            mode="markers",
            text=[esc(n) for n in payload["names"]],
            customdata=list(payload["run_ids"]),
            marker={"size": 9, "opacity": 0.8},
            hovertemplate=f"%{{text}}<br>{x_label} %{{x}}<br>{y_label} %{{y:.4g}}<extra></extra>",
        )
    )
    fig.update_layout(
        title={"text": f"{y_label} vs {x_label}"},
        xaxis_title=x_label,
        yaxis_title=y_label,
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig
