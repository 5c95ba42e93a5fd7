"""Param values as the comparison views need them: compared, plotted and shown.

A param can hold anything a run may log: numbers, strings (also ones that
look like numbers), booleans, ``None``, NaN, and lists or dicts, nested (a
Pipeline's ``steps``, a ColumnTransformer's ``transformers``, a search's
``param_grid``). pandas cannot hash lists, so the views never call
``nunique`` or ``unique`` on param columns: :func:`key` gives every value a
hashable identity that keeps its type (``True``, ``1`` and ``"1"`` differ),
:func:`number` the value on a numeric axis (or NaN), :func:`text` a short
readable form.

Estimator params logged by autolog (``get_params(deep=True)``) are nested by
``__``: ``pre__num__scaler`` holds the step's class name and
``pre__num__scaler__with_mean`` one of its own params.
:func:`estimator_paths` and :func:`owner` recover that tree, so views can show
``pre › num › scaler: StandardScaler(with_mean=False)`` instead of a column
per nested param.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

MISSING = "—"
SEP = "__"


class _Absent:
    """A param a run did not log (``None`` is a value a run can log)."""

    def __repr__(self) -> str:
        return MISSING


ABSENT: Any = _Absent()


def is_missing(value: Any) -> bool:
    """``None`` or a float NaN (pandas reads an absent or ``None`` param as NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def key(value: Any) -> tuple[str, Any]:
    """A hashable identity of ``value`` that keeps its kind (``True`` is not ``1``)."""
    if value is ABSENT:
        return ("absent", None)
    if is_missing(value):
        return ("missing", None)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return ("bool", bool(value))
    if isinstance(value, int | float) or _numpy_number(value):
        return ("number", float(value))
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, list | tuple | dict):
        return ("json", json.dumps(value, sort_keys=True, default=repr))
    return ("repr", repr(value))


def _numpy_number(value: Any) -> bool:
    module = type(value).__module__ or ""
    return module == "numpy" and type(value).__name__.startswith(("int", "uint", "float"))


def same(values: Sequence[Any]) -> bool:
    """Whether every value equals the first (NaN equals NaN, ``True`` is not ``1``)."""
    if not values:
        return True
    first = key(values[0])
    return all(key(v) == first for v in values[1:])


def distinct(values: Iterable[Any]) -> int:
    """How many different values (missing counts as one value)."""
    return len({key(v) for v in values})


def number(value: Any) -> float:
    """The value on a numeric axis: ints and floats (not bools, not strings), else NaN."""
    kind, identity = key(value)
    if kind == "number" and math.isfinite(identity):
        return float(identity)
    return math.nan


def is_numeric(values: Iterable[Any]) -> bool:
    """Whether every present value is a finite number (at least one is present)."""
    present = [v for v in values if not is_missing(v)]
    return bool(present) and all(not math.isnan(number(v)) for v in present)


def text(value: Any, *, limit: int = 200) -> str:
    """A short readable form: ``0.001``, ``True``, ``'auto'`` in lists, ``—`` when absent."""
    if value is ABSENT:
        return MISSING
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, str):
        out = value
    elif isinstance(value, list | tuple | dict):
        out = _nested(value)
    else:
        out = str(value)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _nested(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_nested(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_nested(v) for v in value) + "]"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, str):
        return repr(value)
    return str(value)


def literal(value: Any) -> str:
    """The value as it would be written in Python: ``'auto'``, ``0.1``, ``None``."""
    if isinstance(value, str):
        return repr(value)
    return text(value, limit=80)


# -- estimator trees -------------------------------------------------------------------


def estimator_paths(params: Iterable[Mapping[str, Any]]) -> list[str]:
    """Keys that name an estimator: a class name with nested ``key__param`` keys.

    Longest paths first, so :func:`owner` finds the innermost estimator.
    """
    found: set[str] = set()
    for row in params:
        keys = set(row)
        for k, v in row.items():
            if isinstance(v, str) and any(o.startswith(k + SEP) for o in keys):
                found.add(k)
    return sorted(found, key=lambda p: (-p.count(SEP), p))


def owner(param: str, paths: Sequence[str]) -> tuple[str | None, str]:
    """``(estimator path, own name)`` of a param; ``(None, param)`` at the top level."""
    for path in paths:
        if param.startswith(path + SEP):
            return path, param[len(path) + len(SEP) :]
    return None, param


def path_label(path: str) -> str:
    """``pre__num__scaler`` -> ``pre › num › scaler``."""
    return " › ".join(path.split(SEP))


def unique_labels(names: Sequence[str | None], run_ids: Sequence[str]) -> list[str]:
    """Run names to show, each told apart: ``Pipeline (1a2b3c4d)`` when names repeat."""
    shown = [n or r[:8] for n, r in zip(names, run_ids, strict=True)]
    counts: dict[str, int] = {}
    for label in shown:
        counts[label] = counts.get(label, 0) + 1
    return [
        f"{label} ({r[:8]})" if counts[label] > 1 and label != r[:8] else label
        for label, r in zip(shown, run_ids, strict=True)
    ]
