from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mlops_lab as ml
from mlops_lab.errors import SchemaError


def test_profile_numbers() -> None:
    df = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, np.nan, np.inf],
            "c": ["a", "a", "b", None, "a"],
            "b": [True, False, True, True, False],
            "t": pd.to_datetime(["2024-01-01", None, "2024-03-01", "2024-02-01", None]),
        }
    )
    prof = ml.profile(df)
    x = prof.columns["x"]
    assert (prof.n_rows, prof.n_cols) == (5, 4)
    assert x["n_missing"] == 1 and x["missing_share"] == pytest.approx(0.2)
    assert x["n_inf"] == 1
    assert (x["min"], x["max"], x["mean"]) == (1.0, 3.0, 2.0)
    assert x["std"] == pytest.approx(1.0)
    assert x["quantiles"]["0.5"] == 2.0
    assert sum(x["histogram"]["counts"]) == 3
    c = prof.columns["c"]
    assert c["n_unique"] == 2
    assert c["top"][0] == {"value": "a", "count": 3, "share": 0.75}
    assert prof.columns["b"]["true_share"] == pytest.approx(0.6)
    assert prof.columns["t"]["min"].startswith("2024-01-01")
    json.dumps(prof.to_dict())  # JSON-ready
    html = prof._repr_html_()
    assert "Dataset profile" in html and "<table" in html
    assert "x" in str(prof)


def test_profile_edge_cases() -> None:
    df = pd.DataFrame(
        {
            "empty": [np.nan, np.nan],
            "mixed": pd.Series([1, "a"], dtype=object),
        }
    )
    prof = ml.profile(df)
    assert prof.columns["empty"]["n_missing"] == 2
    assert prof.columns["empty"]["min"] is None
    assert prof.columns["mixed"]["kind"] == "mixed"
    assert ml.profile(pd.DataFrame()).n_rows == 0


def test_infer_schema(frame: pd.DataFrame) -> None:
    schema = ml.infer_schema(frame)
    assert schema.names == list(frame.columns)
    assert schema["id"].unique and schema["id"].kind == "integer"
    assert not schema["age"].nullable
    lo, hi = frame["age"].min(), frame["age"].max()
    assert schema["age"].min <= lo and schema["age"].max >= hi
    assert schema["score"].nullable and 0.05 < schema["score"].max_missing < 0.2
    assert schema["city"].categories == ["lyon", "nice", "paris"]
    assert schema["plan"].categories == ["free", "pro"]
    assert schema["email"].categories is None and schema["email"].unique
    assert schema["email"].min_length >= len("user0@example.com")
    assert schema["joined"].kind == "datetime"
    assert not schema.allow_duplicate_rows


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_schema_round_trip(tmp_path, frame: pd.DataFrame, suffix: str) -> None:
    schema = ml.infer_schema(frame)
    schema["email"].pattern = r"[a-z0-9]+@example\.com"
    path = schema.save(tmp_path / f"schema{suffix}")
    loaded = ml.Schema.load(path)
    assert loaded == schema
    assert loaded.digest == schema.digest
    assert not schema.diff(loaded)


def test_schema_diff(frame: pd.DataFrame) -> None:
    old = ml.infer_schema(frame)
    new_frame = frame.rename(columns={"age": "years"}).assign(
        city=frame["city"].replace("nice", "nantes")
    )
    diff = old.diff(ml.infer_schema(new_frame))
    changes = {(c, f) for c, f, _, _ in diff.changes}
    assert ("age", "column removed") in changes
    assert ("years", "column added") in changes
    assert ("city", "categories") in changes
    assert "column removed" in str(diff) and "<table" in diff._repr_html_()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{not json", "does not parse"),
        ('{"columns": 3}', "not an mlops-lab schema"),
        ('{"columns": [{"name": "a"}]}', "needs at least 'name' and 'kind'"),
        ('{"columns": [{"name": "a", "kind": "float", "minimum": 1}]}', "unknown keys"),
    ],
)
def test_bad_schema_files(tmp_path, content: str, match: str) -> None:
    (tmp_path / "s.json").write_text(content)
    with pytest.raises(SchemaError, match=match):
        ml.Schema.load(tmp_path / "s.json")


def test_missing_schema_file() -> None:
    with pytest.raises(SchemaError, match=r"no schema file at 'nope\.json'"):
        ml.Schema.load("nope.json")
