"""Static views: the runs table and one run's details, as HTML and as text."""

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
        f"<div class='mlops-runs'><b>{caption}</b>{body}</div>",
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
    return f"<h4>{title}</h4><table>{rows}</table>"


def _pairs_text(title: str, items: dict[str, Any]) -> str:
    if not items:
        return ""
    width = max(len(str(k)) for k in items)
    return title + "\n" + "\n".join(f"  {str(k).ljust(width)}  {_fmt(v)}" for k, v in items.items())


def run_view(run: Run) -> View:
    """One run's params, metrics, tags, datasets, artifacts, environment and code."""
    info = run.info
    params, metrics, tags = run.params, run.metrics, run.tags
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
        "packages": len(env.get("packages", {})),
    }
    cells = run.cells
    code_html = "".join(
        f"<details><summary>[{c['execution_count'] or ' '}] {c['status']}"
        f"{' ' + html.escape(c['error_name'] or '') if c['status'] == 'error' else ''}</summary>"
        f"<pre>{html.escape(c['source'])}</pre></details>"
        for c in cells
    )
    head = f"Run {info['name']} ({run.run_id[:8]})"
    sections = [
        ("Run", where),
        ("Params", params),
        ("Metrics", metrics),
        ("Tags", tags),
        ("Datasets", datasets),
        ("Artifacts", artifacts),
    ]
    html_text = f"<div class='mlops-run'><h3>{html.escape(head)}</h3>" + "".join(
        _pairs_html(t, i) for t, i in sections
    )
    if cells:
        html_text += f"<h4>Code ({len(cells)} cells)</h4>{code_html}"
    html_text += "</div>"
    text = "\n".join([head, *(s for s in (_pairs_text(t, i) for t, i in sections) if s)])
    if cells:
        text += f"\nCode: {len(cells)} cells"
    return View(html_text, text)
