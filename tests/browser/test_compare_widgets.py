"""``%mlops compare`` in JupyterLab, drawn by headless Chromium (Playwright).

Catches widget front-ends that do not match the kernel's widgets: the output
would then show as text ("Loading widget...") instead of plotly figures. The
notebook lives in a folder with a store of its own, so its runs stay apart from
the other browser tests'.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "compare.ipynb"

ALL_CELLS_RAN = """() => {
  const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')];
  return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent));
}"""


@pytest.mark.browser
def test_compare_widget_renders_in_jupyterlab(
    jupyterlab, lab_root: Path, page, open_notebook, screenshot
) -> None:
    folder = lab_root / "compare-widgets"
    (folder / ".mlops").mkdir(parents=True)
    shutil.copy(NOTEBOOK, folder / "demo.ipynb")
    open_notebook("compare-widgets/demo.ipynb")
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(ALL_CELLS_RAN, polling=250)
    output = page.locator(".jp-NotebookPanel .jp-OutputArea-output").last
    page.wait_for_selector(".jp-OutputArea-output .js-plotly-plot svg.main-svg")
    page.wait_for_selector(".jp-OutputArea-output .parcoords", state="attached")
    assert page.locator(".jp-OutputArea-output .js-plotly-plot").count() == 3
    scatter = page.locator(".jp-OutputArea-output .js-plotly-plot").nth(2)
    assert scatter.locator(".scatterlayer .point").count() == 4  # one point per run
    text = output.inner_text()
    assert "Loading widget" not in text
    assert "<Comparison of" not in text
    assert "4 runs compared" in text
    shot = screenshot(output, "compare-widget")
    assert shot.stat().st_size > 10_000  # a drawn figure, not a blank box
