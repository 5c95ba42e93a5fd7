from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from data_frames import make_frame

import mlops_lab as ml
from mlops_lab.data.api import validations
from mlops_lab.errors import SchemaError, ValidationFailedError


@pytest.fixture
def schema(frame: pd.DataFrame) -> ml.Schema:
    return ml.infer_schema(frame)


def _set(column: str, rows: list[int], value) -> callable:
    def corrupt(df: pd.DataFrame) -> pd.DataFrame:
        df[column] = (
            df[column].astype(object)
            if isinstance(value, str) and df[column].dtype.kind in "if"
            else df[column]
        )
        df.loc[rows, column] = value
        return df

    return corrupt


# name -> (corruption, column, check, failing rows or None for column/table-level)
CASES = {
    "out of range": (_set("age", [3, 9], 150), "age", "in_range", [3, 9]),
    "infinite": (_set("income", [5], np.inf), "income", "in_range", [5]),
    "missing not allowed": (_set("income", [1, 2], np.nan), "income", "not_null", [1, 2]),
    "too many missing": (
        lambda df: df.assign(score=np.where(np.arange(len(df)) < 200, np.nan, 0.5)),
        "score",
        "max_missing",
        list(range(200)),
    ),
    "new category": (_set("city", [4, 8], "berlin"), "city", "in_categories", [4, 8]),
    "new categorical category": (
        lambda df: df.assign(plan=df["plan"].cat.add_categories("gold")).pipe(
            lambda d: d.assign(plan=d["plan"].where(d.index != 6, "gold"))
        ),
        "plan",
        "in_categories",
        [6],
    ),
    "not unique": (_set("id", [10], 11), "id", "unique", [10, 11]),
    "string too long": (_set("email", [2], "x" * 100 + "@example.com"), "email", "str_length", [2]),
    "values that are not numbers": (_set("age", [0, 7], "old"), "age", "dtype", [0, 7]),
    "missing column": (lambda df: df.drop(columns="city"), "city", "column_present", None),
    "renamed column": (
        lambda df: df.rename(columns={"age": "years"}),
        "age",
        "column_present",
        None,
    ),
    "extra column": (lambda df: df.assign(extra=1), "extra", "no_extra_columns", None),
    "dtype changed": (
        lambda df: df.assign(joined=df["joined"].astype("int64")),
        "joined",
        "dtype",
        None,
    ),
    "whole numbers became fractions": (
        lambda df: df.assign(age=df["age"].astype(float) + np.where(df.index == 3, 0.5, 0)),
        "age",
        "dtype",
        [3],
    ),
    "duplicate rows": (
        lambda df: pd.concat([df, df.iloc[[5, 6]]], ignore_index=True),
        None,
        "no_duplicate_rows",
        [400, 401],
    ),
    "empty frame": (lambda df: df.iloc[:0], None, "row_count", None),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_check_names_column_rule_and_rows(case: str, schema: ml.Schema) -> None:
    corrupt, column, check, rows = CASES[case]
    report = ml.validate(corrupt(make_frame()), schema)
    assert not report.passed
    found = [f for f in report.failures if f.column == column and f.check == check]
    assert found, f"expected {column}/{check}, got {[(f.column, f.check) for f in report.failures]}"
    failure = found[0]
    if rows is None:
        assert failure.positions is None
    else:
        assert sorted(report.index[failure.positions]) == rows
        cases = report.failure_cases
        mine = cases[
            (cases["check"] == check)
            & (cases["column"].eq(column) if column else cases["column"].isna())
        ]
        assert sorted(mine["row"]) == rows
    text = str(report)
    assert "FAILED" in text and check in text
    assert check in report._repr_html_()


def test_clean_data_passes(frame: pd.DataFrame, schema: ml.Schema) -> None:
    report = ml.validate(make_frame(seed=0), schema)
    assert report.passed and bool(report)
    assert report.failure_cases.empty
    assert list(report.failure_cases.columns) == ["row", "column", "check", "value"]
    assert "PASSED" in str(report)
    assert report.raise_for_failures() is report


def test_failure_cases_and_summary(schema: ml.Schema) -> None:
    df = make_frame().set_axis([f"r{i}" for i in range(400)])
    df.loc["r3", "age"] = 500
    df.loc[["r4", "r5", "r6"], "city"] = ["berlin", "berlin", "rome"]
    report = ml.validate(df, schema)
    cases = report.failure_cases
    assert cases.to_dict("records") == [
        {"row": "r3", "column": "age", "check": "in_range", "value": 500},
        {"row": "r4", "column": "city", "check": "in_categories", "value": "berlin"},
        {"row": "r5", "column": "city", "check": "in_categories", "value": "berlin"},
        {"row": "r6", "column": "city", "check": "in_categories", "value": "rome"},
    ]
    city = next(s for s in report.summary() if s["column"] == "city")
    assert city["n_failed"] == 3 and city["share"] == pytest.approx(3 / 400)
    assert city["rows"] == ["r4", "r5", "r6"]
    assert city["new_categories"][0] == {"value": "berlin", "count": 2, "share": 2 / 400}
    assert "'berlin' (0.50%)" in city["message"]
    assert report.failed_rows == 4
    with pytest.raises(ValidationFailedError, match=r"2 checks .*age: in_range") as info:
        report.raise_for_failures()
    assert info.value.column == "age"


def test_edge_cases_report_rather_than_raise(schema: ml.Schema) -> None:
    df = make_frame()
    df["score"] = np.nan  # all missing
    df["city"] = pd.Series(["paris", 3, None, *["lyon"] * 397], dtype=object)  # mixed types
    df["email"] = [f"u{i}" for i in range(400)]  # too short
    df["active"] = df["active"].astype(int)
    report = ml.validate(df, schema)
    checks = {(f.column, f.check) for f in report.failures}
    assert ("score", "max_missing") in checks
    assert ("city", "dtype") in checks
    assert ("city", "in_categories") in checks
    assert ("email", "str_length") in checks
    assert ("active", "dtype") in checks


def test_many_categories_and_patterns() -> None:
    ref = pd.DataFrame({"code": [f"c{i % 2000}" for i in range(10_000)]})
    schema = ml.infer_schema(ref)
    assert schema["code"].categories is None  # too many to list
    schema["code"].pattern = r"c\d+"
    bad = ref.copy()
    bad.loc[[1, 2], "code"] = ["x1", "c"]
    report = ml.validate(bad, schema)
    checks = {f.check: list(f.positions) for f in report.failures}
    assert checks == {"pattern": [1, 2], "str_length": [2]}


def test_row_count_bounds(frame: pd.DataFrame, schema: ml.Schema) -> None:
    schema.max_rows = 100
    report = ml.validate(frame, schema)
    assert [f.check for f in report.failures] == ["row_count"]
    assert "more than the 100 allowed" in str(report)


def test_schema_from_file_and_against_a_run(tmp_path, frame: pd.DataFrame) -> None:
    ml.infer_schema(frame).save(tmp_path / "s.json")
    assert ml.validate(frame, tmp_path / "s.json").passed
    with ml.start_run("baseline"):
        ml.log_dataset(frame, "train")
    bad = frame.drop(columns="age")
    report = ml.validate(bad, against="baseline")
    assert [(f.column, f.check) for f in report.failures] == [("age", "column_present")]


def test_results_are_stored_with_digest_and_run(frame: pd.DataFrame, schema: ml.Schema) -> None:
    with ml.start_run("check") as run:
        bad = frame.assign(age=frame["age"] + 1000)
        report = ml.validate(bad, schema)
    assert report.validation_id and report.digest == ml.fingerprint(bad)
    stored = validations(digest=report.digest)
    assert len(stored) == 1
    row = stored.iloc[0]
    assert row["run_id"] == run.run_id and not row["passed"]
    assert row["report"]["failures"][0]["check"] == "in_range"
    assert ml.validate(bad, schema).validation_id is None  # no run open: not stored


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "no schema"),
        ({"schema": 3}, "expected a Schema"),
        ({"against": "nope"}, "no run matches 'nope'"),
    ],
)
def test_bad_schema_arguments(frame: pd.DataFrame, kwargs, match) -> None:
    with pytest.raises(ml.MlopsLabError, match=match):
        ml.validate(frame, **kwargs)


