"""``%mlops compare`` in a notebook executed by papermill in a real kernel."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "compare.ipynb"


@pytest.mark.kernel
def test_papermill_output_keeps_plotly_output(store_root, tmp_path, monkeypatch) -> None:
    import nbformat
    import papermill

    monkeypatch.setenv("MLOPS_LAB_HOME", str(store_root))
    monkeypatch.delenv("MLOPS_LAB_WIDGETS", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)  # papermill runs without a front-end
    out = tmp_path / "compare-out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK), str(out), kernel_name="python3", cwd=str(tmp_path), progress_bar=False
    )
    assert os.environ["MLOPS_LAB_HOME"] == str(store_root)
    nb = nbformat.read(out, as_version=4)
    outputs = nb.cells[-1].outputs
    bundles = [
        o["data"] for o in outputs if o.get("output_type") in ("execute_result", "display_data")
    ]
    assert bundles, outputs
    html_text = "".join(b.get("text/html", "") for b in bundles)
    has_plotly = any("application/vnd.plotly.v1+json" in b for b in bundles) or (
        "Plotly.newPlot" in html_text
    )
    assert has_plotly
    assert "plotly.js" in html_text  # the first static output embeds plotly.js
    assert "application/vnd.jupyter.widget-view+json" not in bundles[0]
    for i in range(4):
        assert f"nb-run-{i}" in html_text
    import mlops_lab as ml

    assert sorted(ml.runs()["name"]) == [f"nb-run-{i}" for i in range(4)]
