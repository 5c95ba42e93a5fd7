"""The static fallback: figures as self-contained plotly HTML, and when to use it.

Where no live widget front-end exists (papermill and nbconvert output,
terminal IPython, CI) the comparison is shown as HTML that needs no kernel:
plotly figures with plotly.js embedded, and HTML tables.
:func:`live_frontend` decides; ``MLOPS_LAB_WIDGETS=1`` or ``=0`` overrides it.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import TYPE_CHECKING

from ..project import process_resource

if TYPE_CHECKING:
    import plotly.graph_objects as go

_ON = frozenset({"1", "true", "yes", "on", "widgets"})
_OFF = frozenset({"0", "false", "no", "off", "static"})


def live_frontend() -> bool:
    """Whether displayed widgets will be drawn by a live front-end.

    True only in an IPython kernel started by a Jupyter server (JupyterLab,
    Notebook: ``JPY_SESSION_NAME`` is set), VS Code or Colab, outside CI.
    papermill and nbconvert start kernels themselves, without a front-end:
    they get the static views, so executed notebooks keep plotly output.
    """
    choice = os.environ.get("MLOPS_LAB_WIDGETS", "auto").strip().lower()
    if choice in _OFF:
        return False
    if choice not in _ON:
        if os.environ.get("CI", "").lower() in _ON:
            return False
        hosted = (
            "JPY_SESSION_NAME" in os.environ
            or "VSCODE_PID" in os.environ
            or "google.colab" in sys.modules
        )
        if not hosted:
            return False
    if "ipykernel" not in sys.modules:
        return False
    from ipykernel.zmqshell import ZMQInteractiveShell
    from IPython import get_ipython

    return isinstance(get_ipython(), ZMQInteractiveShell)


def figure_html(fig: go.Figure, *, include_plotlyjs: bool | str) -> str:
    """One figure as an HTML fragment (a ``div`` and its script)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=include_plotlyjs,
        config={"displaylogo": False, "responsive": True},
    )


def notebook_plotlyjs() -> bool:
    """Embed plotly.js in this output? Only in the first static output of the process.

    Later outputs find ``window.Plotly`` defined by the first one, which keeps
    executed notebooks a few megabytes smaller per comparison.
    """
    shown = process_resource("comparison.plotlyjs_shown", threading.Event)
    first = not shown.is_set()
    shown.set()
    return first


def page(title: str, body: str) -> str:
    """A complete HTML document around ``body``."""
    import html

    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}{STYLE}</style></head>"
        f"<body><h2>{html.escape(title)}</h2>{body}</body></html>"
    )


PAGE_STYLE = "body { font-family: system-ui, sans-serif; margin: 1.5em; }"
STYLE = """
.mlops-scroll { overflow-x: auto; max-width: 100%; }
.mlops-diff, .mlops-agg { border-collapse: collapse; margin: .4em 0 1em; font-size: 90%; }
.mlops-diff td, .mlops-diff th, .mlops-agg td, .mlops-agg th {
  border: 1px solid #ddd; padding: 2px 8px; text-align: left; }
"""
