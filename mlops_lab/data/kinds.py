"""What kind of values a column holds, the one classification every data module shares.

Kinds: ``integer``, ``float``, ``bool``, ``datetime``, ``timedelta``, ``category``
(pandas categorical), ``string`` (str or object columns of text) and ``mixed``
(an object column whose values are of several Python types).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

NUMERIC = ("integer", "float")
TEXTUAL = ("string", "category")

# Kinds that can stand in for each other without a dtype failure.
_COMPATIBLE = frozenset({frozenset(TEXTUAL)})


def column_kind(series: pd.Series) -> str:
    """The kind of ``series`` (see the module docstring)."""
    import pandas as pd
    from pandas.api import types as t

    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if t.is_bool_dtype(dtype):
        return "bool"
    if t.is_integer_dtype(dtype):
        return "integer"
    if t.is_float_dtype(dtype):
        return "float"
    if t.is_datetime64_any_dtype(dtype):
        return "datetime"
    if t.is_timedelta64_dtype(dtype):
        return "timedelta"
    if t.is_string_dtype(dtype) and not t.is_object_dtype(dtype):
        return "string"
    inferred = t.infer_dtype(series, skipna=True)
    return {
        "string": "string",
        "empty": "string",
        "boolean": "bool",
        "integer": "integer",
        "floating": "float",
        "mixed-integer-float": "float",
        "datetime": "datetime",
        "datetime64": "datetime",
        "date": "datetime",
        "timedelta": "timedelta",
        "timedelta64": "timedelta",
    }.get(inferred, "mixed")


def compatible(expected: str, actual: str) -> bool:
    """Whether a column of kind ``actual`` may stand where the schema says ``expected``."""
    return expected == actual or frozenset((expected, actual)) in _COMPATIBLE
