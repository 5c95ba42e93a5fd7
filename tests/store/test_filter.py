"""The runs filter language: what matches, and mistakes pointing at the bad token."""

from __future__ import annotations

import time

import pytest

import mlops_lab as ml
from mlops_lab.errors import FilterSyntaxError
from mlops_lab.store.filter import compile_filter


@pytest.fixture
def population() -> None:
    rows = [
        (
            "rf-1",
            {"model": "rf", "C": 1.0, "seed": 0},
            {"acc": 0.95, "val loss": 0.2},
            {"team": "vision"},
        ),
        ("rf-2", {"model": "rf", "C": 0.1, "seed": 1}, {"acc": 0.85}, {"team": "nlp"}),
        ("gbm-1", {"model": "gbm", "C": 1.0, "seed": 0}, {"acc": 0.91, "val loss": 0.4}, {}),
        (
            "RF-upper",
            {"model": "lr", "C": 10, "seed": 2},
            {"acc": float("nan")},
            {"team": "vision"},
        ),
    ]
    for name, params, metrics, tags in rows:
        with ml.start_run(name, tags=tags):
            ml.log_params(params)
            ml.log_metrics(metrics)
    with ml.start_run("broken"):
        ml.log_metric("acc", 0.99)
        ml.end_run("failed")


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metrics.acc > 0.9", {"rf-1", "gbm-1", "broken"}),
        ("metrics.acc > 0.9 and params.C = '1.0'", {"rf-1", "gbm-1"}),
        ("params.C = 1", {"rf-1", "gbm-1"}),
        ("params.C >= 1", {"rf-1", "gbm-1", "RF-upper"}),
        ("params.model = 'rf' or params.model = 'gbm'", {"rf-1", "rf-2", "gbm-1"}),
        ("params.model in ('rf', 'gbm')", {"rf-1", "rf-2", "gbm-1"}),
        ("params.model not in ('rf', 'gbm')", {"RF-upper"}),
        ("(tags.team = 'vision' or tags.team = 'nlp') and metrics.acc < 0.9", {"rf-2"}),
        ("not status = 'finished'", {"broken"}),
        ("status = 'failed'", {"broken"}),
        ("name like 'rf%'", {"rf-1", "rf-2"}),
        ("name ilike 'rf%'", {"rf-1", "rf-2", "RF-upper"}),
        ("name not like 'rf%'", {"gbm-1", "RF-upper", "broken"}),
        ("metrics.`val loss` < 0.3", {"rf-1"}),
        ('metrics."val loss" is not null', {"rf-1", "gbm-1"}),
        ("tags.team is null", {"gbm-1", "broken"}),
        ("metrics.acc in (0.85, 0.91)", {"rf-2", "gbm-1"}),
        (
            "start_time > '2000-01-01' and duration_s >= 0",
            {"rf-1", "rf-2", "gbm-1", "RF-upper", "broken"},
        ),
        ("attributes.name = 'rf-1'", {"rf-1"}),
        ("NAME = 'rf-1' AND Metrics.acc > 0", {"rf-1"}),
        ("name = 'it''s'", set()),
    ],
)
def test_filter_selects(population: None, expression: str, expected: set[str]) -> None:
    assert set(ml.runs(filter=expression)["name"]) == expected


