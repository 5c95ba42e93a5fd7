from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from data_frames import make_frame

import mlops_lab as ml
from mlops_lab.data.fingerprint import column_fingerprints
from mlops_lab.errors import DataError, DatasetReadError

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from data_frames import make_frame
import mlops_lab as ml
print(ml.fingerprint(make_frame()))
"""


def test_same_data_same_digest_across_processes() -> None:
    from pathlib import Path

    tests = str(Path(__file__).resolve().parent)
    here = ml.fingerprint(make_frame())
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(tests=tests)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"},
    ).stdout.strip()
    assert out == here
    assert len(here) == 64
    assert ml.fingerprint(make_frame()) == here  # and within a process, twice


def _cell(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[123, "income"] += 1e-9
    return df


def _text_cell(df: pd.DataFrame) -> pd.DataFrame:
    df.loc[7, "city"] = "pariS"
    return df


def _category(df: pd.DataFrame) -> pd.DataFrame:
    df["plan"] = df["plan"].cat.rename_categories({"pro": "premium"})
    return df


CHANGES = {
    "number cell": _cell,
    "text cell": _text_cell,
    "category label": _category,
    "missing value": lambda df: df.assign(score=df["score"].fillna(0.0)),
    "column name": lambda df: df.rename(columns={"age": "Age"}),
    "column order": lambda df: df[list(reversed(df.columns))],
    "dtype int64 to int32": lambda df: df.astype({"age": "int32"}),
    "dtype str to category": lambda df: df.astype({"city": "category"}),
    "row order": lambda df: df.iloc[::-1].reset_index(drop=True),
    "one row fewer": lambda df: df.iloc[:-1],
    "date": lambda df: df.assign(joined=df["joined"] + pd.Timedelta("1s")),
    "bool": lambda df: df.assign(active=~df["active"]),
}


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_any_change_changes_the_digest(change: str) -> None:
    base = make_frame()
    changed = CHANGES[change](make_frame())
    assert ml.fingerprint(changed) != ml.fingerprint(base)


def test_index_is_not_content_unless_asked(frame: pd.DataFrame) -> None:
    shifted = frame.set_axis(frame.index + 10)
    assert ml.fingerprint(shifted) == ml.fingerprint(frame)
    assert ml.fingerprint(shifted, include_index=True) != ml.fingerprint(frame, include_index=True)


def test_mixed_object_column_tells_1_from_the_string_1() -> None:
    a = pd.DataFrame({"x": pd.Series([1, "a"], dtype=object)})
    b = pd.DataFrame({"x": pd.Series(["1", "a"], dtype=object)})
    assert ml.fingerprint(a) != ml.fingerprint(b)


def test_nan_bit_patterns_are_one_value() -> None:
    other_nan = np.frombuffer(np.uint64(0x7FF8000000000001).tobytes(), dtype=np.float64)[0]
    a = pd.DataFrame({"x": [1.0, np.nan]})
    b = pd.DataFrame({"x": [1.0, other_nan]})
    assert ml.fingerprint(a) == ml.fingerprint(b)


def test_files_read_as_tables(tmp_path, frame: pd.DataFrame) -> None:
    frame.to_parquet(tmp_path / "d.parquet")
    assert ml.fingerprint(tmp_path / "d.parquet") == ml.fingerprint(frame)
    small = frame[["id", "age", "income"]]
    small.to_csv(tmp_path / "d.csv", index=False)
    assert ml.fingerprint(str(tmp_path / "d.csv")) == ml.fingerprint(small)


def test_column_fingerprints_show_which_column_changed(frame: pd.DataFrame) -> None:
    before = column_fingerprints(frame)
    after = column_fingerprints(_cell(frame.copy()))
    assert [c for c in before if before[c] != after[c]] == ["income"]


def test_empty_frames() -> None:
    assert ml.fingerprint(pd.DataFrame()) != ml.fingerprint(pd.DataFrame({"a": []}))


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        ("nowhere.csv", DatasetReadError, "no dataset file at 'nowhere.csv'"),
        ([1, 2], DataError, "expected a pandas DataFrame or a CSV/Parquet path, got list"),
        (pd.Series([1]), DataError, "got a Series"),
    ],
)
def test_bad_input_is_named(value, error, match) -> None:
    with pytest.raises(error, match=match):
        ml.fingerprint(value)


def test_unreadable_files_are_named(tmp_path) -> None:
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DatasetReadError, match=r"cannot read .*bad.parquet.* as a Parquet"):
        ml.fingerprint(tmp_path / "bad.parquet")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DatasetReadError, match="unknown dataset format"):
        ml.fingerprint(tmp_path / "data.xlsx")


def test_duplicate_column_names_are_refused() -> None:
    with pytest.raises(DataError, match=r"duplicate column names \['a'\]"):
        ml.fingerprint(pd.DataFrame([[1, 2]], columns=["a", "a"]))


def test_text_slices_nulls_and_odd_strings() -> None:
    sliced = pd.DataFrame({"s": ["x", "y", "z"]}).iloc[1:]
    assert ml.fingerprint(sliced) == ml.fingerprint(pd.DataFrame({"s": ["y", "z"]}))
    assert ml.fingerprint(pd.DataFrame({"s": ["a", None]})) != ml.fingerprint(
        pd.DataFrame({"s": ["a", ""]})
    )
    assert ml.fingerprint(pd.DataFrame({"s": ["ab", "c"]})) != ml.fingerprint(
        pd.DataFrame({"s": ["a", "bc"]})
    )
    surrogate = pd.DataFrame({"s": pd.Series(["a", "\udc80"], dtype=object)})
    assert ml.fingerprint(surrogate) == ml.fingerprint(surrogate.copy())
