"""Text checks read from Arrow buffers must fail exactly what the plain pandas path fails.

Every case is validated as an ``object`` column (pandas' own ``isin``, ``str.len``,
``duplicated``: the reference) and as Arrow text in one chunk, in several chunks,
sliced, and with 32-bit offsets; the failures (check, message, rows, values) must be
the same, and the rows those the test names.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import mlops_lab as ml
from mlops_lab.data import arrow_text
from mlops_lab.data.checks import duplicate_row_mask, run_checks
from mlops_lab.data.schema import ColumnSchema, Schema


def _chunked(values: list[Any], dtype: str, parts: int) -> pd.Series:
    """``values`` as Arrow text in ``parts`` chunks (``str`` or ``large_string`` types)."""
    bounds = np.linspace(0, len(values), parts + 1).astype(int)
    pieces = [values[a:b] for a, b in itertools.pairwise(bounds)]
    if dtype == "arrow-string":  # 32-bit offsets
        arrays = [pa.array(p, type=pa.string(), from_pandas=True) for p in pieces]
        arr = pa.chunked_array(arrays, type=pa.string())
        return pd.Series(pd.arrays.ArrowExtensionArray(arr))
    chunks = [pd.Series(pd.array(p, dtype=dtype)) for p in pieces]
    return pd.concat(chunks, ignore_index=True)


def _variants(values: list[Any]) -> dict[str, pd.Series]:
    """The same values as every kind of text column this module reads."""
    padded = ["pad-1", "pad-2", *values]  # sliced below: the Arrow buffers start at an offset
    out = {
        "object": pd.Series(values, dtype=object),
        "str": pd.Series(pd.array(values, dtype="str")),
        "string[pyarrow]": pd.Series(pd.array(values, dtype="string[pyarrow]")),
        "str, 3 chunks": _chunked(values, "str", 3),
        "string[pyarrow], 2 chunks": _chunked(values, "string[pyarrow]", 2),
        "arrow string (32-bit offsets), 2 chunks": _chunked(values, "arrow-string", 2),
        "str, sliced": pd.Series(pd.array(padded, dtype="str")).iloc[2:].reset_index(drop=True),
    }
    for name, series in out.items():
        if name != "object":
            assert arrow_text.string_chunks(series) is not None, name
    assert out["str, 3 chunks"].array.__arrow_array__().num_chunks == 3
    return out


def _facts(frame: pd.DataFrame, schema: Schema) -> list[tuple[Any, ...]]:
    return [
        (
            f.column,
            f.check,
            f.message,
            None if f.positions is None else f.positions.tolist(),
            None if f.values is None else [None if pd.isna(v) else v for v in f.values],
            f.details,
        )
        for f in run_checks(frame, schema)
    ]


def _same_everywhere(values: list[Any], col: ColumnSchema) -> list[tuple[Any, ...]]:
    """The failures of ``values`` under ``col``, asserted equal for every variant."""
    schema = Schema([col], min_rows=None)
    found = {
        name: _facts(series.to_frame(col.name), schema)
        for name, series in _variants(values).items()
    }
    reference = found.pop("object")
    for name, facts in found.items():
        assert facts == reference, name
    return reference


def _rows(facts: list[tuple[Any, ...]], check: str) -> list[int]:
    return [r for f in facts if f[1] == check for r in f[3]]


# -- allowed values --------------------------------------------------------------------------


CATEGORY_CASES = {
    "all allowed": (["a", "b", "a", "b"] * 5, []),
    "missing values are never unseen": (["a", None, "b", np.nan, "a"], []),
    "unseen values": (["a", "zz", "b", "zz", "é", "a"], [1, 3, 4]),
    "bad value only in the last chunk": (["a"] * 40 + ["b"] * 19 + ["q"], [59]),
    "bad value only in the first chunk": (["q"] + ["a"] * 59, [0]),
    "unseen and missing together": (["a", None, "x", None, "x"], [2, 4]),
    "empty string is a value": (["a", "", "b"], [1]),
    "prefix of an allowed value": (["ab", "a", "b", "abc"], [0, 3]),
}


@pytest.mark.parametrize("name", sorted(CATEGORY_CASES))
def test_allowed_values_are_what_pandas_isin_finds(name: str) -> None:
    values, bad = CATEGORY_CASES[name]
    col = ColumnSchema("s", "string", "str", categories=["a", "b"])
    facts = _same_everywhere(values, col)
    assert _rows(facts, "in_categories") == bad
    if bad:
        assert facts[0][5]["n_new_categories"] == len({values[i] for i in bad})


def test_allowed_values_that_are_not_text_never_match_text() -> None:
    values = ["a", "1", "b", None]
    col = ColumnSchema("s", "string", "str", categories=["a", "b", 1, None])
    assert _rows(_same_everywhere(values, col), "in_categories") == [1]


def test_categorical_column_with_nan_against_text_values() -> None:
    series = pd.Series(pd.Categorical(["a", None, "b", "z", np.nan]))
    schema = Schema([ColumnSchema("s", "string", "str", categories=["a", "b"])], min_rows=None)
    facts = _facts(series.to_frame("s"), schema)
    assert _rows(facts, "in_categories") == [3]
    as_text = pd.Series(pd.array(["a", None, "b", "z", None], dtype="str")).to_frame("s")
    assert _facts(as_text, schema) == facts


# -- missing values --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        (["a", "b", "c"], []),
        (["a", None, "c", np.nan], [1, 3]),
        (["a"] * 30 + [None], [30]),  # only in the last chunk
        ([None] * 4, [0, 1, 2, 3]),
    ],
)
def test_not_null_in_text(values: list[Any], missing: list[int]) -> None:
    col = ColumnSchema("s", "string", "str", nullable=False)
    assert _rows(_same_everywhere(values, col), "not_null") == missing
    col = ColumnSchema("s", "string", "str", max_missing=0.1)
    share_failed = len(missing) / len(values) > 0.1
    assert _rows(_same_everywhere(values, col), "max_missing") == (missing if share_failed else [])


# -- string lengths --------------------------------------------------------------------------


LENGTH_CASES = {
    "ascii in range": (["abc", "abcd", "abc"], []),
    "ascii too short and too long": (["abc", "a", "abcdef", "abcd"], [1, 2]),
    "characters, not bytes": (["été", "日本語", "日本語です", "ab", "éé"], [2, 3, 4]),
    "emoji and combining marks": (["😀😀😀", "e\u0301e\u0301", "abcde"], [2]),
    "missing values have no length": (["abc", None, "abcdefgh", np.nan], [2]),
    "non-ascii only in the last chunk": (["abc"] * 20 + ["ab", "日本語です"], [20, 21]),
    "too long only in the last chunk": (["abc"] * 29 + ["a" * 50], [29]),
    "empty strings": (["", "abc", ""], [0, 2]),
    "every value missing": ([None, None, None], []),
}


@pytest.mark.parametrize("name", sorted(LENGTH_CASES))
def test_string_lengths_are_what_str_len_finds(name: str) -> None:
    values, bad = LENGTH_CASES[name]
    col = ColumnSchema("s", "string", "str", min_length=3, max_length=4)
    facts = _same_everywhere(values, col)
    assert _rows(facts, "str_length") == bad
    lengths = pd.Series(values, dtype=object).str.len()
    assert bad == [i for i, n in enumerate(lengths) if pd.notna(n) and not 3 <= n <= 4]


@pytest.mark.parametrize(("lo", "hi"), [(3, None), (None, 4), (0, 0)])
def test_one_sided_string_lengths(lo: int | None, hi: int | None) -> None:
    values = ["", "ab", "abcde", "日本語", None]
    col = ColumnSchema("s", "string", "str", min_length=lo, max_length=hi)
    facts = _same_everywhere(values, col)
    low, high = -1 if lo is None else lo, np.inf if hi is None else hi
    expected = [i for i, v in enumerate(values) if v is not None and not low <= len(v) <= high]
    assert _rows(facts, "str_length") == expected


def test_char_lengths_of_mixed_chunks() -> None:
    series = _chunked(["ab", None, "日本", "", "x"], "str", 2)
    lengths = arrow_text.char_lengths(arrow_text.string_chunks(series) or [])
    assert [lengths[i] for i in (0, 2, 3, 4)] == [2, 2, 0, 1]


def test_mixed_object_column_lengths_and_categories() -> None:
    frame = pd.DataFrame({"s": pd.Series(["abc", 12, None, "abcdefg", 3.5], dtype=object)})
    schema = Schema(
        [ColumnSchema("s", "string", "object", min_length=2, max_length=4, categories=["abc"])],
        min_rows=None,
    )
    facts = _facts(frame, schema)
    checks = {f[1]: f[3] for f in facts}
    assert checks["dtype"] == [1, 4]
    assert checks["str_length"] == [3]


# -- uniqueness ------------------------------------------------------------------------------


UNIQUE_CASES = {
    "distinct": ([f"user-{i}" for i in range(100)], []),
    "a repeat across chunks": ([f"user-{i}" for i in range(60)] + ["user-3"], [3, 60]),
    "missing values never repeat": (["a", None, "b", None, np.nan], []),
    "same ends, different middle": (["aaaaaaaaXbbbbbbbb", "aaaaaaaaYbbbbbbbb"], []),
    "same ends, repeated": (["aaaaaaaaXbbbbbbbb", "q", "aaaaaaaaXbbbbbbbb"], [0, 2]),
    "short strings and prefixes": (["ab", "abc", "a", "", "ab"], [0, 4]),
    "unicode": (["été", "ete", "日本語", "日本語"], [2, 3]),
    "empty strings repeat": (["", "x", ""], [0, 2]),
}


@pytest.mark.parametrize("name", sorted(UNIQUE_CASES))
def test_unique_is_what_duplicated_finds(name: str) -> None:
    values, bad = UNIQUE_CASES[name]
    col = ColumnSchema("s", "string", "str", unique=True)
    assert _rows(_same_everywhere(values, col), "unique") == bad


def _random_ids(n: int, width: int) -> list[str]:
    rng = np.random.default_rng(width)
    raw = rng.integers(0, 256, (n, width // 2), dtype=np.uint8)
    return list(dict.fromkeys(bytes(row).hex() for row in raw))  # distinct, in order


@pytest.mark.parametrize("width", [12, 16], ids=["in the string view", "longer than 12 bytes"])
def test_unique_with_colliding_keys(width: int) -> None:
    """300,000 distinct ids give 32-bit keys that collide: those rows are compared exactly
    and pass; real repeats among them fail."""
    ids = _random_ids(300_000, width)
    series = pd.Series(pd.array(ids, dtype="str"))
    chunks = arrow_text.string_chunks(series)
    assert chunks is not None
    short = arrow_text._short(chunks)
    assert short == (width <= 12)
    keys = np.concatenate([arrow_text._chunk_keys(c, short) for c in chunks])
    assert len(np.unique(keys)) < len(ids)  # the exact comparison is exercised
    assert not arrow_text.repeated(series, chunks).any()
    ids[-1] = ids[5]
    again = _chunked(ids, "str", 3)
    found = arrow_text.repeated(again, arrow_text.string_chunks(again) or [])
    assert np.flatnonzero(found).tolist() == [5, len(ids) - 1]


def test_keys_of_short_and_long_strings_in_one_column() -> None:
    """One string over 12 bytes, in the second chunk: every chunk is keyed from its bytes,
    so equal strings in the chunk of short ones and in the other still meet."""
    values = ["short", "ab", "q", "ab", "y", "short", "x" * 13, "ab", None, "short"]
    series = _chunked(values, "str", 2)
    chunks = arrow_text.string_chunks(series) or []
    assert [len(c) for c in chunks] == [5, 5]
    found = arrow_text.repeated(series, chunks)
    assert np.flatnonzero(found).tolist() == [0, 1, 3, 5, 7, 9]


@pytest.mark.parametrize("start", [0, 1, 7, 8, 9, 15])
def test_missing_mask_of_sliced_chunks(start: int) -> None:
    values = [None if i % 3 == 0 or i == 12 else f"v{i}" for i in range(40)]
    arr = pa.array(values, type=pa.large_string()).slice(start, 20)
    series = pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([arr])))
    mask = arrow_text.missing_mask(arrow_text.string_chunks(series) or [])
    assert mask.tolist() == [v is None for v in values[start : start + 20]]


# -- empty columns and frames ----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "object"])
def test_empty_frame(dtype: str) -> None:
    frame = pd.DataFrame({"s": pd.array([], dtype=dtype)})
    schema = Schema(
        [
            ColumnSchema(
                "s", "string", dtype, nullable=False, categories=["a"], unique=True, max_length=2
            )
        ],
        min_rows=None,
        allow_duplicate_rows=False,
    )
    assert ml.validate(frame, schema).passed


def test_empty_chunks_among_full_ones() -> None:
    arr = pa.chunked_array(
        [pa.array([], pa.large_string()), pa.array(["a", "zz", None], pa.large_string())]
    )
    series = pd.Series(pd.arrays.ArrowExtensionArray(arr))
    col = ColumnSchema("s", "string", "str", nullable=False, categories=["a"], max_length=1)
    facts = _facts(series.to_frame("s"), Schema([col], min_rows=None))
    assert {f[1]: f[3] for f in facts} == {"not_null": [2], "in_categories": [1], "str_length": [1]}


# -- duplicate rows, helped by a unique column -----------------------------------------------


@pytest.mark.parametrize("dtype", ["str", "object"])
def test_duplicate_rows_with_a_unique_column(dtype: str) -> None:
    """Rows whose id is missing may still repeat each other; the others cannot."""
    frame = pd.DataFrame(
        {
            "id": pd.array(["u1", None, "u3", None, None, "u6"], dtype=dtype),
            "x": [1.0, 2.0, 1.0, 2.0, 3.0, 1.0],
            "k": ["a", "b", "a", "b", "b", "a"],
        }
    )
    schema = ml.infer_schema(frame)
    schema["id"].unique = True
    schema.allow_duplicate_rows = False
    failures = {f.check: f for f in ml.validate(frame, schema).failures}
    assert "unique" not in failures
    expected = np.flatnonzero(frame.duplicated(keep="first").to_numpy()).tolist()
    assert expected == [3]
    assert failures["no_duplicate_rows"].positions.tolist() == expected


def test_duplicate_rows_when_the_unique_column_fails() -> None:
    frame = pd.DataFrame({"id": pd.array(["u1", "u1", "u3"], dtype="str"), "x": [1, 1, 2]})
    schema = Schema(
        [ColumnSchema("id", "string", "str", unique=True), ColumnSchema("x", "integer", "int64")],
        allow_duplicate_rows=False,
    )
    checks = {f.check: f.positions.tolist() for f in ml.validate(frame, schema).failures}
    assert checks == {"unique": [0, 1], "no_duplicate_rows": [1]}


def test_duplicate_row_mask_given_distinct_columns() -> None:
    frame = pd.DataFrame({"a": [1.0, np.nan, np.nan, 2.0, np.nan], "b": [1, 5, 5, 1, 6]})
    expected = frame.duplicated(keep="first").to_numpy()
    assert (duplicate_row_mask(frame, [np.isnan(frame["a"].to_numpy())]) == expected).all()
    assert not duplicate_row_mask(frame, [None]).any()


# -- the benchmark's text frame, small -------------------------------------------------------


def test_text_frame_clean_and_corrupted() -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    cats = ["alpha", "beta", "gamma", "delta"]
    frame = pd.DataFrame(
        {
            "s": pd.array(np.array(cats)[rng.integers(0, 4, n)], dtype="str"),
            "k": pd.Categorical.from_codes(rng.integers(0, 4, n), cats),
            "note": pd.array([f"w{i % 97} é{i % 13}" for i in range(n)], dtype="str"),
            "user": pd.array([f"user-{i}" for i in rng.permutation(n)], dtype="str"),
        }
    )
    schema = ml.infer_schema(frame)
    assert schema["user"].unique and schema["s"].categories == sorted(cats)
    assert not schema.allow_duplicate_rows
    assert ml.validate(frame, schema).passed
    bad = frame.copy()
    bad.loc[[5, 9], "s"] = ["omega", None]
    bad.loc[11, "note"] = "much too long a note for this column"
    bad.loc[[13, 14], "user"] = None
    bad.loc[17, "user"] = bad.loc[2, "user"]
    bad.loc[15] = bad.loc[16]  # a duplicate row, with a repeated id
    checks = {(f.column, f.check): f.positions.tolist() for f in ml.validate(bad, schema).failures}
    assert checks == {
        ("s", "not_null"): [9],
        ("s", "in_categories"): [5],
        ("note", "str_length"): [11],
        ("user", "not_null"): [13, 14],
        ("user", "unique"): [2, 15, 16, 17],
        (None, "no_duplicate_rows"): [16],
    }


def test_columns_checked_in_threads_fail_what_one_thread_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A large frame's columns are checked on several cores: same failures, same order."""
    from data_frames import make_frame

    from mlops_lab.data import checks

    frame = make_frame(3_000, seed=5)
    schema = ml.infer_schema(frame)
    bad = frame.copy()
    bad.loc[[3, 8], "age"] = [7, 200]
    bad.loc[10, "income"] = np.inf
    bad.loc[[4, 5], "city"] = ["rome", None]
    bad["plan"] = bad["plan"].cat.add_categories(["team"])
    bad.loc[6, "plan"] = "team"
    bad.loc[12, "email"] = bad.loc[1, "email"]
    bad.loc[20] = bad.loc[21]
    bad = bad.drop(columns=["active"]).assign(extra=1)
    monkeypatch.setattr("os.cpu_count", lambda: 4)
    monkeypatch.setattr(checks, "_PARALLEL_CELLS", 10**12)
    one_thread = _facts(bad, schema)
    monkeypatch.setattr(checks, "_PARALLEL_CELLS", 1)
    threads = []
    real_check = checks.check_column

    def spy(*args: Any, **kwargs: Any) -> Any:
        import threading

        threads.append(threading.current_thread().name)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(checks, "check_column", spy)
    assert _facts(bad, schema) == one_thread
    assert all(t.startswith("mlops-validate") for t in threads) and len(threads) == 8
    kinds = {(f[0], f[1]) for f in one_thread}
    assert {("age", "in_range"), ("city", "in_categories"), ("active", "column_present")} <= kinds
    assert (None, "no_duplicate_rows") in kinds and ("extra", "no_extra_columns") in kinds
