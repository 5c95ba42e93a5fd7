"""Every kind of param a run can log goes through the comparison views."""

from __future__ import annotations

import math

import pytest

import mlops_lab as ml
from mlops_lab.comparison import values

PARAMS = [
    {
        "layers": [64, 32],
        "optimizer": {"name": "adam", "betas": [0.9, 0.999]},
        "dropout": None,
        "shuffle": True,
        "weight": float("nan"),
        "version": "1.10",
        "lr": 0.1,
        "nested": [[1, [2, 3]], {"a": None}],
    },
    {
        "layers": [128],
        "optimizer": {"name": "adam", "betas": [0.9, 0.99]},
        "dropout": 0.5,
        "shuffle": False,
        "weight": 1.0,
        "version": "1.9",
        "lr": 0.01,
        "nested": [[1, [2, 3]], {"a": None}],
    },
    {
        "layers": [64, 32],
        "optimizer": {"betas": [0.9, 0.999], "name": "adam"},
        "dropout": None,
        "shuffle": True,
        "weight": float("nan"),
        "version": "1.10",
        "lr": 0.1,
        "nested": [[1, [2, 3]], {"a": None}],
    },
]


@pytest.fixture
def typed_runs(store_root) -> list[str]:
    ids = []
    for i, params in enumerate(PARAMS):
        with ml.start_run(f"typed-{i}") as run:
            ml.log_params(params)
            ml.log_metric("acc", 0.7 + i / 10)
        ids.append(run.run_id)
    return ids


def test_keys_keep_types_and_hash_lists() -> None:
    assert values.distinct([[1, 2], [1, 2], [2]]) == 2
    assert values.distinct([{"a": 1, "b": 2}, {"b": 2, "a": 1}]) == 1
    assert values.distinct([True, 1, "1", 1.0]) == 3  # bool, number, string
    assert values.same([float("nan"), float("nan")])
    assert values.number("0.5") != values.number("0.5")  # a string is not a number: NaN
    assert values.number(True) != values.number(True)
    assert values.number(3) == 3.0
    assert values.text({"name": "adam", "betas": [0.9, 0.999]}) == (
        "{name: 'adam', betas: [0.9, 0.999]}"
    )


def test_compare_takes_every_param_type(typed_runs, tmp_path) -> None:
    cmp = ml.compare(typed_runs, metric="acc")
    cmp.to_html(tmp_path / "typed.html")
    axes = {a["label"]: a for a in cmp.axes()}
    # Varying: layers, optimizer, dropout, shuffle, weight, version, lr; "nested" is equal.
    assert set(axes) == {"layers", "optimizer", "dropout", "shuffle", "weight", "version", "lr"} | {
        "acc"
    }
    assert axes["lr"]["values"] == [0.1, 0.01, 0.1]
    assert axes["version"]["ticktext"] == ["1.10", "1.9"]  # strings stay strings
    assert axes["shuffle"]["ticktext"] == ["False", "True"]
    assert axes["layers"]["ticktext"] == ["[128]", "[64, 32]"]
    assert [axes["layers"]["ticktext"][int(x)] for x in axes["layers"]["values"]] == [
        "[64, 32]",
        "[128]",
        "[64, 32]",
    ]
    assert axes["dropout"]["values"][1] == 0.5 and math.isnan(axes["dropout"]["values"][0])
    diff = cmp.diff()
    assert set(diff.params) == {
        "layers",
        "optimizer",
        "dropout",
        "shuffle",
        "weight",
        "version",
        "lr",
    }
    rows = {r.label: r.values for r in diff.param_rows()}
    assert rows["dropout"] == ["None", "0.5", "None"]
    assert rows["weight"] == ["nan", "1", "nan"]
    assert rows["version"] == ["1.10", "1.9", "1.10"]
    # Runs 0 and 2 are equal (the dict's key order does not matter).
    assert ml.compare([typed_runs[0], typed_runs[2]]).diff().params == {}
    for x in cmp.views.x.options:
        cmp.views.x.value = x
    cmp.views.aggregate.value = True
    groups = cmp.runs.groups()
    assert sorted(len(v) for v in groups.values()) == [1, 2]


def test_runs_table_sorts_list_params(typed_runs) -> None:
    table = ml.runs_widget()
    table.widget()
    table.sort("params.layers")
    table.sort("params.optimizer")
    assert "[64, 32]" in table.page_html()
