"""What an evaluation found, and the rules a model must pass on it.

:class:`EvaluationReport` holds the overall metrics, the confusion matrix, the
metrics per slice value (with counts), the fairness metrics per sensitive column
and, when a baseline was scored on the same rows, the baseline's own report.
It renders as HTML in a notebook (static: it survives papermill) and as text
in a terminal. :class:`Threshold` is one rule in MLflow's terms (``min_value``,
``min_absolute_change``, ``min_relative_change`` over the baseline) plus
``max_slice_drop`` (no slice may be worse than the baseline's by more than X);
:meth:`EvaluationReport.check` applies rules and says in words what happened.
"""

from __future__ import annotations

import html
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import InvalidArgumentError
from .metrics import greater_is_better


@dataclass
class Threshold:
    """A rule on one metric: an absolute floor/ceiling and improvement over the baseline.

    ``metric`` names an overall metric (``"accuracy"``) or a fairness figure
    (``"fairness.sex.demographic_parity_difference"``).
    """

    metric: str
    min_value: float | None = None
    max_value: float | None = None
    min_absolute_change: float | None = None
    min_relative_change: float | None = None
    max_slice_drop: float | None = None
    greater_is_better: bool | None = None

    @classmethod
    def from_dict(cls, metric: str, spec: dict[str, Any] | float) -> Threshold:
        if isinstance(spec, int | float):  # a bare number is the limit on the worse side
            bound = "min_value" if greater_is_better(metric.rsplit(".", 1)[-1]) else "max_value"
            spec = {bound: spec}
        if not isinstance(spec, dict):
            raise InvalidArgumentError(f"threshold {metric!r}: expected a table or a number")
        known = {f for f in cls.__dataclass_fields__ if f != "metric"}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise InvalidArgumentError(
                f"threshold {metric!r}: unknown rule {', '.join(unknown)} "
                f"(rules: {', '.join(sorted(known))})"
            )
        return cls(metric, **spec)

    @property
    def higher_better(self) -> bool:
        if self.greater_is_better is not None:
            return self.greater_is_better
        return greater_is_better(self.metric.rsplit(".", 1)[-1])


@dataclass
class CheckResult:
    """The outcome of one rule: which rule, whether it held, and why, in words."""

    rule: str
    passed: bool
    message: str

    def __str__(self) -> str:
        return f"{'pass' if self.passed else 'FAIL'}: {self.message}"


