"""The run verbs through a real IPython shell: start, end, run, param, log, runs, show."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import mlops_lab as ml
from mlops_lab.magics.tracking import split_assignments


def test_a_notebook_session_is_recorded(shell) -> None:
    shell.run_cell("%mlops start first --experiment exp --tag team=a")
    shell.run_cell("%mlops param C=0.5 model='rf' layers=[64, 32] name=\"it's\"")
    assert shell.user_ns["C"] == 0.5 and shell.user_ns["layers"] == [64, 32]
    shell.run_cell("x = C * 2")
    shell.run_cell("%mlops log acc=0.9 loss=x/10")
    shell.run_cell("%mlops log acc=0.95 --step 5")
    with pytest.raises(ZeroDivisionError):
        shell.run_cell("1/0")
    shell.run_cell("%mlops end")
    run = ml.get_run("first")
    assert run.experiment == "exp" and run.status == "finished"
    assert run.params == {"C": 0.5, "model": "rf", "layers": [64, 32], "name": "it's"}
    assert run.metrics == {"acc": 0.95, "loss": 0.1}
    assert list(run.metric_history("acc")["step"]) == [0, 5]
    cells = run.cells
    assert [c["source"] for c in cells] == [
        "%mlops start first --experiment exp --tag team=a",
        "%mlops param C=0.5 model='rf' layers=[64, 32] name=\"it's\"",
        "x = C * 2",
        "%mlops log acc=0.9 loss=x/10",
        "%mlops log acc=0.95 --step 5",
        "1/0",
        "%mlops end",
    ]
    failed = cells[5]
    assert failed["status"] == "error" and failed["error_name"] == "ZeroDivisionError"
    assert all(c["status"] == "ok" for i, c in enumerate(cells) if i != 5)
    assert all(c["execution_count"] for c in cells)
    assert all(c["duration_s"] >= 0 for c in cells)


def test_cells_before_a_run_are_its_context_and_later_ones_are_not_recorded(shell, store) -> None:
    from mlops_lab.magics import capture

    shell.run_cell("y = 1")
    shell.run_cell("%mlops start")
    shell.run_cell("%mlops end")
    shell.run_cell("z = 2")
    run = ml.get_run()
    assert [c["source"] for c in run.cells] == ["%mlops start", "%mlops end"]
    context = [c for c in store.cells(run.run_id, context=True) if c["kind"] == "context"]
    assert [c["source"] for c in context] == ["y = 1"]
    # the kernel's history has every cell, in or out of a run
    assert [c["source"] for c in capture().history][-4:] == [
        "y = 1",
        "%mlops start",
        "%mlops end",
        "z = 2",
    ]


def _context_rows(root) -> int:
    import sqlite3

    with sqlite3.connect(root / "mlops.db") as conn:
        return conn.execute("SELECT count(*) FROM cells WHERE kind = 'context'").fetchone()[0]


def test_a_session_stores_each_cell_once_as_context_however_many_runs(shell, store) -> None:
    """Every run's context is every cell completed before it; the store holds each cell
    once as context, not once per later run (which made a long session quadratic)."""
    shell.run_cell("import math")
    expected = ["import math"]
    runs = []
    for i in range(30):
        shell.run_cell(f"%mlops start r{i}")
        shell.run_cell(f"v{i} = math.sqrt({i})")
        shell.run_cell("%mlops end")
        runs.append(ml.get_run().run_id)
        shell.run_cell(f"w{i} = v{i} + 1")
        context = [
            c["source"] for c in store.cells(runs[-1], context=True) if c["kind"] == "context"
        ]
        assert context == expected, i
        own = [c["source"] for c in store.cells(runs[-1])]
        assert own == [f"%mlops start r{i}", f"v{i} = math.sqrt({i})", "%mlops end"]
        expected += [*own, f"w{i} = v{i} + 1"]
    # 1 + 4 cells a run, each stored once as context: 118, against 1,770 copied before.
    assert _context_rows(store.root) == 1 + 4 * 29
    # Promotion reads the same context: the last run slices from the first cell on.
    from mlops_lab.pipeline.assemble import session_cells

    cells = session_cells(ml.get_run(runs[-1]))
    assert cells[0].source == "import math" and not cells[0].in_run
    assert [c.source for c in cells if c.in_run][1] == "v29 = math.sqrt(29)"


def test_a_run_in_another_store_gets_the_whole_context(shell, tmp_path) -> None:
    shell.run_cell("a = 1")
    shell.run_cell("%mlops start here")
    shell.run_cell("%mlops end")
    shell.run_cell("b = 2")
    target = tmp_path / "elsewhere"
    shell.run_cell(f"%config MlopsMagics.store = '{target}'")
    shell.run_cell("%mlops start there")
    shell.run_cell("%mlops end")
    other = ml.Project(target)
    run_id = other.runs().iloc[0]["run_id"]
    context = [
        c["source"] for c in other.store.cells(run_id, context=True) if c["kind"] == "context"
    ]
    assert context[0] == "a = 1" and context[-2:] == [
        "b = 2",
        f"%config MlopsMagics.store = '{target}'",
    ]


def test_a_forged_chain_of_contexts_ends(shell, store) -> None:
    import sqlite3

    shell.run_cell("%mlops start one")
    shell.run_cell("%mlops end")
    first = ml.get_run().run_id
    shell.run_cell("x = 1")
    shell.run_cell("%mlops start two")
    shell.run_cell("%mlops end")
    second = ml.get_run().run_id
    store.db.close()
    with sqlite3.connect(store.root / "mlops.db") as conn:  # the first now names the second
        conn.execute(
            "INSERT INTO cells (run_id, seq, source, kind) VALUES (?, -1, ?, 'context_from')",
            (first, second),
        )
        conn.execute(
            "INSERT INTO cells (run_id, seq, source, kind) VALUES ('nobody', 0, 'y = 1', 'context')"
        )
    sources = [c["source"] for c in store.cells(second, context=True)]
    assert sources.count("x = 1") == 1 and sources[-2:] == ["%mlops start two", "%mlops end"]
    assert all(c["kind"] != "context_from" for c in store.cells(second, context=True))


def test_cell_magic_is_one_run(shell) -> None:
    shell.run_cell(
        "%%mlops run whole-cell --tag k=v\n%mlops param C=1.0\n%mlops log acc=0.95\nresult = C + 1"
    )
    run = ml.get_run("whole-cell")
    assert run.status == "finished" and ml.active_run() is None
    assert shell.user_ns["result"] == 2.0
    assert run.params == {"C": 1.0} and run.metrics == {"acc": 0.95} and run.tags == {"k": "v"}
    assert len(run.cells) == 1
    assert run.cells[0]["source"].startswith("%mlops param C=1.0")


def test_cell_magic_failure_marks_the_run_failed(shell) -> None:
    with pytest.raises(UsageError, match="failed: ZeroDivisionError"):
        shell.run_cell("%%mlops run bad\nx = 1\n1/0")
    run = ml.get_run("bad")
    assert run.status == "failed"
    assert run.cells[0]["status"] == "error"


def test_start_with_a_run_open_is_refused_like_start_run(shell) -> None:
    shell.run_cell("%mlops start one")
    with pytest.raises(
        UsageError, match=r"run [0-9a-f]{8} \(one\) is still open: end it with %mlops end"
    ):
        shell.run_cell("%mlops start two")
    with pytest.raises(ml.MlopsLabError, match="still open"):
        ml.start_run("two")
    assert ml.active_run().name == "one"
    assert not ml.runs(filter="name = 'two'").shape[0]
    with pytest.raises(UsageError, match="still open"):
        shell.run_cell("%%mlops run two\nx = 1")
    assert ml.active_run().name == "one"
    shell.run_cell("%mlops end")
    shell.run_cell("%mlops start two")
    shell.run_cell("%mlops end --status failed")
    assert ml.get_run("one").status == "finished"
    assert ml.get_run("two").status == "failed"


def test_start_nested_opens_a_child_run(shell) -> None:
    shell.run_cell("%mlops start parent")
    shell.run_cell("%mlops start child --nested")
    child = ml.active_run()
    assert child.name == "child"
    assert child.parent_id == ml.get_run("parent").run_id
    shell.run_cell("%mlops end")
    assert ml.active_run().name == "parent"
    shell.run_cell("%mlops end")
    assert ml.active_run() is None


def test_param_without_a_run_sets_variables(shell, capsys) -> None:
    shell.run_cell("%mlops param alpha=0.1")
    assert shell.user_ns["alpha"] == 0.1
    assert "no run is open" in capsys.readouterr().out


def test_end_without_a_run_says_so_as_end_run_does_nothing(shell, capsys) -> None:
    ml.end_run()  # MLflow's end_run with no active run: a no-op
    shell.run_cell("%mlops end")
    assert capsys.readouterr().out == "no run is open: nothing to end\n"
    shell.run_cell("%mlops start only")
    shell.run_cell("%mlops end --status failed")
    capsys.readouterr()
    shell.run_cell("%mlops end")  # ended already: still no error, and the run is unchanged
    assert capsys.readouterr().out == "no run is open: nothing to end\n"
    ml.end_run()
    assert ml.active_run() is None
    assert ml.get_run("only").status == "failed"
    assert len(ml.runs()) == 1


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("%mlops bogus", "unknown verb 'bogus'; valid verbs are: .*autolog.*start"),
        ("%mlops log acc=0.9", "needs an open run"),
        ("%mlops param C", "expected NAME=VALUE"),
        ("%mlops param C=undefined_name", "cannot evaluate C=undefined_name: NameError"),
        ("%mlops param C=[1, 2", "unbalanced"),
        ("%mlops runs --limit x", "invalid int value"),
        ("%mlops runs --filter 'metrics.acc >> 1'", "expected a number"),
        ("%mlops show nope", "no run matches 'nope'"),
        ("%mlops start --tag oops", "--tag expects KEY=VALUE"),
        ("%mlops end --status maybe", "invalid choice"),
        ("%mlops runs --filter 'unterminated", "cannot parse the arguments"),
    ],
)
def test_mistakes_are_one_line(shell, line: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        shell.run_cell(line)


def test_log_step_must_be_an_integer(shell) -> None:
    shell.run_cell("%mlops start")
    with pytest.raises(UsageError, match="--step expects an integer"):
        shell.run_cell("%mlops log acc=1 --step two")


def test_help_for_everything(shell, capsys) -> None:
    from mlops_lab.magics.verbs import verbs

    shell.run_cell("%mlops --help")
    overview = capsys.readouterr().out
    for name in verbs():
        assert name in overview
        shell.run_cell(f"%mlops {name} --help")
        assert f"%mlops {name}" in capsys.readouterr().out


def test_runs_and_show_render(shell) -> None:
    shell.run_cell("%mlops start shown")
    shell.run_cell("%mlops param C=1")
    shell.run_cell("%mlops log acc=0.5")
    shell.run_cell("%mlops end")
    table = shell.run_cell("%mlops runs --sort 'metrics.acc desc'").result
    html = table._repr_html_()
    assert "shown" in html and "metrics.acc" in html
    view = shell.run_cell("%mlops show shown").result
    assert "acc" in view._repr_html_() and "%mlops param C=1" in view._repr_html_()
    assert "Params" in repr(view)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a=1 b='x y'", [("a", "1"), ("b", "'x y'")]),
        ("c=[1, 2] d={'k': (1, 2)}", [("c", "[1, 2]"), ("d", "{'k': (1, 2)}")]),
        ("e=f(1, g=2)", [("e", "f(1, g=2)")]),
        ('s="a=b"', [("s", '"a=b"')]),
    ],
)
def test_split_assignments(text: str, expected: list[tuple[str, str]]) -> None:
    assert split_assignments(text) == expected


def test_config_store_setting(shell, tmp_path) -> None:
    target = tmp_path / "configured"
    shell.run_cell(f"%config MlopsMagics.store = '{target}'")
    shell.run_cell("%mlops start configured")
    shell.run_cell("%mlops end")
    assert (target / "mlops.db").is_file()


def test_a_store_configured_later_still_records_the_cells_of_its_runs(shell, tmp_path) -> None:
    shell.run_cell("%mlops start before")
    shell.run_cell("%mlops end")
    target = tmp_path / "configured-later"
    shell.run_cell(f"%config MlopsMagics.store = '{target}'")
    shell.run_cell("%mlops start after")
    shell.run_cell("x_after = 41 + 1")
    shell.run_cell("%mlops end")
    run = ml.Project(target).runs().iloc[0]
    cells = ml.Project(target).get_run(run["run_id"]).cells
    assert any("x_after = 41 + 1" in c["source"] for c in cells), cells
