"""The validation checks: each a few vectorised pandas/numpy operations over a column.

:func:`run_checks` applies a :class:`~.schema.Schema` to a DataFrame and returns
every :class:`Failure` (lazily: all checks run, none stops the others). A
failure knows its column, its rule, the positions of the failing rows and
their values; column- and table-level failures (a missing column, a row count)
have no rows. No check loops over rows in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .arrow_text import char_lengths, missing_mask, null_count, outside, repeated, string_chunks
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


_MIX = 0x9E3779B97F4A7C15  # odd: multiplying by it is a bijection of uint64


def _row_bits(series: pd.Series) -> np.ndarray | None:
    """The column's values as uint64 words, equal values giving equal words; ``None``
    for a column with no cheap exact encoding (text, objects)."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy().astype(np.int64).view(np.uint64)
    if isinstance(dtype, np.dtype) and dtype.kind in "iubmM":
        return series.to_numpy().astype(np.int64, copy=False).view(np.uint64)
    if (isinstance(dtype, np.dtype) and dtype.kind == "f") or _is_masked_numeric(dtype):
        values = series.to_numpy(dtype="float64", na_value=np.nan) + 0.0  # -0.0 becomes 0.0
        nan = np.isnan(values)
        if nan.any():
            values[nan] = np.nan  # one NaN bit pattern
        return values.view(np.uint64)
    return None


def _is_masked_numeric(dtype: object) -> bool:
    import pandas as pd

    return (
        isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and getattr(dtype, "kind", "") in ("i", "u", "f", "b")
        and not isinstance(dtype, pd.CategoricalDtype)
    )


def _repeats(key: np.ndarray) -> bool:
    """Whether a value of ``key`` occurs twice (one sort, no hash table)."""
    import numpy as np

    ordered = np.sort(key)
    return bool((ordered[1:] == ordered[:-1]).any())


def duplicate_row_mask(
    frame: pd.DataFrame, distinct: Sequence[np.ndarray | None] = ()
) -> np.ndarray:
    """Rows equal to an earlier row.

    ``distinct`` has the missing-value masks (``None``: none missing) of columns known to
    hold no repeated present value: two equal rows are missing there both, so only the
    rows missing in all of them are compared (none, when one has no missing value).

    Numeric, datetime and categorical columns fold into a 64-bit row key, equal rows
    giving equal keys, floats first (usually all distinct). The key is tested (one
    sort) after 1, 2, 4, 8, ... columns: a key without repeats proves there are no
    duplicate rows, so a clean frame costs one sort of one column. Only rows whose
    full key repeats are compared exactly, with pandas' ``duplicated``.
    """
    import numpy as np

    n = len(frame)
    mask = np.zeros(n, dtype=bool)
    if n < 2 or frame.shape[1] == 0 or any(m is None for m in distinct):
        return mask
    if distinct:
        candidates = np.logical_and.reduce([m for m in distinct if m is not None])
        rows = np.flatnonzero(candidates)
        if len(rows) > 1:
            mask[rows] = duplicate_row_mask(frame.iloc[rows])
        return mask
    columns = [series for _, series in frame.items()]  # items(): cheaper than iloc
    order = sorted(columns, key=lambda series: _fold_rank(series.dtype))
    mix = np.uint64(_MIX)
    key: np.ndarray | None = None
    folded, tested = 0, 0
    for series in order:
        bits = _row_bits(series)
        if bits is None:
            break
        key = bits * mix if key is None else (key ^ bits) * mix
        folded += 1
        if folded & (folded - 1) == 0:  # a power of two
            tested = folded
            if not _repeats(key):
                return mask
    if key is None:  # no column to fold: compare every row
        mask[:] = frame.duplicated(keep="first").to_numpy()
        return mask
    if folded != tested and not _repeats(key):
        return mask
    rows = np.flatnonzero(_duplicated_keys(key))
    mask[rows] = frame.iloc[rows].duplicated(keep="first").to_numpy()
    return mask


def _duplicated_keys(key: np.ndarray) -> np.ndarray:
    """Entries of ``key`` that occur more than once (pandas' hash table)."""
    import pandas as pd

    return pd.Series(key).duplicated(keep=False).to_numpy()


def _fold_rank(dtype: Any) -> int:
    """Fold floats first (usually all distinct), then integers and dates, then categories."""
    import numpy as np
    import pandas as pd

    if isinstance(dtype, pd.CategoricalDtype):
        return 3
    if isinstance(dtype, np.dtype):
        return {"f": 0, "M": 1, "m": 1, "i": 1, "u": 1, "b": 4}.get(dtype.kind, 9)
    return 2 if _is_masked_numeric(dtype) else 9