def test_against_a_run_without_data(frame: pd.DataFrame) -> None:
    with ml.start_run("nodata"):
        pass
    with pytest.raises(SchemaError, match="logged no dataset"):
        ml.validate(frame, against="nodata")


def test_a_text_value_in_a_numeric_column_is_reported_once(schema: ml.Schema) -> None:
    df = make_frame()
    df["income"] = df["income"].astype(object)
    df.loc[3, "income"] = "forty"
    df.loc[8, "income"] = None  # really missing: not_null, on its own row
    report = ml.validate(df, schema)
    income = [(f.check, list(report.index[f.positions])) for f in report.failures]
    assert income == [("dtype", [3]), ("not_null", [8])], str(report)
    cases = report.failure_cases
    assert cases[cases["row"] == 3][["check", "value"]].to_dict("records") == [
        {"check": "dtype", "value": "forty"}
    ]
    assert str(report).count("forty") == 1


def _diabetes_run():
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    train = load_diabetes(as_frame=True).frame  # the ten features and "target"
    X, y = train.drop(columns="target"), train["target"]
    with ml.start_run("diabetes") as run:
        ml.log_dataset(train, "train")
        ml.log_model(Ridge().fit(X, y), input_example=X.head())
    return run, train


def test_against_a_run_checks_the_model_inputs_of_scoring_data() -> None:
    run, train = _diabetes_run()
    scoring = train.drop(columns="target").sample(50, random_state=0)
    report = ml.validate(scoring, against=run)
    assert report.passed, str(report)
    assert ml.validate(train.head(50), against="diabetes").passed  # a target there is fine
    bad = scoring.assign(bmi=scoring["bmi"] + 10)
    failed = ml.validate(bad, against=run)
    assert [(f.column, f.check) for f in failed.failures] == [("bmi", "in_range")]


def test_against_a_run_with_every_column_when_asked() -> None:
    run, train = _diabetes_run()
    scoring = train.drop(columns="target").head(50)
    report = ml.validate(scoring, against=run, inputs_only=False)
    assert [(f.column, f.check) for f in report.failures] == [("target", "column_present")]
