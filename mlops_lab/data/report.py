"""The :class:`ValidationReport`: what :func:`~mlops_lab.validate` found, for people and CI.

It says whether the data passed and, for each failed check, the column, the
rule, how many rows failed and their share, example values and row labels; the
``failure_cases`` DataFrame has one row per failing cell (``row, column, check,
value``), like pandera's. It renders as HTML in the notebook and as text in a
terminal, and ``to_dict()`` is what the store keeps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ValidationFailedError
from .render import esc, html_table, text_table

if TYPE_CHECKING:
    import pandas as pd

    from .checks import Failure

EXAMPLES = 5


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, TypeError):
            pass
    if isinstance(value, float | int | str | bool) or value is None:
        return value
    return str(value)


@dataclass
class ValidationReport:
    """The outcome of validating one dataset against a schema.

    Examples
    --------
    >>> report = ml.validate(batch, schema)        # doctest: +SKIP
    >>> report.passed
    False
    >>> report.failure_cases.head()                # row, column, check, value
    >>> print(report)                              # the same report as text
    """

    n_rows: int
    n_cols: int
    failures: list[Failure]
    index: Any = None  # the validated frame's index: positions -> row labels
    schema_digest: str | None = None
    digest: str | None = None
    source: str | None = None
    validation_id: str | None = None
    _cases: pd.DataFrame | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return not self.failures

    def __bool__(self) -> bool:
        return self.passed

    @property
    def failed_rows(self) -> int:
        """The number of distinct rows that fail at least one check."""
        import numpy as np

        parts = [f.positions for f in self.failures if f.positions is not None]
        return len(np.unique(np.concatenate(parts))) if parts else 0

    def _labels(self, positions: Any) -> Any:
        if self.index is None:
            return positions
        return self.index[positions]

    @property
    def failure_cases(self) -> pd.DataFrame:
        """One row per failing cell: ``row`` (index label; None for column- or table-level),
        ``column``, ``check`` and ``value``."""
        import numpy as np
        import pandas as pd

        if self._cases is not None:
            return self._cases
        rows, values, counts = [], [], []
        for f in self.failures:
            if f.positions is None:
                rows.append(np.array([None], dtype=object))
                values.append(np.array([f.values], dtype=object))
                counts.append(1)
            else:
                n = len(f.positions)
                rows.append(np.asarray(self._labels(f.positions), dtype=object))
                values.append(
                    np.asarray(f.values, dtype=object)
                    if f.values is not None
                    else np.full(n, None, dtype=object)
                )
                counts.append(n)
        if counts:
            cases = pd.DataFrame(
                {
                    "row": np.concatenate(rows),
                    "column": np.repeat(
                        np.array([f.column for f in self.failures], dtype=object), counts
                    ),
                    "check": np.repeat(
                        np.array([f.check for f in self.failures], dtype=object), counts
                    ),
                    "value": np.concatenate(values),
                }
            )
        else:
            cases = pd.DataFrame(
                {c: pd.Series(dtype=object) for c in ("row", "column", "check", "value")}
            )
        self._cases = cases
        return cases

    def summary(self) -> list[dict[str, Any]]:
        """Per failed check: column, check, message, n_failed, share, examples, rows."""
        out = []
        for f in self.failures:
            item: dict[str, Any] = {"column": f.column, "check": f.check, "message": f.message}
            if f.positions is not None:
                n = len(f.positions)
                item["n_failed"] = n
                item["share"] = n / self.n_rows if self.n_rows else 0.0
                item["rows"] = [_plain(r) for r in self._labels(f.positions[:EXAMPLES])]
                if f.values is not None:
                    item["examples"] = [_plain(v) for v in f.values[:EXAMPLES]]
            else:
                item["n_failed"] = None
                item["share"] = None
            item.update({k: v for k, v in f.details.items()})
            out.append(item)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "n_rows": self.n_rows,
            "n_cols": self.n_cols,
            "n_failed_rows": self.failed_rows,
            "schema_digest": self.schema_digest,
            "digest": self.digest,
            "source": self.source,
            "failures": self.summary(),
        }

    def raise_for_failures(self) -> ValidationReport:
        """Raise :class:`~mlops_lab.errors.ValidationFailedError` if any check failed."""
        if not self.passed:
            first = self.failures[0]
            raise ValidationFailedError(
                f"validation failed: {len(self.failures)} checks "
                f"(first: {first.column or 'table'}: {first.check}: {first.message})",
                column=first.column,
                report=self,
            )
        return self

    # -- rendering -----------------------------------------------------------------------

    def _rows(self) -> list[list[str]]:
        rows = []
        for item in self.summary():
            n = item["n_failed"]
            rows.append(
                [
                    item["column"] or "(table)",
                    item["check"],
                    "" if n is None else f"{n} ({item['share']:.2%})",
                    item["message"],
                    ", ".join(map(repr, item.get("examples", []))),
                    ", ".join(map(str, item.get("rows", []))),
                ]
            )
        return rows

    def _headline(self) -> str:
        what = f"{self.n_rows:,} rows × {self.n_cols} columns"
        if self.passed:
            return f"PASSED: {what}, every check passed"
        return (
            f"FAILED: {what}, {len(self.failures)} failed checks, {self.failed_rows:,} failing rows"
        )

    _HEADERS = ("column", "check", "failing rows", "message", "examples", "rows")

    def __str__(self) -> str:
        text = "Validation " + self._headline()
        if self.source:
            text += f"\n  data: {self.source}"
        if not self.passed:
            text += "\n" + text_table(self._HEADERS, self._rows(), width=70)
        return text

    def __repr__(self) -> str:
        return f"<ValidationReport {'passed' if self.passed else 'FAILED'}: {len(self.failures)} failed checks>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        head = f"<div><b style='color:{color}'>Validation {esc(self._headline())}</b>"
        if self.source:
            head += f"<br><small>{esc(self.source)}</small>"
        if self.passed:
            return head + "</div>"
        return head + html_table(self._HEADERS, self._rows()) + "</div>"
