"""The statistics behind :func:`~mlops_lab.drift`: column summaries and the tests.

A column is summarised as plain JSON-ready data: numbers (and datetimes, as
nanoseconds) keep their sorted values when there are at most
:data:`RAW_LIMIT` of them, else 1,001 quantiles, plus PSI bin proportions;
categories (text, categoricals, bools) keep their counts. The tests compare
two summaries; with quantiles a summary stands for its data as an equally
weighted sample, which is within 0.1% of the exact KS and Wasserstein values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError
from .kinds import column_kind

if TYPE_CHECKING:
    import pandas as pd

SMALL = 1_000  # at most this many values: KS / chi-square; more: Wasserstein / Jensen-Shannon
RAW_LIMIT = 5_000
N_QUANTILES = 1_001
MAX_CATEGORIES = 1_000
PSI_BINS = 10
EPS = 1e-4

DEFAULT_THRESHOLDS = MappingProxyType(
    {
        "ks": 0.05,
        "chisquare": 0.05,
        "wasserstein": 0.1,
        "jensenshannon": 0.1,
        "psi": 0.2,
    }
)
TESTS = tuple(DEFAULT_THRESHOLDS)
_P_VALUE_TESTS = ("ks", "chisquare")
_NUMERIC_TESTS = ("ks", "wasserstein", "psi")
_CATEGORY_TESTS = ("chisquare", "jensenshannon", "psi")


def column_summary(series: pd.Series) -> dict[str, Any]:
    """A JSON-ready summary of one column, enough for every drift test."""
    import numpy as np

    kind = column_kind(series)
    if kind in ("integer", "float", "datetime", "timedelta"):
        if kind in ("datetime", "timedelta"):
            present = series.dropna()
            values = present.array.asi8.astype("float64") if len(present) else np.empty(0)
        else:
            values = series.to_numpy(dtype="float64", na_value=np.nan)
        values = np.sort(values[np.isfinite(values)])
        out: dict[str, Any] = {"type": "numeric", "kind": kind, "n": int(values.size)}
        if values.size == 0:
            return out
        out["mean"] = float(values.mean())
        out["std"] = float(values.std())
        if values.size <= RAW_LIMIT:
            out["values"] = values.tolist()
        else:
            out["quantiles"] = np.quantile(values, np.linspace(0, 1, N_QUANTILES)).tolist()
        edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)[1:-1]))
        out["psi_edges"] = edges.tolist()
        out["psi_counts"] = _bin_counts(values, edges).tolist()
        return out
    text = series.dropna()
    if kind not in ("string", "category"):
        text = text.astype(str)
    counts = text.value_counts()
    top = counts.head(MAX_CATEGORIES)
    return {
        "type": "categorical",
        "kind": kind,
        "n": int(counts.sum()),
        "counts": {str(k): int(v) for k, v in top.items()},
        "other": int(counts.sum() - top.sum()),
    }


def _bin_counts(sorted_values: Any, edges: Any) -> Any:
    import numpy as np

    cuts = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate([[0], cuts, [sorted_values.size]]))


def _sample(summary: dict[str, Any]) -> Any:
    import numpy as np

    return np.asarray(summary.get("values", summary.get("quantiles", [])), dtype="float64")


def _psi(ref: Any, cur: Any) -> float:
    import numpy as np

    p = np.maximum(np.asarray(ref, dtype="float64") / max(np.sum(ref), 1), EPS)
    q = np.maximum(np.asarray(cur, dtype="float64") / max(np.sum(cur), 1), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def _numeric(test: str, ref: dict[str, Any], cur: dict[str, Any]) -> tuple[float, float | None]:
    import numpy as np
    from scipy import stats

    a, b = _sample(ref), _sample(cur)
    if test == "ks":
        if "values" in ref and "values" in cur:
            result = stats.ks_2samp(a, b)
            return float(result.statistic), float(result.pvalue)
        d = float(stats.ks_2samp(a, b).statistic)
        n_eff = ref["n"] * cur["n"] / (ref["n"] + cur["n"])
        return d, float(stats.kstwobign.sf(d * math.sqrt(n_eff)))
    if test == "wasserstein":
        distance = float(stats.wasserstein_distance(a, b))
        scale = ref["std"] if ref["std"] > 0 else max(abs(ref["mean"]), 1.0)
        return distance / scale, None
    edges = np.asarray(ref["psi_edges"])
    return _psi(
        ref["psi_counts"], _bin_counts(np.sort(b), edges) * (cur["n"] / max(b.size, 1))
    ), None


def _categorical(test: str, ref: dict[str, Any], cur: dict[str, Any]) -> tuple[float, float | None]:
    import numpy as np
    from scipy import stats
    from scipy.spatial import distance

    keys = sorted(set(ref["counts"]) | set(cur["counts"]))
    r = np.array([ref["counts"].get(k, 0) for k in keys] + [ref["other"]], dtype="float64")
    c = np.array([cur["counts"].get(k, 0) for k in keys] + [cur["other"]], dtype="float64")
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    if test == "chisquare":
        if r.size < 2:
            return 0.0, 1.0
        result = stats.chi2_contingency(np.vstack([r, c]))
        return float(result.statistic), float(result.pvalue)
    if test == "jensenshannon":
        return float(distance.jensenshannon(r / r.sum(), c / c.sum(), base=2)), None
    return _psi(r, c), None


def _choose(kind: str, n_min: int) -> tuple[str, str]:
    small = n_min <= SMALL
    size = f"{n_min:,} {'≤' if small else '>'} {SMALL:,} values"
    if kind == "numeric":
        if small:
            return "ks", f"numeric, {size}: Kolmogorov–Smirnov"
        return "wasserstein", f"numeric, {size}: Wasserstein distance / reference std"
    if small:
        return "chisquare", f"categorical, {size}: chi-square"
    return "jensenshannon", f"categorical, {size}: Jensen–Shannon distance"


@dataclass
class ColumnDrift:
    """The drift test of one column."""

    column: str
    kind: str
    test: str
    statistic: float | None
    p_value: float | None
    threshold: float
    drifted: bool
    reason: str
    new_categories: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def run_test(
    column: str,
    ref: dict[str, Any],
    cur: dict[str, Any],
    *,
    test: str | None = None,
    thresholds: dict[str, float] | None = None,
) -> ColumnDrift:
    """Compare the summaries of one column; a :class:`ColumnDrift`."""
    thresholds = thresholds or {}
    kind = ref["type"]
    if cur["type"] != kind:
        return ColumnDrift(
            column,
            cur["kind"],
            "kind_changed",
            None,
            None,
            0.0,
            True,
            f"was {ref['kind']} in the reference, is {cur['kind']} now",
        )
    new: list[dict[str, Any]] = []
    if kind == "categorical" and cur["n"]:
        new = sorted(
            (
                {"value": k, "count": v, "share": v / cur["n"]}
                for k, v in cur["counts"].items()
                if k not in ref["counts"] and not ref["other"]
            ),
            key=lambda d: -d["count"],
        )
    if not ref["n"] or not cur["n"]:
        side = "reference" if not ref["n"] else "current data"
        return ColumnDrift(
            column,
            cur["kind"],
            "skipped",
            None,
            None,
            0.0,
            False,
            f"no values in the {side}",
            new,
        )
    chosen, reason = _choose(kind, min(ref["n"], cur["n"]))
    if test is not None:
        allowed = _NUMERIC_TESTS if kind == "numeric" else _CATEGORY_TESTS
        if test not in allowed:
            raise InvalidArgumentError(
                f"tests[{column!r}]: {test!r} does not apply to a {kind} column; "
                f"use one of {', '.join(allowed)}"
            )
        chosen, reason = test, f"{kind}: {test} (set by the user)"
    threshold = thresholds.get(column, thresholds.get(chosen, DEFAULT_THRESHOLDS[chosen]))
    statistic, p_value = (_numeric if kind == "numeric" else _categorical)(chosen, ref, cur)
    if chosen in _P_VALUE_TESTS:
        drifted = p_value is not None and p_value < threshold
        reason += f" (drift when p < {threshold:g})"
    else:
        drifted = statistic >= threshold
        reason += f" (drift when ≥ {threshold:g})"
    return ColumnDrift(
        column,
        cur["kind"],
        chosen,
        statistic,
        p_value,
        float(threshold),
        bool(drifted),
        reason,
        new,
    )
