from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

import mlops_lab as ml
from mlops_lab.comparison.diff import diff_runs
from mlops_lab.errors import InvalidArgumentError, RunNotFoundError


def test_parcoords_data_equals_the_store(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="acc")
    trace = cmp.views.parcoords.data[0]
    dims = {d.label: list(d.values) for d in trace.dimensions}
    runs = [ml.get_run(r) for r in run_ids]
    assert dims["lr"] == [r.params["lr"] for r in runs]
    assert dims["acc"] == pytest.approx([r.metrics["acc"] for r in runs])
    assert dims["loss"] == pytest.approx([r.metrics["loss"] for r in runs])
    assert list(trace.line.color) == pytest.approx([r.metrics["acc"] for r in runs])
    model = next(d for d in trace.dimensions if d.label == "model")
    assert list(model.ticktext) == ["gbm", "rf"]
    assert [model.ticktext[int(v)] for v in model.values] == [r.params["model"] for r in runs]


def test_curves_are_the_metric_history_of_each_run(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="acc")
    curves = cmp.views.curves.data
    assert [c.name for c in curves] == [ml.get_run(r).name for r in run_ids]
    for curve, run_id in zip(curves, run_ids, strict=True):
        hist = ml.get_run(run_id).metric_history("acc")
        assert list(curve.x) == list(hist["step"])
        assert list(curve.y) == pytest.approx(list(hist["value"]))
    cmp.views.metric.value = "loss"  # logged once per run: one bar per run, named
    assert cmp.metric == "loss"
    (bars,) = cmp.views.curves.data
    assert bars.type == "bar"
    assert list(bars.x) == [ml.get_run(r).name for r in run_ids]
    assert list(bars.y) == pytest.approx([ml.get_run(r).metrics["loss"] for r in run_ids])
    assert cmp.views.curves.layout.title.text == "loss per run (logged once)"


def test_scatter_hover_names_the_runs(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="acc")
    point = cmp.views.scatter.data[0]
    assert list(point.text) == [f"run-{i}" for i in range(6)]
    assert list(point.customdata) == run_ids
    assert "%{text}" in point.hovertemplate
    cmp.views.x.value = "loss"
    assert list(cmp.views.scatter.data[0].x) == pytest.approx(
        [ml.get_run(r).metrics["loss"] for r in run_ids]
    )


def test_brushing_an_axis_selects_runs_for_curves_and_diff(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="acc")
    views = cmp.views
    # What the front-end sends when an axis is dragged.
    views.parcoords.plotly_restyle(
        {"dimensions[0].constraintrange": [[0.05, 0.2]]}, trace_indexes=[0]
    )
    fast = [r for r in run_ids if ml.get_run(r).params["lr"] == 0.1]
    assert cmp.selected == fast
    assert [c.name for c in views.curves.data] == [ml.get_run(r).name for r in fast]
    assert cmp.diff().run_ids == fast
    assert "lr" not in cmp.diff().params  # equal within the selection
    assert list(views.scatter.data[0].selectedpoints) == [run_ids.index(r) for r in fast]
    views.clear.click()
    assert cmp.selected == run_ids


def test_brush_from_python_and_scatter_selection(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="acc")
    cmp.brush("loss", (0.75, 1.0))
    assert cmp.selected == run_ids[:3]
    cmp.brush("loss", None)
    assert cmp.selected == run_ids
    cmp.select([run_ids[1][:10], run_ids[4]])
    assert cmp.selected == [run_ids[1], run_ids[4]]


def test_diff_shows_exactly_the_differing_keys(run_ids) -> None:
    a, b, c = (ml.get_run(r) for r in run_ids[:3])
    diff = diff_runs([a, c])  # same lr, same model: only the seed and metrics differ
    assert diff.keys("params") == ["seed"]
    assert diff.keys("metrics") == ["acc", "loss"]
    assert diff.environment == {}
    assert diff.datasets == {}
    assert diff_runs([a, b]).keys("params") == ["lr"]  # same seed
    full = diff_runs([a, c], only_differences=False)
    assert full.keys("params") == ["lr", "model", "seed"]
    assert full.params["lr"] == [0.1, 0.1]


def _fake_run(run_id: str, packages: dict, datasets: list, cells: list[str]) -> SimpleNamespace:
    return SimpleNamespace(
        run_id=run_id,
        name=run_id,
        params={"a": 1},
        metrics={"m": 0.5},
        environment={"python": "3.11.7", "packages": packages},
        datasets=[{"role": "train", "name": n, "digest": d} for n, d in datasets],
        cells=[{"source": s} for s in cells],
    )


