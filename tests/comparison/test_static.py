from __future__ import annotations

import subprocess
import sys

import mlops_lab as ml


def test_static_html_page_is_self_contained(run_ids, tmp_path) -> None:
    path = tmp_path / "cmp.html"
    text = ml.compare(run_ids, metric="acc").to_html(path)
    assert path.read_text(encoding="utf-8") == text
    assert text.startswith("<!DOCTYPE html>")
    assert "plotly.js" in text and "Plotly.newPlot" in text
    assert text.count("Plotly.newPlot") == 3  # parcoords, curves, scatter
    assert "<script src=" not in text  # nothing fetched from a CDN
    for i in range(6):
        assert f"run-{i}" in text
    assert "Mean ± std" in text and "Differences" in text


def test_compare_verb(shell, run_ids, tmp_path) -> None:
    out = tmp_path / "out.html"
    shell.run_cell(f"cmp = %mlops compare run-0 run-1 --metric loss --html {out}")
    cmp = shell.user_ns["cmp"]
    assert cmp.runs.run_ids == run_ids[:2]
    assert cmp.metric == "loss"
    assert "run-1" in out.read_text(encoding="utf-8")
    shell.run_cell("last = %mlops compare --last 3 --filter \"params.model = 'rf'\"")
    assert shell.user_ns["last"].runs.names == ["run-3", "run-2", "run-1"]


def test_compare_verb_errors_are_one_line(shell, run_ids) -> None:
    import pytest
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="metric 'f1' is not logged"):
        shell.run_cell("%mlops compare --metric f1")
    with pytest.raises(UsageError, match="no run matches 'ghost'"):
        shell.run_cell("%mlops compare ghost")


def test_show_is_one_readable_view(shell, run_ids) -> None:
    view = shell.run_cell("%mlops show run-2").result
    assert "<svg" in view.html and "polyline" in view.html  # acc by step
    for section in ("Params", "Metrics", "Environment"):
        assert section in view.html
    assert "acc" in repr(view) and "▁" in repr(view)
    shell.run_cell("%mlops start coded")
    shell.run_cell("y = 41 + 1")
    shell.run_cell("%mlops end")
    coded = shell.run_cell("%mlops show coded").result
    assert "Code (3 cells)" in coded.html and "y = 41 + 1" in coded.html


def test_loading_the_extension_does_not_import_plotly() -> None:
    code = (
        "import sys\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "ip = InteractiveShell.instance()\n"
        "ip.run_line_magic('load_ext', 'mlops_lab')\n"
        "ip.run_line_magic('mlops', '--help')\n"
        "assert 'plotly' not in sys.modules and 'ipywidgets' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)


def test_wide_tables_scroll_inside_their_container(run_ids) -> None:
    from mlops_lab.comparison.tables import runs_table

    scroll = "<div style='overflow-x:auto;max-width:100%'><table"
    assert scroll in runs_table(ml.runs()).html
    page = ml.compare(run_ids).to_html()
    assert "<div class='mlops-scroll' style='overflow-x:auto;max-width:100%'><table" in page
    assert ".mlops-scroll { overflow-x: auto;" in page


def test_parcoords_title_has_room_above_the_axis_labels(run_ids) -> None:
    fig = ml.compare(run_ids).parcoords_figure()
    assert fig.layout.title.yref == "container" and fig.layout.title.yanchor == "top"
    assert fig.layout.margin.t >= 110  # the labels (tilted) sit in the top margin
