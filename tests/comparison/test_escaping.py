"""Names and values from runs are shown as text, never run as markup.

The front-end assigns an ipywidgets ``HTML`` value as ``innerHTML``, and the
static page is opened in a browser: a run named ``<img src=x onerror=...>`` or
a metric, param or tag holding ``<script>`` must come out escaped everywhere.
"""

from __future__ import annotations

import re

import pytest

import mlops_lab as ml
from mlops_lab.comparison.tables import run_view, runs_table

RUN_NAME = "<img src=x onerror=alert(1)>"
METRIC = "<script>alert('metric')</script>"
PARAM_KEY = "p<script>alert('key')</script>"
PARAM_VALUE = "<script>alert('value')</script>"
TAG = "<script>alert('tag')</script>"
RAW = re.compile(r"<img src=x|<script>alert|<b>bold", re.IGNORECASE)


@pytest.fixture
def hostile_runs(store_root) -> list[str]:
    ids = []
    for i in range(3):
        name = RUN_NAME if i == 0 else f"<b>bold</b>-{i}"
        with ml.start_run(name, tags={"team": TAG}) as run:
            ml.log_params({PARAM_KEY: f"{PARAM_VALUE}{i}", "lr": 0.1 * (i + 1), "seed": i % 2})
            ml.log_metric(METRIC, 0.5 + i / 10)
            for step in range(3):
                ml.log_metric("loss", 1 - i / 10 - step / 10, step=step)
        ids.append(run.run_id)
    return ids


def _html_values(cmp) -> dict[str, str]:
    views = cmp.views
    views.aggregate.value = True
    return {
        "header": views.header.value,
        "diff": views.diff.value,
        "groups": views.groups.value,
    }


def test_widget_html_values_are_escaped(hostile_runs) -> None:
    cmp = ml.compare(hostile_runs, metric=METRIC)
    for where, value in _html_values(cmp).items():
        assert not RAW.search(value), (where, value)
    values = _html_values(cmp)
    assert "&lt;script&gt;alert(&#x27;metric&#x27;)&lt;/script&gt;" in values["header"]
    assert "&lt;img src=x onerror=alert(1)&gt;" in values["diff"]
    assert "p&lt;script&gt;alert(&#x27;key&#x27;)&lt;/script&gt;" in values["diff"]
    assert "&lt;script&gt;alert(&#x27;value&#x27;)&lt;/script&gt;0" in values["diff"]
    cmp.views.metric.value = "loss"
    cmp.views.metric.value = METRIC
    assert not RAW.search(cmp.views.header.value)


def test_figure_text_is_escaped(hostile_runs) -> None:
    cmp = ml.compare(hostile_runs, metric=METRIC)
    views = cmp.views
    labels = [d.label for d in views.parcoords.data[0].dimensions]
    assert "p&lt;script&gt;alert('key')&lt;/script&gt;" in labels
    assert "&lt;script&gt;alert('metric')&lt;/script&gt;" in labels
    texts = [
        views.parcoords.layout.title.text,
        views.parcoords.data[0].line.colorbar.title.text,
        views.curves.layout.title.text,
        views.scatter.layout.title.text,
        views.scatter.data[0].hovertemplate,
        *views.scatter.data[0].text,
        *views.curves.data[0].x,  # single-step metric: one bar per run
        *labels,
    ]
    views.metric.value = "loss"
    texts += [c.name for c in views.curves.data] + [views.curves.data[0].hovertemplate]
    for text in texts:
        assert not RAW.search(text), text
    assert "&lt;img src=x onerror=alert(1)&gt;" in views.scatter.data[0].text


def test_static_page_and_tables_are_escaped(hostile_runs, tmp_path) -> None:
    page = ml.compare(hostile_runs, metric=METRIC, aggregate=True).to_html(tmp_path / "x.html")
    assert not RAW.search(page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    table = runs_table(ml.runs())
    assert not RAW.search(table.html) and "&lt;script&gt;" in table.html
    for run_id in hostile_runs:
        view = run_view(ml.get_run(run_id))
        assert not RAW.search(view.html)
    widget_table = ml.runs_widget(columns=["name", f"params.{PARAM_KEY}", "tags.team"])
    widget_table.widget()
    assert not RAW.search(widget_table.page_html())
    assert not RAW.search(widget_table._widget.rows.value)
    widget_table.set_filter("params.lr >")  # an error message shown in an HTML widget
    assert widget_table._widget.error.value.startswith("<pre")
