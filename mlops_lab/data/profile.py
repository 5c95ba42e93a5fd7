"""Dataset profiles: per column dtype, missing values, uniques, ranges, categories, histograms.

A :class:`DatasetProfile` is plain data (``to_dict()`` is JSON-ready and is what
the store keeps next to the dataset's digest) with a compact HTML rendering for
the notebook. Numeric columns are sorted once, and min, max, quantiles, unique
count and histogram are read off the sorted values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .io import DataLike, as_frame
from .kinds import column_kind
from .render import esc, fmt, html_table

if TYPE_CHECKING:
    import pandas as pd

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10


def _num(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def _numeric_stats(series: pd.Series) -> dict[str, Any]:
    import numpy as np

    finite = _sorted_ints(series)
    if finite is not None:
        values, n_inf = finite, 0
    else:
        values = series.to_numpy(dtype="float64", na_value=np.nan)
        values = values[~np.isnan(values)]
        n_inf = int(np.isinf(values).sum())
        finite = np.sort(values[np.isfinite(values)]) if n_inf else np.sort(values)
    out: dict[str, Any] = {"n_inf": n_inf, "n_zeros": int((finite == 0).sum())}
    if finite.size == 0:
        return out | {"min": None, "max": None, "mean": None, "std": None, "n_unique": 0}
    n_unique = int(np.count_nonzero(finite[1:] != finite[:-1]) + 1)
    if n_inf:
        n_unique += len(np.unique(values[np.isinf(values)]))
    # Everything below reads the sorted values: no second sort, no partition.
    lo, hi = float(finite[0]), float(finite[-1])
    edges = np.linspace(lo, hi, HISTOGRAM_BINS + 1) if hi > lo else np.array([lo - 0.5, lo + 0.5])
    cuts = np.searchsorted(finite, edges[1:-1], side="left")
    counts = np.diff(np.concatenate([[0], cuts, [finite.size]]))
    return out | {
        "min": lo,
        "max": hi,
        "mean": float(finite.mean()),
        "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
        "quantiles": {str(q): _sorted_quantile(finite, q) for q in QUANTILES},
        "n_unique": n_unique,
        "histogram": {"counts": counts.tolist(), "edges": edges.tolist()},
    }


def _sorted_ints(series: pd.Series) -> Any:
    """A numpy integer column sorted by counting (O(n)) when its range is small, else None."""
    import numpy as np

    values = series.to_numpy()
    if not (isinstance(values, np.ndarray) and values.dtype.kind in "iu") or values.size == 0:
        return None
    lo, hi = int(values.min()), int(values.max())
    if hi - lo > 4 * values.size:
        return None
    counts = np.bincount((values - lo).astype(np.intp, copy=False))
    return np.repeat(np.arange(lo, hi + 1, dtype="float64"), counts)


def _sorted_quantile(sorted_values: Any, q: float) -> float:
    """The linear-interpolation quantile (numpy's default) of already sorted values."""
    pos = q * (sorted_values.size - 1)
    below = math.floor(pos)
    above = min(below + 1, sorted_values.size - 1)
    frac = pos - below
    return float(sorted_values[below] + (sorted_values[above] - sorted_values[below]) * frac)


def _categorical_stats(series: pd.Series, n_present: int) -> dict[str, Any]:
    counts = series.value_counts(dropna=True)
    top = counts.head(TOP_CATEGORIES)
    out: dict[str, Any] = {
        "n_unique": len(counts),
        "top": [
            {"value": str(v), "count": int(c), "share": c / n_present if n_present else 0.0}
            for v, c in top.items()
        ],
    }
    if column_kind(series) == "string":
        lengths = series.dropna().str.len()
        if len(lengths):
            out["length"] = {"min": int(lengths.min()), "max": int(lengths.max())}
    return out


def column_profile(series: pd.Series) -> dict[str, Any]:
    """The profile of one column (a JSON-ready dict)."""
    kind = column_kind(series)
    n = len(series)
    n_missing = int(series.isna().sum())
    out: dict[str, Any] = {
        "dtype": str(series.dtype),
        "kind": kind,
        "n_missing": n_missing,
        "missing_share": n_missing / n if n else 0.0,
    }
    if kind in ("integer", "float"):
        out |= _numeric_stats(series)
    elif kind == "bool":
        present = series.dropna().astype(bool)
        out |= {"n_unique": int(present.nunique()), "true_share": _num(present.mean())}
    elif kind in ("datetime", "timedelta"):
        present = series.dropna()
        out |= {
            "n_unique": int(present.nunique()),
            "min": str(present.min()) if len(present) else None,
            "max": str(present.max()) if len(present) else None,
        }
    else:
        text = (
            series if kind in ("string", "category") else series.astype(str).where(series.notna())
        )
        out |= _categorical_stats(text, n - n_missing)
    return out


@dataclass
class DatasetProfile:
    """A dataset's profile: shape and one summary per column.

    Examples
    --------
    >>> prof = ml.profile(df)                      # doctest: +SKIP
    >>> prof.columns["age"]["mean"]                # doctest: +SKIP
    41.2
    >>> prof                                       # a compact table in the notebook
    """

    n_rows: int
    n_cols: int
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"n_rows": self.n_rows, "n_cols": self.n_cols, "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DatasetProfile:
        return cls(data["n_rows"], data["n_cols"], dict(data.get("columns", {})))

    def _rows(self) -> list[list[str]]:
        rows = []
        for name, col in self.columns.items():
            if col["kind"] in ("integer", "float"):
                summary = (
                    f"min {fmt(col.get('min'))} · mean {fmt(col.get('mean'))} · "
                    f"max {fmt(col.get('max'))} · std {fmt(col.get('std'))}"
                )
                if col.get("n_inf"):
                    summary += f" · {col['n_inf']} inf"
            elif "top" in col:
                summary = ", ".join(f"{t['value']} ({t['share']:.0%})" for t in col["top"][:4]) + (
                    " …" if col["n_unique"] > 4 else ""
                )
            elif "true_share" in col:
                summary = f"true {fmt(col['true_share'])}"
            else:
                summary = f"{col.get('min')} … {col.get('max')}"
            rows.append(
                [
                    name,
                    col["dtype"],
                    f"{col['n_missing']} ({col['missing_share']:.1%})",
                    str(col.get("n_unique", "")),
                    summary,
                ]
            )
        return rows

    def __str__(self) -> str:
        from .render import text_table

        head = f"DatasetProfile: {self.n_rows} rows x {self.n_cols} columns"
        return (
            head
            + "\n"
            + text_table(["column", "dtype", "missing", "unique", "summary"], self._rows())
        )

    def __repr__(self) -> str:
        return f"<DatasetProfile {self.n_rows} rows x {self.n_cols} columns>"

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))

    def _repr_html_(self) -> str:
        return (
            (
                f"<div><b>Dataset profile</b>: {self.n_rows:,} rows × {self.n_cols} columns"
                + html_table(["column", "dtype", "missing", "unique", "summary"], self._rows())
                + "</div>"
            )
            if self.columns
            else f"<div><b>Dataset profile</b>: {esc(repr(self))}</div>"
        )


def profile(data: DataLike) -> DatasetProfile:
    """Profile a dataset: per column dtype, missing, uniques, ranges or top categories.

    Parameters
    ----------
    data
        A pandas DataFrame, or a path to a CSV or Parquet file.
    """
    frame, _ = as_frame(data)
    series = [frame.iloc[:, i] for i in range(frame.shape[1])]
    if len(frame) >= 100_000 and len(series) > 1:
        # Sorting and counting release the GIL: columns profile in parallel.
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=4) as pool:
            profiles = list(pool.map(column_profile, series))
    else:
        profiles = [column_profile(s) for s in series]
    columns = {str(name): p for name, p in zip(frame.columns, profiles, strict=True)}
    return DatasetProfile(len(frame), frame.shape[1], columns)
