"""What differs between runs: params, final metrics, packages, datasets and code.

:func:`diff_runs` reads each run through the public API and returns a
:class:`RunDiff`, whose sections map a key to one value per run. With
``only_differences`` (the default) a section keeps only the keys whose values
are not all equal. The code section is a unified diff of the captured cells
of the first two runs.

Params of nested estimators (autologged Pipelines, ColumnTransformers,
searches) are shown per estimator, one row per step, such as
``pre › num › scaler`` with ``StandardScaler(with_mean=False)`` for each run
(:meth:`RunDiff.param_rows`), rather than one row per nested param.
"""

from __future__ import annotations

import difflib
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import values as v

if TYPE_CHECKING:
    from ..tracking.run import Run

SECTIONS = ("params", "metrics", "environment", "datasets")
MISSING = v.MISSING


@dataclass
class ParamRow:
    """One row of the params section: a top-level param or a whole estimator."""

    label: str
    values: list[str]
    differs: bool
    estimator: bool = False


@dataclass
class RunDiff:
    """Per-section ``{key: [value per run]}`` plus the code diff of the first two runs.

    ``params`` is flat (``pre__num__scaler__with_mean``); :meth:`param_rows`
    groups it by estimator for display.
    """

    run_ids: list[str]
    names: list[str]
    params: dict[str, list[Any]] = field(default_factory=dict)
    metrics: dict[str, list[Any]] = field(default_factory=dict)
    environment: dict[str, list[Any]] = field(default_factory=dict)
    datasets: dict[str, list[Any]] = field(default_factory=dict)
    code: str = ""
    only_differences: bool = True
    all_params: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def keys(self, section: str) -> list[str]:
        return list(getattr(self, section))

    def __repr__(self) -> str:
        counts = ", ".join(f"{s} {len(getattr(self, s))}" for s in SECTIONS)
        return f"<RunDiff of {len(self.run_ids)} runs: {counts}>"

    def param_rows(self) -> list[ParamRow]:
        """The params section for display: top-level params, then one row per estimator.

        An estimator's cell is its class with its own params: the ones that
        differ between the runs, or all of them when ``only_differences`` is off.
        """
        per_run = self.all_params or [
            {k: vals[i] for k, vals in self.params.items()} for i in range(len(self.run_ids))
        ]
        paths = v.estimator_paths(per_run)
        names = sorted({k for d in per_run for k in d})
        top: list[str] = []
        own: dict[str, list[str]] = {p: [] for p in paths}
        for name in names:
            if name in own:
                continue
            path, param = v.owner(name, paths)
            if path is None:
                top.append(name)
            else:
                own[path].append(param)
        multi = len(per_run) > 1
        rows = []
        for name in top:
            vals = [d.get(name, v.ABSENT) for d in per_run]
            differs = multi and not v.same(vals)
            if differs or not self.only_differences or not multi:
                rows.append(ParamRow(name, [v.text(x) for x in vals], differs))
        for path in sorted(paths, key=lambda p: p.split(v.SEP)):
            classes = [d.get(path, v.ABSENT) for d in per_run]

            def column(p: str, path: str = path) -> list[Any]:
                return [d.get(f"{path}{v.SEP}{p}", v.ABSENT) for d in per_run]

            # Own params differ when they differ between the runs that have this estimator.
            having = [i for i, c in enumerate(classes) if c is not v.ABSENT] or list(
                range(len(per_run))
            )
            differing = [
                p
                for p in own[path]
                if len(having) > 1 and not v.same([column(p)[i] for i in having])
            ]
            differs = bool(differing) or (multi and not v.same(classes))
            if not differs and self.only_differences and multi:
                continue
            shown = differing if self.only_differences and multi else own[path]
            cells = []
            for i, d in enumerate(per_run):
                args = [
                    f"{p}={v.literal(d[f'{path}{v.SEP}{p}'])}"
                    for p in shown
                    if f"{path}{v.SEP}{p}" in d
                ]
                if classes[i] is v.ABSENT and not args:
                    cells.append(MISSING)
                else:
                    cls = "" if classes[i] is v.ABSENT else str(classes[i])
                    cells.append(f"{cls}({', '.join(args)})" if args else cls)
            rows.append(ParamRow(v.path_label(path), cells, differs, estimator=True))
        return rows

    def _rows(self, section: str) -> list[ParamRow]:
        if section == "params":
            return self.param_rows()
        rows = []
        for k, vals in getattr(self, section).items():
            shown = [v.ABSENT if x is None else x for x in vals]  # None: not recorded
            rows.append(ParamRow(k, [v.text(x) for x in shown], not v.same(shown)))
        return rows

    def to_html(self) -> str:
        """The diff as HTML tables (differing values highlighted) and a code diff."""
        head = "".join(f"<th>{html.escape(n)}</th>" for n in self.names)
        parts = []
        for section in SECTIONS:
            rows = self._rows(section)
            if not rows:
                continue
            body = []
            for row in rows:
                style = " style='background:#fff3cd'" if row.differs else ""
                cells = "".join(f"<td>{html.escape(x)}</td>" for x in row.values)
                label = html.escape(row.label)
                label = f"<i>{label}</i>" if row.estimator else f"<b>{label}</b>"
                body.append(f"<tr{style}><td>{label}</td>{cells}</tr>")
            parts.append(
                f"<h4>{section.capitalize()}</h4><div class='mlops-scroll' style='overflow-x:auto;max-width:100%'>"
                f"<table class='mlops-diff'><tr><th></th>{head}</tr>{''.join(body)}</table></div>"
            )
        if not parts:
            parts.append("<p><i>no differences</i></p>" if self.only_differences else "")
        if self.code:
            parts.append(f"<h4>Code</h4>{_code_html(self.code)}")
        elif len(self.run_ids) >= 2:
            parts.append("<h4>Code</h4><p><i>captured cells are identical (or none)</i></p>")
        return "<div class='mlops-run-diff'>" + "".join(parts) + "</div>"

    def to_text(self, *, width: int = 100) -> str:
        """The diff for a terminal: each differing key, then its value in each run."""
        out = []
        label_width = max((len(n) for n in self.names), default=0)
        for section in SECTIONS:
            rows = self._rows(section)
            if not rows:
                continue
            title = section.capitalize() + (" that differ" if self.only_differences else "")
            out.append(title)
            for row in rows:
                out.append(f"  {row.label}")
                for name, value in zip(self.names, row.values, strict=True):
                    room = max(20, width - label_width - 6)
                    shown = value if len(value) <= room else value[: room - 1] + "…"
                    out.append(f"    {name.ljust(label_width)}  {shown}")
        if not out:
            out.append("no differences" if self.only_differences else "nothing logged")
        if self.code:
            changed = sum(
                1
                for line in self.code.splitlines()
                if line[:1] in "+-" and not line.startswith(("+++", "---"))
            )
            out.append(f"Code: {changed} lines differ between the first two runs")
        return "\n".join(out)


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
    return "<pre style='font-size:90%;overflow-x:auto'>" + "\n".join(lines) + "</pre>"


def _section(per_run: list[dict[str, Any]], only_differences: bool) -> dict[str, list[Any]]:
    keys = sorted({k for d in per_run for k in d})
    if only_differences and len(per_run) > 1:
        keys = [k for k in keys if not v.same([d.get(k, v.ABSENT) for d in per_run])]
    return {k: [d.get(k) for d in per_run] for k in keys}


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
    params = [dict(r.params) for r in runs]
    return RunDiff(
        run_ids=[r.run_id for r in runs],
        names=v.unique_labels([r.name for r in runs], [r.run_id for r in runs]),
        params=_section(params, only_differences),
        metrics=_section([r.metrics for r in runs], only_differences),
        environment=_section(packages, only_differences),
        datasets=_section(datasets, only_differences),
        code=code_diff(runs[0], runs[1]) if len(runs) >= 2 else "",
        only_differences=only_differences,
        all_params=params,
    )
