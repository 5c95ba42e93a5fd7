"""The validation checks: each a few vectorised pandas/numpy operations over a column.

:func:`run_checks` applies a :class:`~.schema.Schema` to a DataFrame and returns
every :class:`Failure` (lazily: all checks run, none stops the others). A
failure knows its column, its rule, the positions of the failing rows and
their values; column- and table-level failures (a missing column, a row count)
have no rows. No check loops over rows in Python.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .kinds import NUMERIC, column_kind, compatible
from .render import fmt

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from .schema import ColumnSchema, Schema

TABLE = None  # the column of a table-level failure


@dataclass
class Failure:
    """One failed check: ``column`` (None for the table), ``check`` (the rule), ``message``.

    ``positions`` are the failing rows' positions (``None`` for a column- or
    table-level failure) and ``values`` their values; ``details`` holds extra
    facts (for ``in_categories``: the new categories with their counts and share).
    """

    column: str | None
    check: str
    message: str
    positions: np.ndarray | None = None
    values: Any = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def n_failed(self) -> int | None:
        return None if self.positions is None else len(self.positions)


def duplicate_row_mask(frame: pd.DataFrame) -> np.ndarray:
    """Rows equal to an earlier row (vectorised row hashes, confirmed exactly)."""
    import numpy as np
    import pandas as pd

    n = len(frame)
    if n < 2 or frame.shape[1] == 0:
        return np.zeros(n, dtype=bool)
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    candidates = pd.Series(hashes).duplicated(keep=False).to_numpy()
    mask = np.zeros(n, dtype=bool)
    if candidates.any():
        idx = np.flatnonzero(candidates)
        mask[idx] = frame.iloc[idx].duplicated(keep="first").to_numpy()
    return mask


def _rows(mask: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.flatnonzero(mask)


def _values(series: pd.Series, positions: np.ndarray) -> np.ndarray:
    return series.iloc[positions].to_numpy(dtype=object)


def _coerce(
    series: pd.Series, expected: str, col: ColumnSchema
) -> tuple[pd.Series | None, list[Failure]]:
    """Check the kind; return the series to run value checks on (coerced if possible)."""
    import pandas as pd

    actual = column_kind(series)
    if (
        compatible(expected, actual)
        or len(series) == 0
        or (actual == "float" and series.isna().all())
    ):
        return series, []
    message = f"dtype {series.dtype} ({actual}) where {col.dtype} ({expected}) is expected"
    if expected in NUMERIC and actual in ("string", "mixed", "category", "bool"):
        coerced = pd.to_numeric(series.astype(object), errors="coerce")
        bad = coerced.isna().to_numpy() & series.notna().to_numpy()
        pos = _rows(bad)
        return coerced, [
            Failure(
                col.name,
                "dtype",
                f"{message}; {len(pos)} values are not numbers",
                pos,
                _values(series, pos),
            )
        ]
    if expected == "integer" and actual == "float":
        values = series.to_numpy(dtype="float64", na_value=float("nan"))
        import numpy as np

        bad = np.isfinite(values) & (values != np.round(values)) | np.isinf(values)
        pos = _rows(bad)
        note = f"; {len(pos)} values are not whole numbers" if len(pos) else ""
        failure = Failure(
            col.name,
            "dtype",
            message + note,
            pos if len(pos) else None,
            _values(series, pos) if len(pos) else str(series.dtype),
        )
        return series, [failure]
    if expected == "string" and actual == "mixed":
        not_text = series.str.len().isna().to_numpy() & series.notna().to_numpy()
        pos = _rows(not_text)
        return series, [
            Failure(
                col.name,
                "dtype",
                f"{message}; {len(pos)} values are not text",
                pos,
                _values(series, pos),
            )
        ]
    if expected == "datetime" and actual in ("string", "mixed"):
        coerced = pd.to_datetime(series, errors="coerce", format="mixed")
        bad = coerced.isna().to_numpy() & series.notna().to_numpy()
        pos = _rows(bad)
        return coerced, [
            Failure(
                col.name,
                "dtype",
                f"{message}; {len(pos)} values are not dates",
                pos,
                _values(series, pos),
            )
        ]
    return None, [Failure(col.name, "dtype", message, None, str(series.dtype))]


def _missing(series: pd.Series, col: ColumnSchema, given: pd.Series) -> list[Failure]:
    """Values missing in ``given``, the column as it came (a value that failed ``dtype`` is
    not also reported as missing, although coercing it to the schema's kind made it NaN)."""
    mask = given.isna().to_numpy()
    n_missing = int(mask.sum())
    if not n_missing:
        return []
    n = len(series)
    if not col.nullable:
        pos = _rows(mask)
        return [
            Failure(
                col.name,
                "not_null",
                f"{n_missing} missing values ({n_missing / n:.2%}); none allowed",
                pos,
                _values(series, pos),
            )
        ]
    if col.max_missing is not None and n_missing / n > col.max_missing:
        pos = _rows(mask)
        return [
            Failure(
                col.name,
                "max_missing",
                f"{n_missing / n:.2%} missing, more than the {col.max_missing:.2%} allowed",
                pos,
                _values(series, pos),
            )
        ]
    return []


def _range(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    import numpy as np

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        values = series.to_numpy()  # no copy: compare in the column's own dtype
    else:
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    bad = None
    if col.min is not None:
        bad = values < col.min
    if col.max is not None:
        above = values > col.max
        bad = above if bad is None else bad | above
    # Infinities fail a two-sided range already; integers have none.
    if not col.allow_inf and values.dtype.kind == "f" and (col.min is None or col.max is None):
        inf = np.isinf(values)
        bad = inf if bad is None else bad | inf
    elif col.allow_inf and values.dtype.kind == "f" and bad is not None:
        bad &= ~np.isinf(values)
    if bad is None or not bad.any():
        return []
    pos = _rows(bad)
    return [
        Failure(
            col.name,
            "in_range",
            f"{len(pos)} values outside [{fmt(col.min, 6)}, {fmt(col.max, 6)}]"
            + ("" if col.allow_inf else " or infinite"),
            pos,
            _values(series, pos),
        )
    ]


def _categories(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    import numpy as np
    import pandas as pd

    allowed = col.categories or []
    if isinstance(series.dtype, pd.CategoricalDtype):
        cats = series.cat.categories
        ok_cat = np.append(cats.isin(allowed), True)  # code -1 (missing) is fine here
        bad = ~ok_cat[series.cat.codes.to_numpy()]
    else:
        bad = ~(series.isin(allowed).to_numpy() | series.isna().to_numpy())
    if not bad.any():
        return []
    pos = _rows(bad)
    values = _values(series, pos)
    counts = pd.Series(values).astype(str).value_counts()
    n = len(series)
    new = [{"value": v, "count": int(c), "share": c / n} for v, c in counts.head(20).items()]
    listed = ", ".join(f"{d['value']!r} ({d['share']:.2%})" for d in new[:5])
    more = f" and {len(counts) - 5} more" if len(counts) > 5 else ""
    return [
        Failure(
            col.name,
            "in_categories",
            f"{len(pos)} values in {len(counts)} unseen categories: {listed}{more}",
            pos,
            values,
            {"new_categories": new, "n_new_categories": len(counts)},
        )
    ]


def _unique(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    present = series.notna().to_numpy()
    bad = series.duplicated(keep=False).to_numpy() & present
    if not bad.any():
        return []
    pos = _rows(bad)
    return [
        Failure(
            col.name,
            "unique",
            f"{len(pos)} rows share a value with another row",
            pos,
            _values(series, pos),
        )
    ]


def _text(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    out: list[Failure] = []
    if col.kind != "string" or column_kind(series) not in ("string", "mixed"):
        return out
    if col.min_length is not None or col.max_length is not None:
        lengths = series.str.len()
        bad = (lengths < (col.min_length if col.min_length is not None else -1)) | (
            lengths > (col.max_length if col.max_length is not None else float("inf"))
        )
        bad = bad.to_numpy(dtype=bool, na_value=False)
        if bad.any():
            pos = _rows(bad)
            out.append(
                Failure(
                    col.name,
                    "str_length",
                    f"{len(pos)} values with length outside [{col.min_length}, {col.max_length}]",
                    pos,
                    _values(series, pos),
                )
            )
    if col.pattern:
        matched = series.str.fullmatch(col.pattern)
        bad = ~matched.to_numpy(dtype=bool, na_value=True)
        if bad.any():
            pos = _rows(bad)
            out.append(
                Failure(
                    col.name,
                    "pattern",
                    f"{len(pos)} values do not match {col.pattern!r}",
                    pos,
                    _values(series, pos),
                )
            )
    return out


def check_column(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    """Every check of ``col`` on ``series``; a bad value is reported by one check only."""
    given = series
    series, failures = _coerce(given, col.kind, col)
    if series is None:
        return failures
    failures += _missing(series, col, given)
    kind = column_kind(series)
    if kind in NUMERIC and col.kind in NUMERIC:
        failures += _range(series, col)
    if col.categories is not None:
        failures += _categories(series, col)
    if col.unique:
        failures += _unique(series, col)
    failures += _text(series, col)
    return failures


def run_checks(frame: pd.DataFrame, schema: Schema) -> list[Failure]:
    """Apply ``schema`` to ``frame``; every failure, in schema column order."""
    names = [str(c) for c in frame.columns]
    position = {name: i for i, name in enumerate(names)}
    failures: list[Failure] = []
    n = len(frame)
    if schema.min_rows is not None and n < schema.min_rows:
        failures.append(
            Failure(
                TABLE, "row_count", f"{n} rows, fewer than the {schema.min_rows} required", None, n
            )
        )
    if schema.max_rows is not None and n > schema.max_rows:
        failures.append(
            Failure(
                TABLE, "row_count", f"{n} rows, more than the {schema.max_rows} allowed", None, n
            )
        )
    expected = set(schema.names)
    for col in schema.columns:
        if col.name not in position:
            renamed = [c for c in names if c not in expected]
            hint = f" (columns not in the schema: {', '.join(renamed[:5])})" if renamed else ""
            failures.append(
                Failure(
                    col.name, "column_present", f"column {col.name!r} is missing{hint}", None, None
                )
            )
            continue
        failures += check_column(frame.iloc[:, position[col.name]], col)
    if not schema.allow_extra_columns:
        for name in names:
            if name not in expected:
                failures.append(
                    Failure(
                        name,
                        "no_extra_columns",
                        f"column {name!r} is not in the schema",
                        None,
                        None,
                    )
                )
    if not schema.allow_duplicate_rows and n > 1:
        mask = duplicate_row_mask(frame)
        if mask.any():
            pos = _rows(mask)
            failures.append(
                Failure(
                    TABLE, "no_duplicate_rows", f"{len(pos)} rows repeat an earlier row", pos, None
                )
            )
    return failures
