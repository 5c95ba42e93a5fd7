"""The input schema of a bundled model, and the checks of served inputs against it.

An :class:`InputSchema` is built from the signature a run recorded with its
model (column names and dtypes, or an array shape), enriched with the
categories of text columns and whether a column may hold missing values. The
server checks every request with :meth:`InputSchema.check_columns` before the
model sees it: a missing or extra column, a value of the wrong type, an
unseen category or a missing value where training had none raises
:class:`~mlops_lab.errors.InputValidationError` naming the column, the row
and the problem, which the server answers with a 4xx.
"""

from __future__ import annotations

import math
import reprlib
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import InputValidationError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

NUMERIC = frozenset({"float", "integer"})
TEXT = frozenset({"string", "category"})
_NUMBER_TYPES = (int, float)
_FLOAT_MAX = sys.float_info.max


# Values quoted in error messages are shortened: a request may hold a megabyte string or a
# list nested hundreds deep, and an error message must stay one readable line.
def _brief_repr() -> reprlib.Repr:
    """A ``Repr`` that cuts strings, numbers and containers short (made per message:
    it is only used to word an error)."""
    short = reprlib.Repr()
    short.maxstring = 60
    short.maxother = 60
    short.maxlong = 40
    short.maxlevel = 2
    short.maxlist = short.maxdict = 4
    return short


def show(value: Any) -> str:
    """A short ``repr`` of a request value, safe for deep nesting and huge numbers."""
    return _brief_repr().repr(value)


def int_bounds(dtype: str) -> tuple[int, int]:
    """The smallest and largest value of an integer dtype (int64 for unknown names)."""
    import numpy as np

    try:
        info = np.iinfo(np.dtype(dtype.lower()))
    except TypeError:
        info = np.iinfo(np.int64)
    return int(info.min), int(info.max)


def _storage_dtype(col: Column) -> str:
    name = col.dtype.lower()
    return name if name.startswith(("int", "uint")) and name[-1].isdigit() else "int64"


def dtype_kind(dtype: str) -> str:
    """The kind of a pandas/NumPy dtype name: float, integer, bool, string or category."""
    name = dtype.lower()
    if name.startswith(("float", "double")):
        return "float"
    if name.startswith(("int", "uint")):
        return "integer"
    if name in ("bool", "boolean"):
        return "bool"
    if name == "category":
        return "category"
    return "string"


@dataclass
class Column:
    """One input column: its name, dtype, kind, known categories and whether it may be null."""

    name: str
    dtype: str
    kind: str
    categories: list[str] | None = None
    nullable: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "kind": self.kind}
        if self.categories is not None:
            out["categories"] = self.categories
        out["nullable"] = self.nullable
        return out


