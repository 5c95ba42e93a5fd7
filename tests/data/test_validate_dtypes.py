"""Validation across the dtypes pandas has: the fast paths must find exactly what the
plain pandas operations find (NaN vs None, pyarrow strings, categoricals, ints with
NA, -0.0, NaT, wide frames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.data.checks import duplicate_row_mask
from mlops_lab.data.schema import ColumnSchema, Schema


def _cells(report: ml.ValidationReport) -> set[tuple[object, str, str]]:
    cases = report.failure_cases
    columns = [None if pd.isna(c) else c for c in cases["column"]]  # None: the table
    return set(zip(cases["row"], columns, cases["check"], strict=True))


DUPLICATE_FRAMES = {
    "floats, -0.0 equals 0.0, NaN equals NaN": pd.DataFrame(
        {"x": [0.0, -0.0, np.nan, np.nan, 1.5, 1.5], "y": [1, 1, 2, 2, 3, 4]}
    ),
    "repeats in the first column only": pd.DataFrame(
        {"x": [1.0, 1.0, 1.0, 2.0], "y": [1, 2, 1, 1], "s": ["a", "a", "a", "a"]}
    ),
    "equal numbers, different text": pd.DataFrame({"x": [1.0, 1.0, 1.0], "s": ["a", "b", "a"]}),
    "text only": pd.DataFrame({"s": pd.array(["a", "b", "a", None, None], dtype="str")}),
    "categorical with missing": pd.DataFrame(
        {"c": pd.Categorical(["a", None, "a", None, "b"]), "i": [1, 2, 1, 2, 1]}
    ),
    "ints with NA": pd.DataFrame(
        {"i": pd.array([1, None, 1, None, 3], dtype="Int64"), "b": [True, False, True, False, True]}
    ),
    "datetimes with NaT": pd.DataFrame(
        {"t": pd.to_datetime(["2024-01-01", None, "2024-01-01", None]), "k": [1, 2, 1, 3]}
    ),
    "columns 1-4 repeat, the 5th and 6th tell rows apart": pd.DataFrame(
        {**{f"c{i}": [1.0, 1.0, 1.0, 1.0] for i in range(4)}, "e": [1, 2, 1, 2], "g": [0, 0, 0, 1]}
    ),
    "no repeats": pd.DataFrame({"x": np.arange(1000.0), "s": [str(i % 7) for i in range(1000)]}),
}


@pytest.mark.parametrize("name", sorted(DUPLICATE_FRAMES))
def test_duplicate_rows_are_what_pandas_finds(name: str) -> None:
    frame = DUPLICATE_FRAMES[name]
    expected = frame.duplicated(keep="first").to_numpy()
    assert (duplicate_row_mask(frame) == expected).all()
    schema = Schema([ColumnSchema(str(c), "mixed", "object") for c in frame.columns])
    schema.allow_duplicate_rows = False
    failures = [f for f in ml.validate(frame, schema).failures if f.check == "no_duplicate_rows"]
    rows = failures[0].positions.tolist() if failures else []
    assert rows == np.flatnonzero(expected).tolist()


@pytest.mark.parametrize(
    ("values", "repeated"),
    [
        (["u1", "u2", "u3", "u10"], []),
        (["u1", "u2", "u1"], [0, 2]),
        # same length, same first and last 8 bytes: only the middle differs
        (["aaaaaaaaXbbbbbbbb", "aaaaaaaaYbbbbbbbb"], []),
        (["aaaaaaaaXbbbbbbbb", "aaaaaaaaYbbbbbbbb", "aaaaaaaaXbbbbbbbb"], [0, 2]),
        (["ab", "abc", "a", ""], []),  # short strings: bytes past the end do not count
        (["", "x", ""], [0, 2]),
        (["été", "ete", "日本語", "日本語"], [2, 3]),
        (["a", None, "b", None], []),  # missing values never repeat
        (["a", None, "a"], [0, 2]),
    ],
)
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "object"])
def test_unique_text(values: list, repeated: list[int], dtype: str) -> None:
    frame = pd.DataFrame({"id": pd.array(values, dtype=dtype)})
    schema = Schema([ColumnSchema("id", "string", dtype, unique=True)], min_rows=None)
    report = ml.validate(frame, schema)
    assert {r for r, c, check in _cells(report) if check == "unique"} == set(repeated)


def test_unique_text_of_a_sliced_arrow_column() -> None:
    """A slice of an Arrow column starts at an offset into its buffers."""
    full = pd.Series(pd.array([f"row-{i}" for i in range(50)] + ["row-3"], dtype="str"))
    part = full.iloc[10:].reset_index(drop=True)
    schema = Schema([ColumnSchema("id", "string", "str", unique=True)], min_rows=None)
    assert ml.validate(part.to_frame("id"), schema).passed
    again = full.iloc[2:].reset_index(drop=True).to_frame("id")
    assert {r for r, *_ in _cells(ml.validate(again, schema))} == {1, 48}


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "object"])
def test_none_and_nan_are_missing_in_text(dtype: str) -> None:
    frame = pd.DataFrame({"s": pd.array(["a", None, "b", np.nan, "a"], dtype=dtype)})
    schema = Schema(
        [ColumnSchema("s", "string", dtype, nullable=False, categories=["a", "b"])],
        min_rows=None,
    )
    assert _cells(ml.validate(frame, schema)) == {(1, "s", "not_null"), (3, "s", "not_null")}


def test_nan_in_floats_missing_and_out_of_range_at_once() -> None:
    frame = pd.DataFrame({"x": [0.5, np.nan, 7.0, -np.inf, 0.1]})
    schema = Schema(
        [ColumnSchema("x", "float", "float64", nullable=False, min=0.0, max=1.0)], min_rows=None
    )
    assert _cells(ml.validate(frame, schema)) == {
        (1, "x", "not_null"),
        (2, "x", "in_range"),
        (3, "x", "in_range"),
    }
    schema.columns[0].nullable = True
    assert _cells(ml.validate(frame, schema)) == {(2, "x", "in_range"), (3, "x", "in_range")}


@pytest.mark.parametrize(
    ("col", "bad"),
    [
        (ColumnSchema("x", "float", "float64", min=0.0), [3]),  # one-sided: inf fails
        (ColumnSchema("x", "float", "float64", min=0.0, allow_inf=True), []),
        (ColumnSchema("x", "float", "float64", min=0.0, max=10.0, allow_inf=True), [1]),
        (ColumnSchema("x", "float", "float64"), [3]),  # no range: inf still fails
    ],
)
def test_infinities(col: ColumnSchema, bad: list[int]) -> None:
    frame = pd.DataFrame({"x": [1.0, 20.0, np.nan, np.inf]})
    rows = {r for r, *_ in _cells(ml.validate(frame, Schema([col], min_rows=None)))}
    assert rows == set(bad)


def test_ints_with_na() -> None:
    frame = pd.DataFrame({"i": pd.array([1, None, 5000, 3], dtype="Int64")})
    schema = Schema(
        [ColumnSchema("i", "integer", "Int64", nullable=False, min=0, max=100)], min_rows=None
    )
    assert _cells(ml.validate(frame, schema)) == {(1, "i", "not_null"), (2, "i", "in_range")}
    inferred = ml.infer_schema(frame.iloc[[0, 3]])
    assert _cells(ml.validate(frame, inferred)) >= {(1, "i", "not_null"), (2, "i", "in_range")}


def test_categorical_codes() -> None:
    values = pd.Categorical(["a", "b", None, "a"], categories=["a", "b", "z"])
    schema = Schema(
        [ColumnSchema("c", "category", "category", nullable=False, categories=["a", "b"])],
        min_rows=None,
    )
    # "z" is a category of the dtype but no value uses it: nothing fails but the missing one
    assert _cells(ml.validate(pd.DataFrame({"c": values}), schema)) == {(2, "c", "not_null")}
    values[1] = "z"
    assert _cells(ml.validate(pd.DataFrame({"c": values}), schema)) == {
        (1, "c", "in_categories"),
        (2, "c", "not_null"),
    }


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "object"])
def test_string_lengths_count_characters_not_bytes(dtype: str) -> None:
    frame = pd.DataFrame({"s": pd.array(["abc", "été", "日本語です", None, "ab"], dtype=dtype)})
    schema = Schema([ColumnSchema("s", "string", dtype, min_length=3, max_length=4)], min_rows=None)
    assert _cells(ml.validate(frame, schema)) == {(2, "s", "str_length"), (4, "s", "str_length")}


def test_string_lengths_with_missing_values() -> None:
    frame = pd.DataFrame({"s": pd.array(["abc", None, "a" * 30, "ab"], dtype="str")})
    schema = Schema([ColumnSchema("s", "string", "str", min_length=2, max_length=5)], min_rows=None)
    assert _cells(ml.validate(frame, schema)) == {(2, "s", "str_length")}


def test_wide_frame() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({f"w{i}": rng.normal(size=2000) for i in range(200)})
    schema = ml.infer_schema(frame)
    assert not schema.allow_duplicate_rows
    assert ml.validate(frame, schema).passed
    bad = frame.copy()
    bad.iloc[7, 150] = 1e9
    bad.iloc[9, 3] = np.nan
    bad.iloc[1999] = bad.iloc[0]
    assert _cells(ml.validate(bad, schema)) == {
        (7, "w150", "in_range"),
        (9, "w3", "not_null"),
        (1999, None, "no_duplicate_rows"),
    }
