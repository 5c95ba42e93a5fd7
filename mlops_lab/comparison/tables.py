"""Static views: the runs table and one run's details (with metric sparklines), as HTML and as text."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ..tracking.run import Run


class View:
    """Something that shows as HTML in a notebook and as text in a terminal."""

    def __init__(self, html_text: str, text: str) -> None:
        self.html = html_text
        self.text = text

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return self.text


def _short(frame: pd.DataFrame) -> pd.DataFrame:
    shown = frame.copy()
    if "run_id" in shown:
        shown["run_id"] = shown["run_id"].str[:8]
    for col in ("start_time", "end_time"):
        if col in shown:
            shown[col] = shown[col].dt.tz_convert(None).dt.strftime("%Y-%m-%d %H:%M:%S")
    if "duration_s" in shown:
        shown["duration_s"] = shown["duration_s"].round(2)
    if "parent_id" in shown:
        shown = shown.drop(columns="parent_id")
    return shown


def runs_table(frame: pd.DataFrame, *, grouped: bool = False) -> View:
    """The runs DataFrame of ``ml.runs()`` as a compact table."""
    if frame.empty:
        return View("<p><i>no runs match</i></p>", "no runs match")
    shown = frame if grouped else _short(frame)
    caption = f"{len(frame)} group(s)" if grouped else f"{len(frame)} run(s)"
    body = shown.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.4g}", border=0)
    return View(
        f"<div class='mlops-runs'><b>{caption}</b>"
        f"<div style='overflow-x:auto;max-width:100%'>{body}</div></div>",
        f"{caption}\n{shown.to_string(index=False)}",
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _pairs_html(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    rows = "".join(
        f"<tr><td style='text-align:left'>{html.escape(str(k))}</td>"
        f"<td style='text-align:left'>{html.escape(_fmt(v))}</td></tr>"
        for k, v in items.items()
    )
    return (f"<h4>{title}</h4>" if title else "") + f"<table>{rows}</table>"


def _pairs_text(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    width = max(len(str(k)) for k in items)
    return title + "\n" + "\n".join(f"  {str(k).ljust(width)}  {_fmt(v)}" for k, v in items.items())


SPARK_CHARS = "▁▂▃▄▅▆▇█"


def sparkline_text(values: list[float]) -> str:
    """``▁▃▅█``: a metric's history in one line of text."""
    finite = [v for v in values if not math.isnan(v) and not math.isinf(v)]
    if len(finite) < 2:
        return ""
    lo, hi = min(finite), max(finite)
    span = (hi - lo) or 1.0
    last = len(SPARK_CHARS) - 1
    return "".join(
        " " if v not in finite else SPARK_CHARS[round((v - lo) / span * last)] for v in values[-40:]
    )


def sparkline_svg(
    steps: list[float], values: list[float], *, width: int = 160, height: int = 28
) -> str:
    """A metric's curve by step as a small inline SVG (no plotly needed)."""
    points = [
        (s, v)
        for s, v in zip(steps, values, strict=True)
        if not math.isnan(v) and not math.isinf(v)
    ]
    if len(points) < 2:
        return ""
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    coords = " ".join(
        f"{2 + (x - x0) / dx * (width - 4):.1f},{height - 2 - (y - y0) / dy * (height - 4):.1f}"
        for x, y in points
    )
    return (
        f"<svg width='{width}' height='{height}' style='vertical-align:middle'>"
        f"<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='{coords}'/></svg>"
    )


def _metrics_rows(run: Run) -> tuple[str, str]:
    rows_html, rows_text = [], []
    for key, value in run.metrics.items():
        hist = run.metric_history(key)
        steps = [float(s) for s in hist["step"]]
        values = [float(v) for v in hist["value"]]
        curve = sparkline_svg(steps, values)
        note = f"{len(values)} steps" if len(values) > 1 else ""
        rows_html.append(
            f"<tr><td style='text-align:left'>{html.escape(key)}</td>"
            f"<td style='text-align:left'>{html.escape(_fmt(value))}</td>"
            f"<td>{curve}</td><td style='color:#777'>{note}</td></tr>"
        )
        rows_text.append((key, f"{_fmt(value)}  {sparkline_text(values)}".rstrip()))
    if not rows_html:
        return "", ""
    width = max(len(k) for k, _ in rows_text)
    text = "Metrics\n" + "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows_text)
    return f"<h4>Metrics</h4><table>{''.join(rows_html)}</table>", text


def run_view(run: Run) -> View:
    """One run's params, metrics (with their curves), tags, datasets, artifacts,
    environment and captured code, as one readable view."""
    info = run.info
    params, tags = run.params, run.tags
    git = run.git
    env = run.environment
    datasets = {
        f"{d['role']}: {d['name'] or ''}": f"{d['digest'][:12]} {d['n_rows']}x{d['n_cols']}"
        for d in run.datasets
    }
    artifacts = {
        a["path"]: f"{a['kind']}, {a['size']} bytes, {a['digest'][:12]}" for a in run.artifacts
    }
    where = {
        "experiment": info["experiment"],
        "status": info["status"],
        "duration_s": None
        if info["end_time"] is None
        else round(info["end_time"] - info["start_time"], 3),
        "source": f"{info['source_type']} {info['source_path'] or ''}".strip(),
        "git": f"{(git.get('commit') or '')[:10]} {git.get('branch') or ''}{' (dirty)' if git.get('dirty') else ''}".strip()
        if git
        else "",
        "host": f"{info['user'] or ''}@{info['host']} pid {info['pid']}",
        "python": env.get("python", ""),
        "parent": (info.get("parent_id") or "")[:8],
    }
    where = {k: v for k, v in where.items() if v not in ("", None)}
    packages = env.get("packages", {})
    cells = run.cells
    metrics_html, metrics_text = _metrics_rows(run)
    head = f"Run {info['name']} ({run.run_id[:8]})"
    html_text = f"<div class='mlops-run'><h3>{html.escape(head)}</h3>"
    html_text += _pairs_html("Run", where) + _pairs_html("Params", params) + metrics_html
    for title, items in (("Tags", tags), ("Datasets", datasets), ("Artifacts", artifacts)):
        html_text += _pairs_html(title, items)
    if packages:
        html_text += (
            f"<details><summary><b>Environment: {len(packages)} packages</b></summary>"
            f"{_pairs_html('', packages)}</details>"
        )
    if cells:
        code_html = "".join(
            f"<details><summary>[{c['execution_count'] or ' '}] {c['status']}"
            f"{' ' + html.escape(c['error_name'] or '') if c['status'] == 'error' else ''}"
            f" &middot; {html.escape(c['source'].strip().splitlines()[0][:80] if c['source'].strip() else '')}"
            f"</summary><pre>{html.escape(c['source'])}</pre></details>"
            for c in cells
        )
        html_text += f"<h4>Code ({len(cells)} cells)</h4>{code_html}"
    html_text += "</div>"
    text_parts = [head, _pairs_text("Run", where), _pairs_text("Params", params), metrics_text]
    text_parts += [
        _pairs_text(t, i)
        for t, i in (("Tags", tags), ("Datasets", datasets), ("Artifacts", artifacts))
    ]
    if packages:
        text_parts.append(f"Environment: {len(packages)} packages")
    if cells:
        text_parts.append(f"Code: {len(cells)} cells")
    return View(html_text, "\n".join(p for p in text_parts if p))