@dataclass
class EvaluationReport:
    """A model scored by the library on given data (see ``ml.evaluate``).

    Examples
    --------
    >>> report = ml.evaluate("iris@champion", test, target="species")   # doctest: +SKIP
    >>> report.metrics["accuracy"], report.slices["region"]             # doctest: +SKIP
    >>> report.check([ml.Threshold("accuracy", min_value=0.9)])         # doctest: +SKIP
    """

    model: str
    task: str
    target: str
    dataset: str
    rows: int
    metrics: dict[str, float]
    confusion: dict[str, Any] | None = None
    slices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fairness: dict[str, dict[str, Any]] = field(default_factory=dict)
    baseline: EvaluationReport | None = None
    run_id: str | None = None

    def value(self, metric: str) -> float | None:
        """An overall metric, or ``fairness.COLUMN.NAME``; None when it is not defined."""
        if metric.startswith("fairness."):
            _, column, name = metric.split(".", 2)
            return self.fairness.get(column, {}).get(name)
        return self.metrics.get(metric)

    def check(self, thresholds: list[Threshold] | dict[str, Any]) -> list[CheckResult]:
        """Apply each rule; every result says what was compared with what."""
        if isinstance(thresholds, dict):
            thresholds = [Threshold.from_dict(k, v) for k, v in thresholds.items()]
        results: list[CheckResult] = []
        for rule in thresholds:
            results += self._check_one(rule)
        return results

    def _check_one(self, rule: Threshold) -> list[CheckResult]:
        value = self.value(rule.metric)
        where = f"on data {self.dataset[:12]}"
        if value is None:
            return [CheckResult(rule.metric, False, f"{rule.metric} is not defined {where}")]
        out = []
        if rule.min_value is not None:
            ok = value >= rule.min_value
            out.append(
                CheckResult(
                    f"{rule.metric} >= {rule.min_value:g}",
                    ok,
                    f"{rule.metric} {value:.4g} {where} is "
                    f"{'at or above' if ok else 'below'} the floor {rule.min_value:g}",
                )
            )
        if rule.max_value is not None:
            ok = value <= rule.max_value
            out.append(
                CheckResult(
                    f"{rule.metric} <= {rule.max_value:g}",
                    ok,
                    f"{rule.metric} {value:.4g} {where} is "
                    f"{'at or below' if ok else 'above'} the ceiling {rule.max_value:g}",
                )
            )
        base = self.baseline.value(rule.metric) if self.baseline is not None else None
        sign = 1.0 if rule.higher_better else -1.0
        if base is not None and rule.min_absolute_change is not None:
            gain = sign * (value - base)
            ok = gain >= rule.min_absolute_change
            out.append(
                CheckResult(
                    f"{rule.metric} improves by >= {rule.min_absolute_change:g}",
                    ok,
                    f"{rule.metric} {value:.4g} against {self.baseline.model}'s {base:.4g} "  # type: ignore[union-attr]
                    f"{where}: a change of {gain:+.4g}, "
                    f"{'meets' if ok else 'short of'} the required {rule.min_absolute_change:+g}",
                )
            )
        if base is not None and rule.min_relative_change is not None:
            gain = sign * (value - base) / abs(base) if base else float("inf") * sign
            ok = gain >= rule.min_relative_change
            out.append(
                CheckResult(
                    f"{rule.metric} improves by >= {rule.min_relative_change:.1%}",
                    ok,
                    f"{rule.metric} {value:.4g} against {self.baseline.model}'s {base:.4g} "  # type: ignore[union-attr]
                    f"{where}: {gain:+.1%}, "
                    f"{'meets' if ok else 'short of'} the required {rule.min_relative_change:+.1%}",
                )
            )
        if rule.max_slice_drop is not None and self.baseline is not None:
            out += self._check_slices(rule)
        return out

    def _check_slices(self, rule: Threshold) -> list[CheckResult]:
        assert self.baseline is not None and rule.max_slice_drop is not None
        sign = 1.0 if rule.higher_better else -1.0
        worst: tuple[float, str] | None = None
        for column, rows in self.slices.items():
            base_rows = {r["value"]: r for r in self.baseline.slices.get(column, [])}
            for row in rows:
                mine = row["metrics"].get(rule.metric)
                theirs = base_rows.get(row["value"], {}).get("metrics", {}).get(rule.metric)
                if mine is None or theirs is None:
                    continue
                drop = sign * (theirs - mine)
                label = (
                    f"{column}={row['value']} ({mine:.4g} against {theirs:.4g}, n={row['count']})"
                )
                if worst is None or drop > worst[0]:
                    worst = (drop, label)
        name = f"{rule.metric}: no slice worse than the baseline by > {rule.max_slice_drop:g}"
        if worst is None:
            return [CheckResult(name, True, f"{rule.metric}: no slice to compare")]
        ok = worst[0] <= rule.max_slice_drop
        return [
            CheckResult(
                name,
                ok,
                f"{rule.metric}: the worst slice is {worst[1]}, a drop of {worst[0]:.4g} "
                f"({'within' if ok else 'beyond'} the allowed {rule.max_slice_drop:g})",
            )
        ]

    # -- output ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["baseline"] = self.baseline.to_dict() if self.baseline is not None else None
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def __str__(self) -> str:
        lines = [
            f"{self.model}: {self.task} on {self.rows} rows of data {self.dataset[:12]} "
            f"(target {self.target})"
        ]
        base = self.baseline.metrics if self.baseline is not None else {}
        for key, value in self.metrics.items():
            extra = f"   baseline {base[key]:.4g}" if key in base else ""
            lines.append(f"  {key:<20} {value:.4g}{extra}")
        for column, rows in self.slices.items():
            lines.append(f"  by {column}:")
            for row in rows:
                shown = ", ".join(f"{k} {v:.4g}" for k, v in list(row["metrics"].items())[:4])
                lines.append(f"    {row['value']!s:<16} n={row['count']:<6} {shown}")
        for column, figures in self.fairness.items():
            shown = ", ".join(
                f"{k} {v:.4g}" for k, v in figures.items() if k != "by_group" and v is not None
            )
            lines.append(f"  fairness by {column}: {shown}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        esc = html.escape
        base = self.baseline.metrics if self.baseline is not None else {}
        head = "<tr><th>metric</th><th>value</th>" + (
            f"<th>baseline ({esc(self.baseline.model)})</th>" if self.baseline else ""
        )
        rows = "".join(
            f"<tr><td>{esc(k)}</td><td>{v:.4g}</td>"
            + (f"<td>{base[k]:.4g}</td>" if k in base else ("<td></td>" if base else ""))
            + "</tr>"
            for k, v in self.metrics.items()
        )
        parts = [
            f"<div><b>{esc(self.model)}</b>: {esc(self.task)} on {self.rows} rows of data "
            f"<code>{esc(self.dataset[:12])}</code> (target <code>{esc(self.target)}</code>)",
            f"<table>{head}</tr>{rows}</table>",
        ]
        for column, slice_rows in self.slices.items():
            keys = list(slice_rows[0]["metrics"]) if slice_rows else []
            header = "".join(f"<th>{esc(k)}</th>" for k in keys)
            body = "".join(
                f"<tr><td>{esc(str(r['value']))}</td><td>{r['count']}</td>"
                + "".join(
                    f"<td>{r['metrics'][k]:.4g}</td>" if k in r["metrics"] else "<td></td>"
                    for k in keys
                )
                + "</tr>"
                for r in slice_rows
            )
            parts.append(
                f"<p>by <code>{esc(column)}</code></p><div style='overflow-x:auto'><table>"
                f"<tr><th>value</th><th>n</th>{header}</tr>{body}</table></div>"
            )
        for column, figures in self.fairness.items():
            items = "".join(
                f"<li>{esc(k)}: {v:.4g}</li>"
                for k, v in figures.items()
                if k != "by_group" and v is not None
            )
            parts.append(f"<p>fairness by <code>{esc(column)}</code></p><ul>{items}</ul>")
        return "".join(parts) + "</div>"
