"""The plotly figures of a comparison, built from the typed payloads of :mod:`.model`.

Each builder returns a plain ``plotly.graph_objects.Figure``; the widget wraps
it in a ``FigureWidget``, the static page writes it as HTML. plotly is
imported inside the builders only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .model import AxisPayload, CurvePayload, ScatterPayload, short

if TYPE_CHECKING:
    import plotly.graph_objects as go

HEIGHT = 380


def parcoords(
    axes: Sequence[AxisPayload], color: Sequence[float] | None, metric: str | None
) -> go.Figure:
    """Parallel coordinates of params and metrics, lines coloured by ``metric``."""
    import plotly.graph_objects as go

    dimensions = []
    for axis in axes:
        dim: dict = {"label": axis["label"], "values": list(axis["values"])}
        if axis["ticktext"] is not None:
            dim["tickvals"] = axis["tickvals"]
            dim["ticktext"] = axis["ticktext"]
        dimensions.append(dim)
    line: dict = {"colorscale": "Viridis", "showscale": color is not None}
    if color is not None:
        line["color"] = list(color)
        line["colorbar"] = {"title": {"text": metric or ""}}
    fig = go.Figure(go.Parcoords(dimensions=dimensions, line=line))
    fig.update_layout(
        title={"text": f"Params and metrics, coloured by {metric}" if metric else "Params"},
        height=HEIGHT,
        margin={"l": 60, "r": 60, "t": 70, "b": 30},
    )
    return fig


def curves(payloads: Sequence[CurvePayload], metric: str | None) -> go.Figure:
    """Metric curves by step, one line per run (mean with a ±std band per group)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for curve in payloads:
        hover = f"{curve['name']}<br>step %{{x}}<br>{metric} %{{y:.4g}}<extra></extra>"
        if curve["std"] is not None:
            upper = [m + s for m, s in zip(curve["values"], curve["std"], strict=True)]
            lower = [m - s for m, s in zip(curve["values"], curve["std"], strict=True)]
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
                y=curve["values"],
                mode="lines+markers" if len(curve["steps"]) < 30 else "lines",
                name=curve["name"],
                legendgroup=curve["name"],
                customdata=[curve["run_id"]] * len(curve["steps"]),
                hovertemplate=hover,
            )
        )
    fig.update_layout(
        title={"text": f"{metric} by step" if metric else "no metric"},
        xaxis_title="step",
        yaxis_title=metric or "",
        height=HEIGHT,
        margin={"l": 60, "r": 20, "t": 50, "b": 40},
    )
    return fig


def scatter(payload: ScatterPayload) -> go.Figure:
    """One point per run: ``x`` (a param or metric) against a metric; hover names the run."""
    import plotly.graph_objects as go

    x_label, y_label = short(payload["x_column"]), short(payload["y_column"])
    fig = go.Figure(
        go.Scatter(
            x=list(payload["x"]),
            y=list(payload["y"]),
            mode="markers",
            text=list(payload["names"]),
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
