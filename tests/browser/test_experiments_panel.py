"""The Experiments panel in a real JupyterLab, driven through headless Chromium.

A store with four runs and a registered model sits in the served folder; the
test opens a notebook, opens the panel, filters, sorts, opens a run, looks
at the models, then selects two runs and presses Compare: the cell
``%load_ext mlops_lab`` + ``%mlops compare ID ID`` must appear in the notebook,
run, and draw the comparison figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

RUNS_SCRIPT = """
import mlops_lab as ml
from sklearn.linear_model import LogisticRegression

ids = {}
for i, (model, acc) in enumerate([("rf", 0.91), ("rf", 0.87), ("gbm", 0.95), ("svm", 0.70)]):
    with ml.start_run(f"{model}-{i}", experiment="iris") as run:
        ml.log_params({"model": model, "C": 0.5 * (i + 1), "depth": i + 2})
        for step in range(3):
            ml.log_metric("acc", acc - 0.1 * (2 - step), step=step)
        ml.log_metric("loss", 1 - acc)
        if model == "gbm":
            ml.log_model(LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1]))
    ids[run.name] = run.run_id
ml.register_model(ids["gbm-2"], "iris-clf", alias="champion")
print(json_dumps(ids))
""".replace("json_dumps", "__import__('json').dumps")

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "source": "", "outputs": [], "execution_count": None}
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}

CELLS = """() => window.jupyterapp.shell.currentWidget.content.model.sharedModel.cells.map(
  c => ({source: c.getSource(), count: c.execution_count ?? null}))"""


@pytest.fixture(scope="module")
def run_ids(lab_root: Path, lab_env: dict[str, str]) -> dict[str, str]:
    """Four runs and a registered model in ``lab_root/.mlops`` (found from the root dir)."""
    done = subprocess.run(
        [sys.executable, "-c", RUNS_SCRIPT],
        cwd=lab_root,
        env=lab_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (lab_root / "panel.ipynb").write_text(json.dumps(NOTEBOOK))
    return json.loads(done.stdout.strip().splitlines()[-1])


def row(run_id: str) -> str:
    return f"tr[data-run-id='{run_id}']"


def names(page) -> list[str]:
    return page.locator(".mlops-ExperimentsPanel tr.mlops-Run .mlops-RunName").all_text_contents()


def wait_names(page, expected: list[str]) -> None:
    page.wait_for_function(
        """(expected) => JSON.stringify([...document.querySelectorAll(
             '.mlops-ExperimentsPanel tr.mlops-Run .mlops-RunName')].map(e => e.textContent))
           === JSON.stringify(expected)""",
        arg=expected,
        polling=100,
    )


def filter_runs(page, text: str) -> None:
    box = page.locator(".mlops-ExperimentsPanel input.mlops-Filter")
    box.fill(text)
    box.press("Enter")


def test_panel_lists_filters_and_compares(
    page, open_notebook, screenshot, run_ids: dict[str, str]
) -> None:
    open_notebook("panel.ipynb")

    # The panel opens from its tab in the left side bar and lists the store's runs.
    page.locator('.jp-SideBar.jp-mod-left [data-id="mlops-lab-experiments"]').click()
    panel = page.locator(".mlops-ExperimentsPanel")
    panel.wait_for(state="visible")
    wait_names(page, ["svm-3", "gbm-2", "rf-1", "rf-0"])
    assert panel.locator(".mlops-Count").text_content() == "4 runs"
    assert panel.locator("th[data-sort='metrics.acc']").is_visible()
    assert panel.locator(row(run_ids["gbm-2"]) + " .mlops-Status").text_content() == ("finished")
    screenshot(page, "panel-runs")

    # Filtering narrows the list: words, then an expression, then a mistake.
    filter_runs(page, "rf")
    wait_names(page, ["rf-1", "rf-0"])
    filter_runs(page, "metrics.acc > 0.9 and params.depth >= 3")
    wait_names(page, ["gbm-2"])
    screenshot(panel, "panel-filtered")
    filter_runs(page, "metrics.acc >")
    page.wait_for_function(
        "() => document.querySelector('.mlops-ExperimentsPanel .mlops-Error').textContent !== ''"
    )
    filter_runs(page, "")
    wait_names(page, ["svm-3", "gbm-2", "rf-1", "rf-0"])

    # Sorting by a metric column, both ways, then back to newest first.
    panel.locator("th[data-sort='metrics.acc']").click()
    wait_names(page, ["gbm-2", "rf-0", "rf-1", "svm-3"])
    panel.locator("th[data-sort='metrics.acc']").click()
    wait_names(page, ["svm-3", "rf-1", "rf-0", "gbm-2"])
    panel.locator("th[data-sort='start_time']").click()
    wait_names(page, ["svm-3", "gbm-2", "rf-1", "rf-0"])

    # A run's details, and back.
    panel.locator(row(run_ids["gbm-2"]) + " .mlops-RunName").click()
    detail = panel.locator(".mlops-Detail")
    detail.locator(".mlops-Params").wait_for()
    assert "gbm" in detail.locator(".mlops-Params").text_content()
    assert "0.95" in detail.locator(".mlops-Metrics").text_content()
    assert "model" in detail.locator(".mlops-ListTable").first.text_content()  # the artifact
    screenshot(panel, "panel-run-detail")
    detail.locator(".mlops-BackButton").click()
    panel.locator(".mlops-RunsTable").wait_for(state="visible")

    # The models section lists versions and aliases.
    panel.locator(".mlops-ModelsSection > summary").click()
    model = panel.locator(".mlops-Model[data-model='iris-clf']")
    model.locator("summary").click()
    model.locator("td", has_text="champion").wait_for()

    # Compare two selected runs: the magic lands in the notebook, runs, and draws.
    for name in ("gbm-2", "rf-0"):
        panel.locator(row(run_ids[name]) + " input[type=checkbox]").check()
    compare = panel.locator(".mlops-CompareButton")
    assert compare.text_content() == "Compare (2)"
    compare.click()
    expected = f"%load_ext mlops_lab\n%mlops compare {run_ids['gbm-2']} {run_ids['rf-0']}"
    page.wait_for_function(
        f"() => ({CELLS})().some(c => c.source === {json.dumps(expected)} && c.count !== null)",
        polling=250,
    )
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
    output.locator(".js-plotly-plot svg.main-svg").first.wait_for(state="visible", timeout=90_000)
    assert "Traceback" not in output.first.text_content()
    screenshot(page, "notebook-compare")

    # Once the kernel has the extension, Compare does not load it again.
    panel.locator(".mlops-CompareButton").click()
    again = f"%mlops compare {run_ids['gbm-2']} {run_ids['rf-0']}"
    page.wait_for_function(
        f"() => ({CELLS})().some(c => c.source === {json.dumps(again)} && c.count !== null)",
        polling=250,
    )
