from __future__ import annotations

import mlops_lab as ml


def test_selecting_runs_in_the_table_changes_the_comparison(run_ids) -> None:
    table = ml.runs_widget(order_by="name")
    view_box = table.widget()
    view = table._widget
    assert [c.description for c in view.checks[:6]] == [f"run-{i}" for i in range(6)]
    view.checks[1].value = True
    view.checks[4].value = True
    assert table.selected == [run_ids[1], run_ids[4]]
    view.compare_button.click()
    assert table.comparison is not None
    assert table.comparison.runs.run_ids == [run_ids[1], run_ids[4]]
    assert view.comparison_box.children == (table.comparison.widget(),)
    assert [c.name for c in table.comparison.views.curves.data] == ["run-1", "run-4"]
    view.checks[1].value = False
    view.checks[2].value = True
    table.compare()
    assert table.comparison.runs.run_ids == [run_ids[4], run_ids[2]]
    assert len(view_box.children) == 7


def test_filter_box_error_is_shown_and_rows_kept(run_ids) -> None:
    table = ml.runs_widget()
    table.widget()
    view = table._widget
    view.filter.value = "metrics.acc >"
    assert "expected a number" in view.error.value
    assert len(table.frame) == 6
    view.filter.value = "params.model = 'gbm'"
    assert view.error.value == ""
    assert set(table.frame["run_id"]) == set(run_ids[4:])
    assert "run-4" in view.rows.value and "run-0" not in view.rows.value


def test_sort_by_any_column_and_choose_columns(run_ids) -> None:
    table = ml.runs_widget()
    table.widget()
    view = table._widget
    view.descending.value = False
    view.sort.value = "metrics.loss"
    assert list(table.page_frame()["name"]) == [f"run-{i}" for i in range(5, -1, -1)]
    view.sort.value = "params.model"  # strings sort too
    assert list(table.page_frame()["params.model"])[:2] == ["gbm", "gbm"]
    view.columns.value = ("name", "metrics.acc")
    assert table.columns == ["name", "metrics.acc"]
    assert ">loss<" not in view.rows.value and ">acc<" in view.rows.value


def test_pagination_at_ten_thousand_runs(store_root) -> None:
    for i in range(10_000):
        with ml.start_run(f"r{i}"):
            ml.log_params({"lr": i % 7, "seed": i})
            ml.log_metric("acc", i / 10_000)
    table = ml.runs_widget(page_size=25)
    table.widget()
    view = table._widget
    assert table.page_count == 400
    assert len(view.checks) == 25  # one page of widgets, whatever the number of runs
    assert view.rows.value.count("<tr") == 26
    view.next.click()
    assert table.page == 1
    table.set_page(399)
    assert "page 400 / 400" in view.page_label.value
    view.select_page.value = True
    assert len(table.selected) == 25
    view.sort.value = "metrics.acc"
    view.descending.value = True
    assert table.page == 0
    assert table.page_frame()["name"].iloc[0] == "r9999"
    assert len(table.selected) == 25  # the selection survives sorting
    view.filter.value = "metrics.acc >= 0.999"
    assert table.page_count == 1 and len(table.frame) == 10
    assert len(repr(table)) < 100


def test_runs_verb_is_static_without_a_live_frontend(shell, run_ids) -> None:
    result = shell.run_cell("%mlops runs --sort 'metrics.acc desc'").result
    assert "6 run(s)" in result.html