@pytest.mark.parametrize(
    ("expression", "message", "position"),
    [
        ("metrics.acc >> 3", "expected a number or a 'quoted string'", 13),
        ("metrics.acc > 'high'", "compares with numbers", 14),
        ("foo.bar = 1", "unknown field prefix 'foo'", 0),
        ("colour = 'red'", "unknown attribute 'colour'", 0),
        ("metrics.acc > 0.9 and", "expected a field", 21),
        ("(metrics.acc > 0.9", "expected ')'", 18),
        ("metrics.acc > 0.9 params.C = 1", "expected 'and', 'or' or the end", 18),
        ("params.C in ('a', 1)", "mixes numbers and strings", 13),
        ("name = 'unterminated", "unexpected character", 7),
        ("start_time > 'yesterday'", "not a date or time", 13),
    ],
)
def test_filter_errors_point_at_the_token(expression: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        ml.runs(filter=expression)
    assert message in str(info.value)
    assert info.value.position == position


def test_literals_are_bound_never_inlined() -> None:
    sql, params = compile_filter("name = 'x'' OR 1=1 --' and tags.t = 'y; DROP TABLE runs'")
    assert "DROP" not in sql and "1=1" not in sql
    assert "x' OR 1=1 --" in params and "y; DROP TABLE runs" in params


def test_injection_attempt_matches_nothing_and_drops_nothing(population: None) -> None:
    assert ml.runs(filter="name = 'x'' or 1=1; drop table runs; --'").empty
    assert len(ml.runs()) == 5


@pytest.mark.parametrize(
    ("order", "first"),
    [
        ("metrics.acc desc", "broken"),
        ("metrics.acc", "rf-2"),
        ("params.C desc", "RF-upper"),
        ("name", "RF-upper"),
        (["params.model", "metrics.acc desc"], "gbm-1"),
    ],
)
def test_order_by(population: None, order: str | list[str], first: str) -> None:
    assert ml.runs(order_by=order)["name"].iloc[0] == first


def test_nan_metric_sorts_last(population: None) -> None:
    names = list(ml.runs(order_by="metrics.acc desc")["name"])
    assert names[-1] == "RF-upper"


@pytest.fixture
def mlflow_spellings() -> dict[str, float]:
    """Runs for MLflow's spellings; returns each run's start time in epoch milliseconds."""
    starts = {}
    for name, status, f1, tags in [
        ("beta_1", "finished", 0.5, {"n": "5"}),
        ("betaX1", "failed", float("nan"), {"n": "5.0", "owner": "ana"}),
        ("beta\\_1", "killed", 0.7, {"owner": "bo"}),
        ("gamma%", "finished", None, {}),
    ]:
        with ml.start_run(name, tags=tags) as run:
            if f1 is not None:
                ml.log_metric("f1", f1)
            if status != "finished":
                ml.end_run(status)
        starts[name] = int(run.store.run_record(run.run_id)["start_time"] * 1000)
        time.sleep(0.002)  # each run starts in a millisecond of its own (runs take less)
    return starts


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("attributes.status = 'FINISHED'", {"beta_1", "gamma%"}),
        ("status != 'FINISHED'", {"betaX1", "beta\\_1"}),
        ("status in ('FAILED', 'killed')", {"betaX1", "beta\\_1"}),
        ("status like 'FIN%'", {"beta_1", "gamma%"}),
        ("metrics.f1 != 0.5", {"betaX1", "beta\\_1"}),  # NaN is unequal; missing is not a value
        ("metrics.f1 not in (0.5, 0.7)", {"betaX1"}),
        ("metrics.f1 = 0", set()),
        ("metrics.f1 <= 1", {"beta_1", "beta\\_1"}),
        ("attributes.start_time > 1000000000000", {"beta_1", "betaX1", "beta\\_1", "gamma%"}),
        ("attributes.start_time > 10000000000000", set()),
        ("tags.n = '5'", {"beta_1"}),
        ("run_name LIKE 'beta\\_1'", {"beta\\_1"}),  # a backslash is a plain character
        ("run_name LIKE 'beta_1'", {"beta_1", "betaX1"}),
        ("name like '%\\%'", {"beta\\_1"}),
        ("attributes.created > 0", {"beta_1", "betaX1", "beta\\_1", "gamma%"}),
        ("attributes.`Run name` = 'gamma%'", {"gamma%"}),
        ("`run name` = 'gamma%'", {"gamma%"}),
        ("attributes.user_id is not null", {"beta_1", "betaX1", "beta\\_1", "gamma%"}),
        ("`tags`.owner = 'ana'", {"betaX1"}),
        ("`tags`.`owner` != 'ana'", {"beta\\_1"}),
        ("parameter.x is null and attr.status = 'KILLED'", {"beta\\_1"}),
    ],
)
def test_mlflow_spellings_and_meanings(
    mlflow_spellings: dict[str, float], expression: str, expected: set[str]
) -> None:
    assert set(ml.runs(filter=expression)["name"]) == expected


def test_start_time_compares_epoch_milliseconds(mlflow_spellings: dict[str, float]) -> None:
    ms = mlflow_spellings["betaX1"]
    assert list(ml.runs(filter=f"start_time = {ms}")["name"]) == ["betaX1"]
    later = list(ml.runs(filter=f"start_time > {ms}", order_by="start_time")["name"])
    assert later == ["beta\\_1", "gamma%"]
    assert list(ml.runs(filter=f"created <= {ms}", order_by="created desc")["name"]) == [
        "betaX1",
        "beta_1",
    ]


@pytest.mark.parametrize(
    ("order", "names"),
    [
        ("metrics.f1", ["beta_1", "beta\\_1", "betaX1", "gamma%"]),
        ("metrics.f1 desc", ["beta\\_1", "beta_1", "betaX1", "gamma%"]),
    ],
)
def test_metric_order_puts_nan_after_numbers_and_missing_last(
    mlflow_spellings: dict[str, float], order: str, names: list[str]
) -> None:
    assert list(ml.runs(order_by=order)["name"]) == names


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("attribute.status = 1", "status is text"),
        ("run_id in (1, 2)", "run_id is text"),
        ("tags.n = 5", "tags are text"),
        ("metrics.f1 like '0.5'", "LIKE does not apply"),
        ("start_time like '2026%'", "LIKE does not apply"),
        ("duration_s > '10'", "number of seconds"),
        ("metrics acc > 1", "expected a key after metrics."),
    ],
)
def test_type_errors_are_refused(expression: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        ml.runs(filter=expression)
    assert message in str(info.value)


def test_a_backslash_is_plain_text_and_never_escapes_a_quote(
    mlflow_spellings: dict[str, float],
) -> None:
    assert set(ml.runs(filter="name = 'beta\\_1'")["name"]) == {"beta\\_1"}
    # What the panel sends for the word `beta\`: the literal ends at the quote after it.
    words = "(name ilike '%beta\\%' or status = 'beta\\')"
    assert set(ml.runs(filter=words)["name"]) == {"beta\\_1"}
    assert set(ml.runs(filter="name = 'it''s' or name = \"gamma%\"")["name"]) == {"gamma%"}