def test_diff_of_packages_datasets_and_code() -> None:
    left = _fake_run(
        "left", {"numpy": "2.0", "pandas": "2.2"}, [("iris", "aaaa" * 8)], ["x = 1", "fit(x)"]
    )
    right = _fake_run(
        "right",
        {"numpy": "2.1", "pandas": "2.2", "scipy": "1.14"},
        [("iris", "bbbb" * 8)],
        ["x = 2", "fit(x)"],
    )
    diff = diff_runs([left, right])
    assert diff.params == {} and diff.metrics == {}
    assert diff.environment == {"numpy": ["2.0", "2.1"], "scipy": [None, "1.14"]}
    assert diff.keys("datasets") == ["train: iris"]
    assert "-x = 1" in diff.code and "+x = 2" in diff.code and "-fit(x)" not in diff.code
    html_text = diff.to_html()
    assert "numpy" in html_text and "pandas" not in html_text and "+x = 2" in html_text


def test_code_diff_of_captured_cells(shell) -> None:
    for i in (1, 2):
        shell.run_cell(f"%mlops start code-{i}")
        shell.run_cell(f"x = {i}")
        shell.run_cell("%mlops end")
    diff = ml.compare(["code-1", "code-2"]).diff()
    assert "-x = 1" in diff.code and "+x = 2" in diff.code
    assert "-%mlops start code-1" in diff.code


def test_only_differences_checkbox(run_ids) -> None:
    cmp = ml.compare(run_ids[:2], metric="acc")
    assert cmp.views.only_differences.value is True
    assert "model" not in cmp.views.diff.value
    cmp.views.only_differences.value = False
    assert "model" in cmp.views.diff.value


def test_mean_and_std_over_repeated_runs(run_ids) -> None:
    cmp = ml.compare(run_ids, metric="loss")
    table = cmp.runs.aggregate()  # grouped by every param except the seed
    assert list(table["group"]) == [
        "lr=0.1, model=rf",
        "lr=0.01, model=rf",
        "lr=0.1, model=gbm",
        "lr=0.01, model=gbm",
    ]
    losses = {r: ml.get_run(r).metrics["loss"] for r in run_ids}
    row = table[table["group"] == "lr=0.1, model=rf"].iloc[0]
    expected = [losses[run_ids[0]], losses[run_ids[2]]]
    assert row["runs"] == 2
    assert row["loss mean"] == pytest.approx(sum(expected) / 2)
    assert row["loss std"] == pytest.approx(math.sqrt(2) * abs(expected[0] - expected[1]) / 2)
    by_lr = ml.compare(run_ids, group_by="params.lr").runs.aggregate(["params.lr"])
    assert sorted(by_lr["runs"]) == [3, 3]
    cmp.views.aggregate.value = True
    assert "Mean ± std" in cmp.views.groups.value
    (bars,) = cmp.views.curves.data  # loss is logged once: a bar per group, ±std
    assert list(bars.x) == list(table["group"])
    assert list(bars.y) == pytest.approx(list(table["loss mean"]))
    assert list(bars.error_y.array) == pytest.approx(list(table["loss std"]))
    cmp.views.metric.value = "acc"  # a history: one mean curve per group
    assert {c.name for c in cmp.views.curves.data if c.name} == set(table["group"])


def test_unknown_metric_or_run_is_one_clear_error(run_ids) -> None:
    with pytest.raises(
        InvalidArgumentError, match=r"metric 'nope' is not logged .*\(they have: acc, loss\)"
    ):
        ml.compare(run_ids, metric="nope")
    with pytest.raises(RunNotFoundError, match="no-such-run"):
        ml.compare(["no-such-run"])
    with pytest.raises(InvalidArgumentError, match=r"group_by: no column 'params\.nope'"):
        ml.compare(run_ids, group_by="params.nope")


def test_repr_does_not_serialise_widget_state(run_ids) -> None:
    cmp = ml.compare(run_ids)
    cmp.widget()
    assert repr(cmp) == "<Comparison of 6 runs, 6 selected, metric 'acc'>"
    assert len(repr(cmp.views)) < 100


def test_mimebundle_live_and_static(run_ids, monkeypatch) -> None:
    cmp = ml.compare(run_ids)
    monkeypatch.setenv("MLOPS_LAB_WIDGETS", "0")
    static = cmp._repr_mimebundle_()
    assert set(static) == {"text/html", "text/plain"}
    assert "plotly" in static["text/html"].lower() and "run-3" in static["text/html"]
    # A live front-end is only claimed inside an ipykernel shell.
    monkeypatch.setenv("MLOPS_LAB_WIDGETS", "1")
    from mlops_lab.comparison import static as static_module

    monkeypatch.setattr(static_module, "live_frontend", lambda: True)
    live = cmp._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in live
    assert live["text/plain"] == repr(cmp)
    assert "plotly" in live["text/html"].lower()


def test_no_live_frontend_outside_a_jupyter_kernel(monkeypatch) -> None:
    from mlops_lab.comparison.static import live_frontend

    monkeypatch.setenv("JPY_SESSION_NAME", "x.ipynb")
    monkeypatch.delenv("MLOPS_LAB_WIDGETS", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert live_frontend() is False  # no ipykernel shell here
    monkeypatch.setenv("MLOPS_LAB_WIDGETS", "off")
    assert live_frontend() is False
