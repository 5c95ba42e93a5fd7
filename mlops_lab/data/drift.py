"""Drift between a reference and a current dataset, per column, with a test suited to each.

Numbers: Kolmogorov–Smirnov when either sample is small (≤ 1,000 values), the
Wasserstein distance normed by the reference's standard deviation when both
are large. Categories: chi-square when small, Jensen–Shannon distance when
large. PSI is available for either. Each column's test and threshold can be
set; categories absent from the reference are reported separately.

The reference side is summarised once (:class:`DriftReference`: raw values of
small numeric columns, 1,001 quantiles of large ones, and category counts), so
a reference can be saved, stored and reused without the original data.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import DataError, InvalidArgumentError
from .drift_tests import (
    DEFAULT_THRESHOLDS,
    SMALL,
    TESTS,
    ColumnDrift,
    column_summary,
    run_test,
)
from .fingerprint import fingerprint
from .io import DataLike, as_frame
from .render import esc, fmt, html_table, text_table

FORMAT = "mlops-lab/drift-reference/v1"


@dataclass
class DriftReference:
    """The reference side of a drift comparison, computed once from a dataset."""

    columns: dict[str, dict[str, Any]]
    n_rows: int
    digest: str | None = None

    @classmethod
    def from_data(cls, data: DataLike) -> DriftReference:
        frame, _ = as_frame(data, what="reference")
        columns = {str(c): column_summary(frame.iloc[:, i]) for i, c in enumerate(frame.columns)}
        return cls(columns, len(frame), fingerprint(frame))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "n_rows": self.n_rows,
            "digest": self.digest,
            "columns": self.columns,
        }

    def save(self, path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        p.write_text(json.dumps(self.to_dict()), encoding="utf-8")
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DriftReference:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DataError(f"cannot read the drift reference {str(path)!r}: {exc}") from exc
        if data.get("format") != FORMAT:
            raise DataError(f"{str(path)!r} is not an mlops-lab drift reference")
        return cls(data["columns"], data["n_rows"], data.get("digest"))


def drift_reference(data: DataLike) -> DriftReference:
    """Summarise a reference dataset once, to compare many current batches against."""
    return DriftReference.from_data(data)


@dataclass
class DriftReport:
    """Per-column drift results and the share of columns that drifted.

    ``dataset_drift`` is true when at least ``drift_share`` of the compared
    columns drifted; ``passed`` is its negation (what CI gates on).
    """

    columns: list[ColumnDrift]
    drift_share: float
    missing_columns: list[str] = field(default_factory=list)
    reference_digest: str | None = None
    current_digest: str | None = None
    drift_id: str | None = None

    @property
    def drifted_columns(self) -> list[str]:
        return [c.column for c in self.columns if c.drifted]

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    @property
    def dataset_drift(self) -> bool:
        return bool(self.columns) and self.share_drifted >= self.drift_share

    @property
    def passed(self) -> bool:
        return not self.dataset_drift and not self.missing_columns

    def __getitem__(self, column: str) -> ColumnDrift:
        for c in self.columns:
            if c.column == column:
                return c
        raise KeyError(column)

    def to_frame(self) -> Any:
        import pandas as pd

        rows = [c.to_dict() for c in self.columns]
        for r in rows:
            r["new_categories"] = len(r["new_categories"])
        return pd.DataFrame(rows)

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset_drift": self.dataset_drift,
            "share_drifted": self.share_drifted,
            "drift_share": self.drift_share,
            "missing_columns": self.missing_columns,
            "columns": [c.to_dict() for c in self.columns],
        }

    def _headline(self) -> str:
        n, d = len(self.columns), len(self.drifted_columns)
        verdict = "DRIFT" if self.dataset_drift else "no dataset drift"
        text = f"{verdict}: {d} of {n} columns drifted ({self.share_drifted:.0%}; threshold {self.drift_share:.0%})"
        if self.missing_columns:
            text += f"; missing in current: {', '.join(self.missing_columns)}"
        return text

    _HEADERS = (
        "column",
        "test",
        "statistic",
        "p-value",
        "threshold",
        "drifted",
        "new categories",
        "why this test",
    )

    def _rows(self) -> list[list[str]]:
        return [
            [
                c.column,
                c.test,
                fmt(c.statistic),
                fmt(c.p_value),
                fmt(c.threshold),
                "yes" if c.drifted else "no",
                ", ".join(f"{n['value']} ({n['share']:.1%})" for n in c.new_categories[:3])
                + (" …" if len(c.new_categories) > 3 else ""),
                c.reason,
            ]
            for c in self.columns
        ]

    def __str__(self) -> str:
        return (
            "Drift " + self._headline() + "\n" + text_table(self._HEADERS, self._rows(), width=100)
        )

    def __repr__(self) -> str:
        return f"<DriftReport {self._headline()}>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        color = "#cf222e" if self.dataset_drift else "#1a7f37"
        styles = ["background:#fff0f0" if c.drifted else "" for c in self.columns]
        return (
            f"<div><b style='color:{color}'>Drift {esc(self._headline())}</b>"
            + html_table(self._HEADERS, self._rows(), row_styles=styles)
            + "</div>"
        )


def drift(
    reference: DataLike | DriftReference,
    current: DataLike,
    *,
    columns: list[str] | None = None,
    tests: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    drift_share: float = 0.5,
    record: bool | None = None,
) -> DriftReport:
    """Compare ``current`` with ``reference`` column by column.

    Parameters
    ----------
    reference
        A DataFrame, a CSV/Parquet path, or a :class:`DriftReference` computed once.
    current
        A DataFrame or a CSV/Parquet path.
    columns
        The columns to compare (default: every reference column).
    tests
        Per column, a test to use instead of the automatic choice:
        ``ks``, ``wasserstein``, ``psi``, ``chisquare``, ``jensenshannon``.
    thresholds
        Per column, or per test name, the threshold (p-value below it for ``ks`` and
        ``chisquare``; distance at or above it for the others).
    drift_share
        The dataset drifts when at least this share of the columns drifted.
    record
        Store the scores (linked to the active run) for trending; default: when a run is open.
    """
    ref = (
        reference if isinstance(reference, DriftReference) else DriftReference.from_data(reference)
    )
    frame, _ = as_frame(current, what="current")
    tests, thresholds = dict(tests or {}), dict(thresholds or {})
    for col, name in tests.items():
        if name not in TESTS:
            raise InvalidArgumentError(
                f"tests[{col!r}]: unknown test {name!r}; valid tests are {', '.join(TESTS)}"
            )
    if not 0 < drift_share <= 1:
        raise InvalidArgumentError(f"drift_share: expected a share in (0, 1], got {drift_share!r}")
    names = [str(c) for c in frame.columns]
    wanted = [str(c) for c in columns] if columns is not None else list(ref.columns)
    unknown = [c for c in wanted if c not in ref.columns]
    if unknown:
        raise DataError(f"columns not in the reference: {', '.join(unknown)}", column=unknown[0])
    results, missing = [], []
    for col in wanted:
        if col not in names:
            missing.append(col)
            continue
        summary = column_summary(frame.iloc[:, names.index(col)])
        results.append(
            run_test(col, ref.columns[col], summary, test=tests.get(col), thresholds=thresholds)
        )
    report = DriftReport(
        results,
        drift_share,
        missing,
        reference_digest=ref.digest,
        current_digest=fingerprint(frame),
    )
    if record is None:
        from ..project import default_project

        record = default_project().active is not None
    if record:
        from .api import record_drift

        record_drift(report)
    return report


__all__ = [
    "DEFAULT_THRESHOLDS",
    "SMALL",
    "ColumnDrift",
    "DriftReference",
    "DriftReport",
    "drift",
    "drift_reference",
]
