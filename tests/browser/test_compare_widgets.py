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


XSS_NAME = '<img src=x onerror="window.__xss=1">'
XSS_METRIC = "<img src=x onerror=\"window.__xss='metric'\">"

FIT_PIPELINES = """\
import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

X, y = load_breast_cancer(return_X_y=True, as_frame=True)
X = X[["mean radius", "mean texture", "mean area"]].copy()
X["size"] = np.where(X["mean area"] > X["mean area"].median(), "big", "small")
ml.autolog()
for C in (0.1, 1.0, 10.0):
    num = Pipeline([("imp", SimpleImputer()), ("scaler", StandardScaler(with_mean=C != 10.0))])
    pre = ColumnTransformer(
        [("num", num, ["mean radius", "mean texture", "mean area"]), ("cat", OneHotEncoder(), ["size"])]
    )
    Pipeline([("pre", pre), ("clf", LogisticRegression(C=C, max_iter=500))]).fit(X, y)
Xd, yd = load_diabetes(return_X_y=True, as_frame=True)
Pipeline([("scale", StandardScaler()), ("reg", Ridge(alpha=0.5))]).fit(Xd, yd)
ml.autolog(False)
"""


PIPELINES_READY = """async () => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.sessionContext || !w.context.path.endsWith('pipelines.ipynb')) return false;
  await w.sessionContext.ready;
  const k = w.sessionContext.session?.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""


def _hostile_runs_source() -> str:
    return (
        "hostile = []\n"
        "for i in range(2):\n"
        f"    with ml.start_run({XSS_NAME!r} if i == 0 else 'plain', tags={{'t': '<script>x</script>'}}) as r:\n"
        "        ml.log_params({'<script>k</script>': '<script>v</script>', 'i': i})\n"
        f"        ml.log_metric({XSS_METRIC!r}, 0.5 + i / 10)\n"
        "    hostile.append(r.run_id)\n"
    )


def _pipeline_notebook(path: Path) -> None:
    import nbformat

    cells = [
        "%load_ext mlops_lab\nimport mlops_lab as ml",
        FIT_PIPELINES,
        "%mlops compare --filter \"tags.estimator_name = 'Pipeline'\"",
        _hostile_runs_source(),
        f"ml.compare(hostile, metric={XSS_METRIC!r})",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, path)


@pytest.mark.browser
def test_compare_autologged_pipelines_in_jupyterlab(
    jupyterlab, lab_root: Path, page, screenshot
) -> None:
    folder = lab_root / "compare-pipelines"
    (folder / ".mlops").mkdir(parents=True)
    _pipeline_notebook(folder / "pipelines.ipynb")
    # A workspace of its own: JupyterLab would restore the tabs of earlier tests.
    page.goto(
        jupyterlab.open_url("lab/workspaces/pipelines/tree/compare-pipelines/pipelines.ipynb")
    )
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.wait_for_function(PIPELINES_READY, polling=250)
    page.evaluate("() => { void window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(ALL_CELLS_RAN, polling=250, timeout=240_000)
    outputs = page.locator(".jp-NotebookPanel .jp-OutputArea-output")
    page.wait_for_function(
        "() => document.querySelectorAll('.jp-OutputArea-output .js-plotly-plot svg.main-svg')"
        ".length >= 6",
        polling=250,
    )
    text = page.locator(".jp-NotebookPanel").inner_text()
    assert "Traceback" not in text and "unhashable" not in text
    assert "Message serialization failed" not in text  # no NaN in the widgets' JSON
    assert "Loading widget" not in text
    assert "4 runs compared" in text
    assert "pre › num › scaler" in text and "StandardScaler(with_mean=False)" in text
    assert "LogisticRegression(C=10)" in text
    # A run name and a metric name holding markup are shown as text and never run.
    assert XSS_NAME in text and "coloured by " + XSS_METRIC in text
    assert page.evaluate("() => window.__xss") is None
    assert page.locator('.jp-OutputArea-output img[src="x"]').count() == 0
    assert page.locator(".jp-OutputArea-output script:has-text('x')").count() == 0
    pipelines = outputs.nth(0)
    bars = pipelines.locator(".js-plotly-plot").nth(1).locator(".barlayer .point")
    # The widget's view draws its traces after the empty figure: wait for the third bar.
    bars.nth(2).wait_for(state="attached", timeout=60_000)
    assert bars.count() == 3  # training_accuracy, logged once: a bar per classifier
    screenshot(pipelines, "compare-pipelines")


@pytest.mark.browser
def test_static_comparison_page_layout_and_escaping(page, tmp_path: Path, screenshot) -> None:
    """The page mlops-lab compare writes, opened offline: drawn, escaped, laid out."""
    import subprocess
    import sys

    import mlops_lab as ml

    exec(compile(FIT_PIPELINES, "fit", "exec"), {"ml": ml})
    namespace: dict = {"ml": ml}
    exec(compile(_hostile_runs_source(), "hostile", "exec"), namespace)
    out = tmp_path / "cmp.html"
    result = subprocess.run(
        [sys.executable, "-m", "mlops_lab.cli", "compare", "--last", "10", "--html", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:") else r.abort())
    page.goto(out.as_uri())
    page.wait_for_function(
        "() => document.querySelectorAll('.js-plotly-plot svg.main-svg').length >= 3"
    )
    page.wait_for_selector(".parcoords .axis-title", state="attached")
    assert page.evaluate("() => window.__xss") is None and dialogs == []
    assert page.locator('img[src="x"]').count() == 0
    assert XSS_NAME in page.locator("body").inner_text()
    # The parallel-coordinates title sits above every axis label.
    title = page.locator(".js-plotly-plot").nth(0).locator(".gtitle").bounding_box()
    labels = page.evaluate(
        "() => [...document.querySelectorAll('.parcoords .axis-title')]"
        ".map(e => e.getBoundingClientRect().top)"
    )
    assert title is not None and labels
    assert title["y"] + title["height"] <= min(labels)
    # Wide tables scroll inside their container; the page itself does not.
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert page.evaluate(
        "() => [...document.querySelectorAll('.mlops-scroll')]"
        ".some(e => e.scrollWidth > e.clientWidth)"
    )
    screenshot(page, "compare-static-page")
