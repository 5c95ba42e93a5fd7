"""The slicer on tricky Python: pure functions over cells, no kernel."""

from __future__ import annotations

import pytest

from mlops_lab.pipeline.slicing import Cell, analyse, slice_cells


def kept(cells: list[Cell]) -> list[int]:
    result = slice_cells(cells)
    assert result.unresolved == [], result.unresolved
    return result.cells


def run(source: str) -> Cell:
    return Cell(source, in_run=True)


@pytest.mark.parametrize(
    ("source", "uses", "defs"),
    [
        ("[x for x in data if x > t]", {"data", "t"}, set()),
        ("{k: v for k, v in pairs.items()}", {"pairs"}, set()),
        ("total = sum(v * w for v in values)", {"values", "w", "sum"}, {"total"}),
        ("def f(a):\n    return a + K", set(), {"f"}),
        ("x = 1\ny = x + 1", set(), {"x", "y"}),
        ("n += 1", {"n"}, {"n"}),
        ("import a.b\nimport c.d as e", set(), {"a", "e"}),
        ("del z", {"z"}, set()),
        ("%%time\nm = fit(X)", {"fit", "X"}, {"m"}),
        ("%mlops param C=0.5 k=[1, K]", {"K"}, {"C", "k"}),
        ("for i in range(3):\n    acc = i", {"range"}, set()),
    ],
)
def test_analyse_reads_and_binds(source: str, uses: set[str], defs: set[str]) -> None:
    effects = analyse(source)
    assert effects.uses == uses
    assert effects.defs == defs


def test_function_reads_globals_when_called_and_global_writes() -> None:
    effects = analyse("def f(a):\n    b = a\n    return b + K + g(a)\n")
    assert effects.deferred["f"] == {"K", "g"}
    effects = analyse("def setup():\n    global Q\n    Q = 1\n")
    assert effects.global_writes == {"setup": {"Q"}}


def test_class_body_reads_now_methods_read_later() -> None:
    effects = analyse(
        "class Scaler(Base):\n    k = SIZE\n    def fit(self, X):\n        return X * FACTOR\n"
    )
    assert effects.uses == {"Base", "SIZE"}
    assert effects.deferred["Scaler"] == {"FACTOR"}


@pytest.mark.parametrize(
    "source",
    ['df["x"] = 1', "df.x = 2", "df.dropna(inplace=True)", "df.loc[0, 'a'] = 3", "del df['a']"],
)
def test_in_place_changes_are_kept(source: str) -> None:
    cells = [
        Cell("import pandas as pd"),
        Cell("df = pd.DataFrame({'a': [1]})"),
        Cell(source),
        Cell("other = 1"),
        run("model = len(df)"),
    ]
    assert kept(cells) == [0, 1, 2, 4]


def test_display_failed_unused_cells_are_dropped() -> None:
    cells = [
        Cell("import pandas as pd\nimport matplotlib.pyplot as plt"),
        Cell("df = pd.DataFrame({'a': [1, 2]})"),
        Cell("df.head()"),
        Cell("plt.plot(df['a'])\nplt.show()"),
        Cell("df = broken()", status="error"),
        Cell("unused = 42"),
        run("%mlops start"),
        run("df.describe()"),
        run("n = len(df)"),
    ]
    assert kept(cells) == [0, 1, 6, 8]


def test_functions_using_globals_defined_later_in_earlier_cells() -> None:
    cells = [
        Cell("def score(x):\n    return x * WEIGHT + offset()"),
        Cell("def offset():\n    return BIAS"),
        Cell("WEIGHT = 2"),
        Cell("BIAS = 1"),
        Cell("WEIGHT_UNUSED = 3"),
        run("s = score(3)"),
    ]
    assert kept(cells) == [0, 1, 2, 3, 5]


def test_global_statement_in_a_called_function() -> None:
    cells = [
        Cell("def setup():\n    global THRESHOLD\n    THRESHOLD = 0.5"),
        Cell("setup()"),
        run("pred = THRESHOLD > 0.1"),
    ]
    assert kept(cells) == [0, 1, 2]


def test_star_imports_are_kept() -> None:
    cells = [Cell("from math import *"), Cell("import os"), run("x = sqrt(4)")]
    assert kept(cells) == [0, 2]


def test_re_executed_cell_latest_version_and_unchanged_repeats_once() -> None:
    cells = [
        Cell("import numpy as np", cell_id="imports"),
        Cell("C = 0.1", cell_id="c"),
        Cell("data = np.arange(3)", cell_id="load"),
        Cell("import numpy as np", cell_id="imports"),  # re-run, unchanged
        Cell("C = 1.0", cell_id="c"),  # edited and re-run: this version counts
        run("model = data * C * np.pi"),
    ]
    assert kept(cells) == [0, 2, 4, 5]


def test_out_of_order_execution_follows_execution_order() -> None:
    # shown top to bottom as load, prepare; executed prepare's definitions after load's use
    cells = [
        Cell("x = 1", execution_count=1),
        Cell("y = x + 1", execution_count=2),
        Cell("x = 100", execution_count=3),  # redefined after y was computed
        run("z = y"),
    ]
    assert kept(cells) == [0, 1, 3]


def test_a_failed_cell_later_fixed() -> None:
    cells = [
        Cell("df = load('data.csv')", status="error"),
        Cell("def load(p):\n    return p"),
        Cell("df = load('data.csv')"),
        run("n = df"),
    ]
    assert kept(cells) == [1, 2, 3]


def test_unresolved_names_are_reported_with_the_cell() -> None:
    cells = [
        Cell("t = compute()", status="error"),
        Cell("later_only = 1", execution_count=9),
        run("model = t + missing + len([])"),
    ]
    result = slice_cells(cells)
    names = {u.name: u for u in result.unresolved}
    assert set(names) == {"t", "missing", "compute"} - {"compute"}
    assert names["t"].cell == 2 and "failed" in names["t"].hint


def test_del_then_redefined() -> None:
    cells = [Cell("a = 1"), Cell("del a"), Cell("a = 2"), run("b = a")]
    assert kept(cells) == [2, 3]


def test_mlops_magics_and_cell_magics() -> None:
    cells = [
        Cell("%load_ext mlops_lab\nimport mlops_lab as ml"),
        Cell("%matplotlib inline"),
        Cell("%mlops runs"),
        Cell("%%time\nX = [[0.0], [1.0]]"),
        Cell("%mlops autolog"),
        run("%mlops start fit"),
        run("%mlops param C=0.5"),
        run("ml.log_metric('acc', C * len(X))"),
        run("%mlops runs"),
        run("%mlops end"),
    ]
    assert kept(cells) == [0, 3, 4, 5, 6, 7, 9]
    effects = analyse("%mlops param C=0.5")
    assert [(p.name, p.expr, p.line) for p in effects.params] == [("C", "0.5", 1)]


def test_logged_literals_are_found() -> None:
    effects = analyse('C = 1.0\nml.log_params({"C": C, "solver": solver})\nml.log_param("k", k)')
    assert effects.logged == {"C": "C", "solver": "solver", "k": "k"}
    assert effects.literals["C"].value == 1.0 and effects.literals["C"].line == 1
