"""The filter parser never fails with anything but FilterSyntaxError, and what parses runs.

Hand-picked hostile inputs first (deep nesting, long ``not`` chains, dates
out of range, huge lists), then hypothesis: random text, and random soups of
the language's own tokens, which reach far deeper into the grammar. Every
filter that compiles is also run against a real store, so SQL that SQLite
refuses (parser stack, expression depth, too many variables) is caught too.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlops_lab as ml
from mlops_lab.errors import FilterSyntaxError
from mlops_lab.store.filter import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_LENGTH,
    MAX_VALUES,
    compile_filter,
    compile_order,
)

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def runs() -> None:
    with ml.start_run("a", tags={"team": "vision", "n": "5"}):
        ml.log_params({"C": 1.0, "model": "rf"})
        ml.log_metrics({"acc": 0.9, "f1": float("nan")})
    with ml.start_run("b_1"):
        ml.log_metric("acc", float("inf"))
        ml.end_run("failed")


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("(" * 5000 + "status = 'x'" + ")" * 5000, f"nested more than {MAX_DEPTH} deep"),
        ("(" * (MAX_DEPTH + 1) + "status = 'x'" + ")" * (MAX_DEPTH + 1), "nested more than"),
        ("(" * 100_000, "nested more than"),
        (" or ".join(["metrics.acc > 0"] * (MAX_COMPARISONS + 1)), "comparisons"),
        ("run_id in (" + ", ".join(["'x'"] * (MAX_VALUES + 1)) + ")", "values"),
        ("name = '" + "x" * MAX_LENGTH + "'", "characters long"),
        ("start_time > '0001-01-01'", "not a date or time"),
        ("end_time < '2026-02-30'", "not a date or time"),
        ("start_time > '2026-13-01'", "not a date or time"),
        ("not " * 5000, "expected a field"),
    ],
)
def test_hostile_filters_are_syntax_errors(runs: None, expression: str, message: str) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        ml.runs(filter=expression)
    assert message in str(info.value)


def test_long_not_chains_and_redundant_parentheses_parse(runs: None) -> None:
    assert list(ml.runs(filter="not " * 5000 + "name = 'a'")["name"]) == ["a"]
    assert list(ml.runs(filter="not " * 5001 + "name = 'a'")["name"]) == ["b_1"]
    nested = "(" * MAX_DEPTH + "name = 'a'" + ")" * MAX_DEPTH
    assert list(ml.runs(filter=nested)["name"]) == ["a"]


@pytest.mark.parametrize(
    "pattern",
    [
        "({} or metrics.acc != 0.3)",
        "not ({} or metrics.acc != 0.3)",
        "(metrics.acc != 0.3 and not ({} or params.C != 2))",
        "not (not ({} and tags.team like 'v%'))",
        "(name in ('a', 'b') and ({} or metrics.f1 not in (1, 2)))",
    ],
)
def test_deepest_allowed_filters_run_in_sqlite(runs: None, pattern: str) -> None:
    expression = "metrics.acc > 0"
    for _ in range(MAX_DEPTH // pattern.count("(")):
        expression = pattern.format(expression)
    ml.runs(filter=expression)  # no sqlite3.OperationalError
    ml.runs(filter=expression, limit=1)


def test_widest_allowed_filters_run_in_sqlite(runs: None) -> None:
    many = " or ".join(["(metrics.acc != 0.5 and tags.team = 'x')"] * (MAX_COMPARISONS // 2))
    assert set(ml.runs(filter=many)["name"]) == set()
    ids = "run_id in (" + ", ".join(["'x'"] * (MAX_VALUES - 1)) + ")"
    assert ml.runs(filter=ids).empty
    order = ", ".join(["metrics.acc desc", "tags.team"] * (MAX_COMPARISONS // 2))
    assert list(ml.runs(order_by=order)["name"]) == ["b_1", "a"]


def _check(text: str) -> None:
    """Parse ``text`` every way; run it if it compiles. Only FilterSyntaxError may escape."""
    positions = []
    for compile_ in (compile_filter, compile_order):
        try:
            compile_(text)
        except FilterSyntaxError as exc:
            positions.append(exc.position)  # the caret points inside the text or at its end
            continue
        if compile_ is compile_filter:
            ml.runs(filter=text)
        else:
            ml.runs(order_by=text)
    assert all(0 <= p <= len(text) for p in positions)


@FUZZ
@given(st.text(max_size=80))
def test_random_text_never_crashes(runs: None, text: str) -> None:
    _check(text)


@FUZZ
@given(st.text(alphabet=string.printable, max_size=80))
def test_random_printable_text_never_crashes(runs: None, text: str) -> None:
    _check(text)


TOKENS = [
    "metrics.acc", "metrics.f1", "metrics.`val loss`", "params.C", "params.model",
    "tags.team", "tags.n", "`tags`.team", "attributes.status", "status", "name",
    "run_name", "`run name`", "created", "start_time", "end_time", "duration_s",
    "user_id", "attribute.", "metrics.", "`", "'", '"', "and", "or", "not", "in",
    "like", "ilike", "is", "null", "asc", "desc", "=", "==", "!=", "<>", "<", "<=",
    ">", ">=", "(", ")", ",", ".", "0", "1", "-1", "0.5", "1e400", "-1e400",
    "1000000000000", "'FINISHED'", "'finished'", "'rf'", "'a%'", "'b\\_1'", "'%'",
    "'2026-11-01'", "'0001-01-01'", "'9999-12-31'", "'it''s'", "\"x\"", "''",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(TOKENS), max_size=25), st.sampled_from([" ", ""]))
def test_token_soup_never_crashes(runs: None, tokens: list[str], sep: str) -> None:
    _check(sep.join(tokens))


@FUZZ
@given(
    st.recursive(
        st.sampled_from(
            [
                "metrics.acc > 0.5",
                "metrics.f1 != 1",
                "params.C = 1",
                "tags.team like 'v%'",
                "status = 'FINISHED'",
                "start_time > 0",
                "name in ('a', 'b_1')",
                "tags.n is null",
            ]
        ),
        lambda inner: st.one_of(
            st.tuples(inner, st.sampled_from([" and ", " or "]), inner).map("".join),
            inner.map(lambda s: f"({s})"),
            inner.map(lambda s: f"not {s}"),
        ),
        max_leaves=30,
    )
)
def test_well_formed_filters_compile_or_hit_a_limit(runs: None, text: str) -> None:
    _check(text)