@dataclass
class InputSchema:
    """What a model takes: named columns (a DataFrame) or a numeric array of ``n_features``.

    Examples
    --------
    >>> schema = InputSchema.from_signature(
    ...     {"type": "dataframe", "columns": [{"name": "age", "dtype": "int64"}]}
    ... )
    >>> schema.names
    ['age']
    """

    type: str = "dataframe"
    columns: list[Column] = field(default_factory=list)
    n_features: int | None = None
    categories_source: str | None = None

    @classmethod
    def from_signature(cls, signature: dict[str, Any] | None) -> InputSchema:
        if not signature or signature.get("type") not in ("dataframe", "array"):
            raise InputValidationError(
                "the model was logged without an input signature; log it with "
                "ml.log_model(model, input_example=X.head())",
                status=400,
            )
        if signature["type"] == "array":
            shape = signature.get("shape") or [None, None]
            n = shape[1] if len(shape) > 1 else None
            names = [str(i) for i in range(n or 0)]
            cols = [Column(name, "float64", "float") for name in names]
            return cls("array", cols, n)
        cols = [
            Column(str(c["name"]), str(c["dtype"]), dtype_kind(str(c["dtype"])))
            for c in signature["columns"]
        ]
        return cls("dataframe", cols, len(cols))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSchema:
        cols = [
            Column(
                c["name"],
                c["dtype"],
                c["kind"],
                c.get("categories"),
                bool(c.get("nullable", False)),
            )
            for c in data.get("columns", [])
        ]
        return cls(data["type"], cols, data.get("n_features"), data.get("categories_source"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "n_features": self.n_features,
            "categories_source": self.categories_source,
            "columns": [c.to_dict() for c in self.columns],
        }

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def numeric(self) -> bool:
        """True when every column is a number (or bool): the input is one float matrix."""
        return all(c.kind in NUMERIC or c.kind == "bool" for c in self.columns)

    # -- checking requests ------------------------------------------------------------

    def columns_from_rows(self, rows: list[Any]) -> dict[str, list[Any]]:
        """Positional rows (lists of values in column order) as ``{column: values}``."""
        width = len(self.columns)
        for i, row in enumerate(rows):
            if not isinstance(row, list | tuple):
                raise InputValidationError(
                    f"row {i} is {type(row).__name__}, expected a list of {width} values", row=i
                )
            if len(row) != width:
                raise InputValidationError(
                    f"row {i} has {len(row)} values, the model takes {width}"
                    + (f" ({', '.join(self.names)})" if self.type == "dataframe" else ""),
                    row=i,
                )
        if not rows:
            return {name: [] for name in self.names}
        return {
            name: list(values)
            for name, values in zip(self.names, zip(*rows, strict=True), strict=True)
        }

    def check_columns(
        self, data: dict[str, list[Any]], *, unseen_categories: str = "reject"
    ) -> tuple[dict[str, np.ndarray], int]:
        """Check ``{column: values}`` against the schema; return NumPy columns and the row count.

        Raises
        ------
        InputValidationError
            naming the first column (and row) that does not fit.
        """
        import numpy as np

        expected = self.names
        missing = [n for n in expected if n not in data]
        if missing:
            raise InputValidationError(
                f"missing column; the model takes {len(expected)} columns: {_short(expected)}",
                column=missing[0],
            )
        if len(data) != len(expected):
            extra = [n for n in data if n not in set(expected)]
            raise InputValidationError(
                f"unexpected column; the model takes only: {_short(expected)}", column=extra[0]
            )
        n_rows = -1
        out: dict[str, np.ndarray] = {}
        for col in self.columns:
            values = data[col.name]
            if not isinstance(values, list):
                values = list(values) if isinstance(values, tuple) else [values]
            if n_rows < 0:
                n_rows = len(values)
            elif len(values) != n_rows:
                raise InputValidationError(
                    f"has {len(values)} values, the columns before it have {n_rows}",
                    column=col.name,
                )
            out[col.name] = _check_values(col, values, np, unseen_categories)
        if n_rows <= 0:
            raise InputValidationError("the request holds no rows", status=422)
        return out, n_rows

    def rows_from_records(self, records: list[Any]) -> list[list[Any]]:
        """Records (``{column: value}`` per row) as positional rows in schema order."""
        names = self.names
        width = len(names)
        rows = []
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise InputValidationError(
                    f"row {i} is {type(rec).__name__}, expected an object of column values", row=i
                )
            try:
                rows.append([rec[n] for n in names])
            except KeyError as exc:
                raise InputValidationError(
                    f"missing in row {i}; the model takes {width} columns: {_short(names)}",
                    column=str(exc.args[0]),
                    row=i,
                ) from None
            if len(rec) != width:
                extra = next(k for k in rec if k not in set(names))
                raise InputValidationError(
                    f"unexpected column in row {i}; the model takes only: {_short(names)}",
                    column=str(extra),
                    row=i,
                )
        return rows

    def check_rows(self, rows: list[Any], *, unseen_categories: str = "reject") -> tuple[Any, int]:
        """Check positional rows; a numeric schema gets one float matrix (the fast path)."""
        import numpy as np

        if not isinstance(rows, list):
            raise InputValidationError(f"expected a list of rows, got {type(rows).__name__}")
        if not self.numeric or any(c.kind == "bool" for c in self.columns):
            return self.check_columns(
                self.columns_from_rows(rows), unseen_categories=unseen_categories
            )
        width = len(self.columns)
        types: set[type] = set()
        for row in rows:
            if type(row) is not list or len(row) != width:
                self.columns_from_rows(rows)  # raises the precise error
            types.update(map(type, row))
        if not rows:
            raise InputValidationError("the request holds no rows")
        if not types <= {int, float, type(None)}:
            self.check_columns(self.columns_from_rows(rows))  # raises naming the column
        self._check_int_ranges(rows)
        try:
            matrix = np.asarray(rows, dtype="float64")
        except OverflowError:  # an integer beyond the float range: find it, name the column
            self.check_columns(self.columns_from_rows(rows))
            raise
        if np.isinf(matrix).any():
            i, j = (int(k[0]) for k in np.nonzero(np.isinf(matrix)))
            raise InputValidationError(
                f"infinite value at row {i}", column=self.columns[j].name, row=i
            )
        nan = np.isnan(matrix)
        if nan.any():
            for j, col in enumerate(self.columns):
                if not col.nullable and nan[:, j].any():
                    i = int(np.flatnonzero(nan[:, j])[0])
                    raise InputValidationError(
                        f"missing value (null or NaN) at row {i}; this column had none in training",
                        column=col.name,
                        row=i,
                    )
        if float in types:
            for j, col in enumerate(self.columns):
                values = matrix[:, j]
                if col.kind == "integer" and (values[~nan[:, j]] % 1 != 0).any():
                    i = int(np.flatnonzero((values % 1 != 0) & ~nan[:, j])[0])
                    raise InputValidationError(
                        f"expected an integer, got {values[i]!r} at row {i}",
                        column=col.name,
                        row=i,
                    )
        return matrix, len(rows)

    def _check_int_ranges(self, rows: list[list[Any]]) -> None:
        """Integer columns must hold values their dtype can store (compared exactly)."""
        for j, col in enumerate(self.columns):
            if col.kind != "integer":
                continue
            lo, hi = int_bounds(_storage_dtype(col))
            for i, row in enumerate(rows):
                v = row[j]
                if v is not None and (type(v) is int or math.isfinite(v)) and not lo <= v <= hi:
                    raise InputValidationError(
                        f"{show(v)} at row {i} is out of range for {col.dtype} [{lo}, {hi}]",
                        column=col.name,
                        row=i,
                    )

    def to_frame(self, arrays: dict[str, np.ndarray]) -> pd.DataFrame:
        """Checked columns as the DataFrame the model was trained on (dtypes restored)."""
        import pandas as pd

        data: dict[str, Any] = {}
        for col in self.columns:
            values = arrays[col.name]
            if col.kind == "category":
                values = pd.Categorical(values, categories=col.categories)
            data[col.name] = values
        return pd.DataFrame(data, columns=self.names, copy=False)

    def to_matrix(self, arrays: dict[str, np.ndarray], dtype: Any) -> np.ndarray:
        import numpy as np

        return np.column_stack([arrays[n] for n in self.names]).astype(dtype, copy=False)


def _short(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def _first(values: list[Any], bad: Any) -> tuple[int, Any]:
    for i, v in enumerate(values):
        if bad(v):
            return i, v
    return -1, None


def _check_values(col: Column, values: list[Any], np: Any, unseen: str) -> Any:
    types = {type(v) for v in values}
    if col.kind in NUMERIC:
        if not types.issubset({int, float, type(None)}):
            i, v = _first(
                values,
                lambda x: x is not None and (not isinstance(x, _NUMBER_TYPES) or type(x) is bool),
            )
            raise InputValidationError(
                f"expected a number, got {show(v)} ({type(v).__name__}) at row {i}",
                column=col.name,
                row=i,
            )
        if col.kind == "integer":
            return _check_integers(col, values, types, np)
        if int in types:
            i, v = _first(values, lambda x: type(x) is int and abs(x) > _FLOAT_MAX)
            if i >= 0:
                raise InputValidationError(
                    f"{show(v)} at row {i} is out of range for {col.dtype}",
                    column=col.name,
                    row=i,
                )
        arr = np.asarray(values, dtype="float64")
        _check_finite(col, arr, np)
        return arr
    if col.kind == "bool":
        if not types.issubset({bool}):
            allowed = {bool, type(None)} if col.nullable else {bool}
            i, v = _first(values, lambda x: type(x) not in allowed)
            if i < 0:
                return np.asarray(values, dtype=object)
            raise InputValidationError(
                f"expected true or false, got {show(v)} at row {i}", column=col.name, row=i
            )
        return np.asarray(values, dtype=bool)
    # string / category
    if not types.issubset({str}):
        i, v = _first(values, lambda x: not isinstance(x, str) and not (col.nullable and _null(x)))
        if i >= 0 and _null(v):
            raise InputValidationError(
                f"missing value (null) at row {i}; this column had none in training",
                column=col.name,
                row=i,
            )
        if i >= 0:
            raise InputValidationError(
                f"expected a string, got {show(v)} ({type(v).__name__}) at row {i}",
                column=col.name,
                row=i,
            )
    if col.categories is not None and unseen == "reject":
        known = set(col.categories)
        i, v = _first(values, lambda x: isinstance(x, str) and x not in known)
        if i >= 0:
            raise InputValidationError(
                f"unseen category {show(v)} at row {i}; known categories: {_short(col.categories)}",
                column=col.name,
                row=i,
            )
    return np.asarray(values, dtype=object)


def _null(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _check_finite(col: Column, arr: Any, np: Any) -> None:
    if np.isinf(arr).any():
        i = int(np.flatnonzero(np.isinf(arr))[0])
        raise InputValidationError(f"infinite value at row {i}", column=col.name, row=i)
    if not col.nullable and np.isnan(arr).any():
        i = int(np.flatnonzero(np.isnan(arr))[0])
        raise InputValidationError(
            f"missing value (null or NaN) at row {i}; this column had none in training",
            column=col.name,
            row=i,
        )


def _check_integers(col: Column, values: list[Any], types: set[type], np: Any) -> Any:
    """An integer column: whole numbers within its dtype's range, never wrapped or rounded."""
    dtype = _storage_dtype(col)
    lo, hi = int_bounds(dtype)
    i, v = _first(
        values,
        lambda x: x is not None and (type(x) is int or math.isfinite(x)) and not lo <= x <= hi,
    )
    if i >= 0:
        raise InputValidationError(
            f"{show(v)} at row {i} is out of range for {col.dtype} [{lo}, {hi}]",
            column=col.name,
            row=i,
        )
    if types == {int}:
        return np.asarray(values, dtype=dtype)  # exact: no float on the way
    arr = np.asarray(values, dtype="float64")
    _check_finite(col, arr, np)
    finite = arr[~np.isnan(arr)]
    if (finite != np.floor(finite)).any():
        i, v = _first(values, lambda x: isinstance(x, float) and x == x and x != int(x))
        raise InputValidationError(
            f"expected an integer, got {v!r} at row {i}", column=col.name, row=i
        )
    if np.isnan(arr).any():
        return arr
    return arr.astype(dtype)
