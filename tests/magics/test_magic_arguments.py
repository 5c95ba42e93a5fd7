"""How a ``%mlops`` line is read, through a real IPython shell.

``log`` and ``param`` take any Python expression; other verbs look notebook
variables up (``{name}``, ``$name``) but never evaluate what a line holds, so
a run id or name with ``{...}`` in it (a merged store can bring one) runs nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from IPython.core.error import UsageError

import mlops_lab as ml
from mlops_lab._args import split_assignments
from mlops_lab.errors import InvalidArgumentError
from mlops_lab.magics.arguments import expand_variables


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "rmse=mean_squared_error(y, p) ** 0.5 mae=abs(a - b).mean() ok=x == 1 d=dict(a=1)",
            [
                ("rmse", "mean_squared_error(y, p) ** 0.5"),
                ("mae", "abs(a - b).mean()"),
                ("ok", "x == 1"),
                ("d", "dict(a=1)"),
            ],
        ),
        ("a = 1   b = 2", [("a", "1"), ("b", "2")]),
        ("le=x <= 1 ne=x != 2 ge=x>=3", [("le", "x <= 1"), ("ne", "x != 2"), ("ge", "x>=3")]),
        ("f=lambda q=1, r=2: q + r g=3", [("f", "lambda q=1, r=2: q + r"), ("g", "3")]),
        ("s='x=1 y=2' t=f\"{v=}\"", [("s", "'x=1 y=2'"), ("t", 'f"{v=}"')]),
        ("w=(n := 3) * 2", [("w", "(n := 3) * 2")]),
        ("c=[i for i in range(3) if i != 1] m={'k': v for v in (1,)}", None),
        ("x=-1 y=not z", [("x", "-1"), ("y", "not z")]),
        ("e=f(1, g=2)", [("e", "f(1, g=2)")]),
    ],
)
def test_assignments_split_where_a_new_name_starts(text: str, expected: list | None) -> None:
    pairs = split_assignments(text)
    if expected is None:
        assert [name for name, _ in pairs] == ["c", "m"]
        assert pairs[0][1] == "[i for i in range(3) if i != 1]"
    else:
        assert pairs == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("** 2", r"expected NAME=VALUE, got '\*\* 2'"),
        ("0.5", "expected NAME=VALUE, got '0.5'"),
        ("acc=", "expected NAME=VALUE, got 'acc='"),
        ("a= b=2", "expected NAME=VALUE, got 'a='"),
        ("a=(1, 2", "unbalanced"),
        ("a=1) b=2", "unbalanced"),
        ("a='open", "unbalanced quotes"),
        ("x == 1", "expected NAME=VALUE, got 'x == 1'"),
    ],
)
def test_bad_assignments_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        split_assignments(text)


def test_log_takes_any_expression(shell) -> None:
    shell.run_cell(
        "import numpy as np\n"
        "from sklearn.metrics import mean_squared_error\n"
        "y = np.array([1.0, 2.0, 3.0]); p = np.array([1.0, 2.0, 5.0])\n"
        "a = np.array([1.0, 4.0]); b = np.array([2.0, 2.0]); x = 1"
    )
    shell.run_cell("%mlops start exprs")
    shell.run_cell(
        "%mlops log rmse=mean_squared_error(y, p) ** 0.5 mae=abs(a - b).mean() ok=x == 1 "
        "n=len(dict(a=1, b=2)) --step 4"
    )
    shell.run_cell("%mlops end")
    run = ml.get_run("exprs")
    assert run.metrics == pytest.approx({"rmse": (4 / 3) ** 0.5, "mae": 1.5, "ok": 1.0, "n": 2.0})
    assert list(run.metric_history("rmse")["step"]) == [4]


def test_log_names_the_value_that_is_not_a_number(shell) -> None:
    shell.run_cell("%mlops start")
    with pytest.raises(UsageError, match="metric 'd': expected a number, got dict"):
        shell.run_cell("%mlops log acc=0.5 d=dict(a=1)")


def test_param_takes_any_expression(shell) -> None:
    shell.run_cell("%mlops start")
    shell.run_cell("%mlops param grid=dict(C=[0.1, 1], kernel='rbf') n=2 ** 3 big=3 > 2")
    assert shell.user_ns["grid"] == {"C": [0.1, 1], "kernel": "rbf"}
    assert shell.user_ns["n"] == 8 and shell.user_ns["big"] is True
    shell.run_cell("%mlops end")


PAYLOAD = "{__import__('os').system('touch %s')}"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "executed"


def literal(text: str) -> str:
    """``text`` as a ``%mlops`` argument meaning itself: braces and dollars doubled."""
    return text.replace("{", "{{").replace("}", "}}").replace("$", "$$")


def test_a_run_name_with_braces_runs_nothing(shell, marker: Path) -> None:
    evil = PAYLOAD % marker
    with ml.start_run(evil):
        ml.log_metric("acc", 0.5)
    with ml.start_run("plain"):
        ml.log_metric("acc", 0.7)
    for line in [
        f'%mlops show "{evil}"',
        f"%mlops show {evil}",
        f'%mlops compare "{evil}" plain',
        f"%mlops runs --filter \"name = '{evil}'\"",
        f'%mlops start "{evil}"',
    ]:
        with pytest.raises(UsageError, match=r"%mlops does not evaluate \{__import__"):
            shell.run_cell(line)
    assert ml.active_run() is None
    view = shell.run_cell(f'%mlops show "{literal(evil)}"').result
    assert "acc" in view._repr_html_() and "0.5" in view._repr_html_()
    comparison = shell.run_cell(f'%mlops compare "{literal(evil)}" plain').result
    assert "2 runs" in repr(comparison)
    quoted = literal(evil).replace("'", "''")
    table = shell.run_cell(f"%mlops runs --filter \"name = '{quoted}'\"").result
    html = table._repr_html_()
    assert "0.5" in html and "plain" not in html
    assert not marker.exists()


def test_no_expression_in_a_line_is_evaluated(shell, marker: Path) -> None:
    for line in [
        f"%mlops compare {PAYLOAD % marker}",
        f"%mlops show ${{__import__('os').system('touch {marker}')}}",
        f"%mlops runs --filter \"name = '{PAYLOAD % marker}'\"",
        f"%mlops drift {PAYLOAD % marker} b",
    ]:
        with pytest.raises(UsageError):
            shell.run_cell(line)
    assert not marker.exists()


def test_variables_are_looked_up(shell, tmp_path: Path) -> None:
    shell.run_cell("%mlops start 'first run'")
    shell.run_cell("%mlops end")
    shell.user_ns["name"] = "first run"
    shell.user_ns["best"] = ml.get_run("first run")
    rid = ml.get_run("first run").run_id
    for line in ["%mlops show {name}", '%mlops show "{name}"', "%mlops show {best.run_id}"]:
        assert rid[:8] in repr(shell.run_cell(line).result)
    shell.user_ns["rid"] = rid
    assert rid[:8] in repr(shell.run_cell("%mlops show $rid").result)
    data = tmp_path / "my data.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    shell.user_ns["train_path"] = str(data)
    shell.run_cell("%mlops start")
    shell.run_cell("%mlops data train=$train_path")
    assert [d["name"] for d in ml.active_run().datasets] == ["train"]
    shell.run_cell("%mlops end")


@pytest.mark.parametrize(
    ("argument", "expected"),
    [
        ("{x}", "1"),
        ("a={x}-$x", "a=1-1"),
        ("{obj.real}", "1"),
        ("{{x}}", "{x}"),
        ("$$x", "$x"),
        ("{missing}", "{missing}"),
        ("{x.__class__}", "{x.__class__}"),
        ("cost $5", "cost $5"),
        ('{"a": 1}', '{"a": 1}'),
        ("{}", "{}"),
        ("{ x }", "1"),
    ],
)
def test_expand_variables(argument: str, expected: str) -> None:
    assert expand_variables(argument, {"x": 1, "obj": 1, "f": print}) == expected


@pytest.mark.parametrize("argument", ["{x + 1}", "run-{f(1)}", "{x, x}", "{0}", "{x[0]}"])
def test_an_expression_in_braces_is_refused(argument: str) -> None:
    with pytest.raises(UsageError, match=r"does not evaluate .*double the braces"):
        expand_variables(argument, {"x": [1], "f": print})