def _rows(mask: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.flatnonzero(mask)


def _values(series: pd.Series, positions: np.ndarray) -> np.ndarray:
    return series.iloc[positions].to_numpy(dtype=object)


def _coerce(
    series: pd.Series, expected: str, col: ColumnSchema, actual: str
) -> tuple[pd.Series | None, list[Failure]]:
    """Check the kind (``actual`` is the series'); return the series to run value checks
    on (coerced if possible)."""
    import pandas as pd

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


def _missing_mask(series: pd.Series) -> np.ndarray | None:
    """Where ``series`` is missing; ``None`` when no value is (no boolean array kept)."""
    import numpy as np
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return None
    chunks = string_chunks(series)
    if chunks is not None:
        return missing_mask(chunks) if null_count(chunks) else None
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        mask = np.isnan(series.to_numpy())
    elif isinstance(dtype, pd.CategoricalDtype):
        mask = series.cat.codes.to_numpy() < 0
    else:
        mask = series.isna().to_numpy()
    return mask if mask.any() else None


def _extrema(series: pd.Series) -> tuple[Any, Any] | None:
    """Min and max of a numpy numeric column (NaN when a value is missing), read once and
    shared by the missing-value and range checks; ``None`` for other columns."""
    import numpy as np

    dtype = series.dtype
    if not (isinstance(dtype, np.dtype) and dtype.kind in "iuf") or not len(series):
        return None
    values = series.to_numpy()
    return values.min(), values.max()


def _missing(
    series: pd.Series, col: ColumnSchema, given: pd.Series, extrema: tuple[Any, Any] | None
) -> list[Failure]:
    """Values missing in ``given``, the column as it came (a value that failed ``dtype`` is
    not also reported as missing, although coercing it to the schema's kind made it NaN)."""
    import numpy as np

    if col.nullable and col.max_missing is None:
        return []
    if extrema is not None and not np.isnan(extrema[0]):
        return []
    mask = _missing_mask(given)
    if mask is None:
        return []
    n_missing = int(mask.sum())
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


def _within(values: np.ndarray, col: ColumnSchema, extrema: tuple[Any, Any] | None) -> bool:
    """Whether every value is finite and in range, from the column's min and max alone
    (NaN ignored): the clean column's whole check, no boolean array made."""
    import numpy as np

    if values.dtype.kind == "f":
        if extrema is not None and not np.isnan(extrema[0]):
            lo, hi = extrema
        else:
            lo, hi = np.fmin.reduce(values), np.fmax.reduce(values)
        if np.isnan(lo):  # every value missing
            return True
        if not (np.isfinite(lo) and np.isfinite(hi)):
            return False
    else:
        lo, hi = extrema if extrema is not None else (values.min(), values.max())
    return (col.min is None or lo >= col.min) and (col.max is None or hi <= col.max)


def _range(
    series: pd.Series, col: ColumnSchema, extrema: tuple[Any, Any] | None = None
) -> list[Failure]:
    import numpy as np

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iuf":
        values = series.to_numpy()  # no copy: compare in the column's own dtype
    else:
        values = series.to_numpy(dtype="float64", na_value=np.nan)
    if not values.size or _within(values, col, extrema):
        return []
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
        # One test per category, then a lookup of the codes only if one is not allowed.
        ok_cat = series.cat.categories.isin(allowed)
        if ok_cat.all():
            return []
        codes = series.cat.codes.to_numpy()
        bad = ~np.append(ok_cat, True)[codes]  # code -1 (missing) is fine here
    elif (chunks := string_chunks(series)) is not None:
        outsiders = outside(chunks, allowed)
        if outsiders is None:
            return []
        bad = outsiders
    else:
        ok = series.isin(allowed).to_numpy()
        if ok.all():
            return []
        bad = ~ok
        missing = _missing_mask(series)
        if missing is not None:
            bad = bad & ~missing
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


def _surely_unique(series: pd.Series) -> bool:
    """Whether no present value of a numeric column repeats, proven by one sort
    (no hash table); ``False`` for other columns."""
    import numpy as np

    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "iufmM":
        ordered = np.sort(series.to_numpy())
        return not (ordered[1:] == ordered[:-1]).any()  # NaN and NaT equal nothing
    return False


def _unique(series: pd.Series, col: ColumnSchema) -> list[Failure]:
    if _surely_unique(series):
        return []
    chunks = string_chunks(series)
    if chunks is not None:
        bad = repeated(series, chunks)
    else:
        bad = series.duplicated(keep=False).to_numpy()
        missing = _missing_mask(series)
        if missing is not None:
            bad = bad & ~missing
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


def _length_outside(series: pd.Series, lo: float, hi: float) -> np.ndarray | None:
    """Where a text value's length in characters is outside ``[lo, hi]`` (missing values
    and values that are not text never are); ``None`` when none is."""
    import numpy as np

    chunks = string_chunks(series)
    if chunks is not None:
        lengths = char_lengths(chunks)
        missing = missing_mask(chunks) if null_count(chunks) else None
        present = lengths if missing is None else lengths[~missing]
        if not present.size or (present.min() >= lo and present.max() <= hi):
            return None
        bad = (lengths < lo) | (lengths > hi)
        return bad if missing is None else bad & ~missing
    measured = series.str.len().to_numpy(dtype="float64", na_value=np.nan)
    shortest, longest = np.fmin.reduce(measured), np.fmax.reduce(measured)
    if np.isnan(shortest) or (shortest >= lo and longest <= hi):
        return None
    return (measured < lo) | (measured > hi)


def _text(series: pd.Series, col: ColumnSchema, kind: str) -> list[Failure]:
    import numpy as np

    out: list[Failure] = []
    if col.kind != "string" or kind not in ("string", "mixed"):
        return out
    if len(series) and (col.min_length is not None or col.max_length is not None):
        lo = col.min_length if col.min_length is not None else -1
        hi = col.max_length if col.max_length is not None else np.inf
        outside_range = _length_outside(series, lo, hi)
        if outside_range is not None:
            pos = _rows(outside_range)
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


def check_column(
    series: pd.Series, col: ColumnSchema, distinct: list[np.ndarray | None] | None = None
) -> list[Failure]:
    """Every check of ``col`` on ``series``; a bad value is reported by one check only.

    When ``col.unique`` passes on the column as given, the column's missing-value mask
    (``None``: no value missing) is appended to ``distinct``: only rows missing there can
    repeat another row.
    """
    given = series
    actual = column_kind(given)
    series, failures = _coerce(given, col.kind, col, actual)
    if series is None:
        return failures
    extrema = _extrema(given) if series is given else None
    failures += _missing(series, col, given, extrema)
    kind = actual if series is given else column_kind(series)
    if kind in NUMERIC and col.kind in NUMERIC:
        failures += _range(series, col, extrema)
    if col.categories is not None:
        failures += _categories(series, col)
    if col.unique:
        repeats = _unique(series, col)
        if not repeats and distinct is not None and series is given:
            distinct.append(_missing_mask(series))
        failures += repeats
    failures += _text(series, col, kind)
    return failures


_PARALLEL_CELLS = 1_000_000  # from this many cells, columns are checked on several cores


def _check_columns(
    columns: list[pd.Series], schemas: list[ColumnSchema]
) -> list[tuple[list[Failure], list[np.ndarray | None]]]:
    """:func:`check_column` of each column, in order, with what it adds to ``distinct``.

    A large frame's columns are checked in threads, one column each: the checks
    spend their time in numpy, pandas and pyarrow kernels, which release the GIL.
    """
    import os

    def one(series: pd.Series, col: ColumnSchema) -> tuple[list[Failure], list]:
        distinct: list[np.ndarray | None] = []
        return check_column(series, col, distinct), distinct

    workers = min(os.cpu_count() or 1, len(columns), 8)
    cells = sum(len(c) for c in columns)
    if workers < 2 or cells < _PARALLEL_CELLS:
        return [one(series, col) for series, col in zip(columns, schemas, strict=True)]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="mlops-validate") as pool:
        return list(pool.map(one, columns, schemas))


def run_checks(frame: pd.DataFrame, schema: Schema) -> list[Failure]:
    """Apply ``schema`` to ``frame``; every failure, in schema column order."""
    names = [str(c) for c in frame.columns]
    columns = [series for _, series in frame.items()]  # items(): cheaper than iloc
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
    distinct: list[np.ndarray | None] = []  # columns where no present value repeats
    present = [c for c in schema.columns if c.name in position]
    checked = iter(_check_columns([columns[position[c.name]] for c in present], present))
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
        column_failures, column_distinct = next(checked)
        failures += column_failures
        distinct += column_distinct
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
        mask = duplicate_row_mask(frame, distinct)
        if mask.any():
            pos = _rows(mask)
            failures.append(
                Failure(
                    TABLE, "no_duplicate_rows", f"{len(pos)} rows repeat an earlier row", pos, None
                )
            )
    return failures
