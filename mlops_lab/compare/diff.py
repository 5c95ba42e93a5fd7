"""What differs between runs: params, final metrics, packages, datasets and code.

:func:`diff_runs` reads each run through the public API and returns a
:class:`RunDiff`, whose sections map a key to one value per run. With
``only_differences`` (the default) a section keeps only the keys whose values
are not all equal. The code section is a unified diff of the captured cells
of the first two runs.
"""

from __future__ import annotations

import difflib
import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..tracking.run import Run

SECTIONS = ("params", "metrics", "environment", "datasets")
MISSING = "—"


@dataclass
class RunDiff:
    """Per-section ``{key: [value per run]}`` plus the code diff of the first two runs."""

    run_ids: list[str]
    names: list[str]
    params: dict[str, list[Any]] = field(default_factory=dict)
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    environment: dict[str, list[Any]] = field(default_factory=dict)
    datasets: dict[str, list[Any]] = field(default_factory=dict)
    code: str = ""
    only_differences: bool = True

    def keys(self, section: str) -> list[str]:
        return list(getattr(self, section))

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {len(getattr(self, s))}" for s in SECTIONS)
        return f"<RunDiff of {len(self.run_ids)} runs: {counts}>"

    def to_html(self) -> str:
        """The diff as HTML tables (differing values highlighted) and a code diff."""
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.names)
        parts = []
        for section in SECTIONS:
            rows = getattr(self, section)
            if not rows:
                continue
            body = []
            for key, values in rows.items():
                differs = not _all_equal(values)
                style = " style='background:#fff3cd'" if differs else ""
                cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in values)
                body.append(f"<tr{style}><td><b>{html.escape(key)}</b></td>{cells}</tr>")
            parts.append(
                f"<h4>{section.capitalize()}</h4><table class='mlops-diff'>"
                f"<tr><th></th>{head}</tr>{''.join(body)}</table>"
            )
        if not parts:
            parts.append("<p><i>no differences</i></p>" if self.only_differences else "")
        if self.code:
            parts.append(f"<h4>Code</h4>{_code_html(self.code)}")
        elif len(self.run_ids) >= 2:
            parts.append("<h4>Code</h4><p><i>captured cells are identical (or none)</i></p>")
        return "<div class='mlops-run-diff'>" + "".join(parts) + "</div>"


def _fmt(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b


def _all_equal(values: Sequence[Any]) -> bool:
    return all(_same(values[0], v) for v in values[1:])


def _code_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        color = ""
        if line.startswith("+") and not line.startswith("+++"):
            color = "color:#22863a;background:#f0fff4"
        elif line.startswith("-") and not line.startswith("---"):
            color = "color:#b31d28;background:#ffeef0"
        elif line.startswith("@@"):
            color = "color:#6f42c1"
        lines.append(f"<span style='{color}'>{html.escape(line)}</span>")
    return "<pre style='font-size:90%'>" + "\n".join(lines) + "</pre>"


def _section(per_run: list[dict[str, Any]], only_differences: bool) -> dict[str, list[Any]]:
    keys = sorted({k for d in per_run for k in d})
    out = {k: [d.get(k) for d in per_run] for k in keys}
    if only_differences and len(per_run) > 1:
        out = {k: v for k, v in out.items() if not _all_equal(v)}
    return out


def code_diff(a: Run, b: Run) -> str:
    """A unified diff of the cells captured by run ``a`` and by run ``b``."""
    left = "\n".join(c["source"] for c in a.cells).splitlines()
    right = "\n".join(c["source"] for c in b.cells).splitlines()
    return "\n".join(
        difflib.unified_diff(
            left,
            right,
            fromfile=f"{a.name} ({a.run_id[:8]})",
            tofile=f"{b.name} ({b.run_id[:8]})",
            lineterm="",
        )
    )


def diff_runs(runs: Sequence[Run], *, only_differences: bool = True) -> RunDiff:
    """Compare ``runs`` (``Run`` objects) key by key; see the module docstring."""
    runs = list(runs)
    packages = []
    for run in runs:
        env = run.environment
        row = {"python": env.get("python")} if env else {}
        row.update(env.get("packages", {}) if env else {})
        packages.append(row)
    datasets = [
        {f"{d['role']}: {d['name'] or d['digest'][:8]}": d["digest"][:16] for d in run.datasets}
        for run in runs
    ]
    return RunDiff(
        run_ids=[r.run_id for r in runs],
        names=[r.name or r.run_id[:8] for r in runs],
        params=_section([r.params for r in runs], only_differences),
        metrics=_section([r.metrics for r in runs], only_differences),
        environment=_section(packages, only_differences),
        datasets=_section(datasets, only_differences),
        code=code_diff(runs[0], runs[1]) if len(runs) >= 2 else "",
        only_differences=only_differences,
    )
