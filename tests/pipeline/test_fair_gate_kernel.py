"""In a real kernel: a notebook that reports an inflated metric is judged on the library's score."""

from __future__ import annotations

import os

import nbformat
import nbformat.v4 as nbf
import pytest

import mlops_lab as ml

pytestmark = pytest.mark.kernel

CELLS = [
    "%load_ext mlops_lab\nimport mlops_lab as ml",
    "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression",
    "%mlops start boast",
    "%mlops param C=1.0 train_path='data/train.csv'",
    "df = pd.read_csv(train_path)\n"
    "model = LogisticRegression(C=C).fit(df[['x1', 'x2']], df['y'])\n"
    "ml.log_model(model, input_example=df[['x1', 'x2']].head())",
    "%mlops log acc=0.99",  # what the notebook says about itself, whatever C is
    "%mlops end",
]


def test_an_inflated_metric_in_a_real_kernel_is_not_believed(
    tmp_path, train_csv, store_root, python3_kernel
) -> None:
    import papermill

    source = tmp_path / "boast.ipynb"
    nb = nbf.new_notebook(cells=[nbf.new_code_cell(c) for c in CELLS])
    nb.metadata["kernelspec"] = {
        "name": python3_kernel,
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        papermill.execute_notebook(
            str(source), str(tmp_path / "out.ipynb"), cwd=str(tmp_path), progress_bar=False
        )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    evaluation = {"target": "y", "holdout": {"fraction": 0.3, "seed": 0, "from": "train_path"}}
    ml.promote("boast", "boast", metric="accuracy", evaluation=evaluation, verify=False)
    good = ml.run_pipeline("boast", progress=False)
    assert good.decision.decision == "champion"
    # nearly no regularisation headroom: C tiny makes a model that predicts one class
    bad = ml.run_pipeline("boast", {"C": 1e-6}, progress=False)
    assert bad.train_run.metrics["acc"] == 0.99  # the notebook still boasts
    assert bad.decision.decision == "challenger"
    assert bad.decision.candidate < good.decision.candidate
    assert bad.decision.champion == pytest.approx(good.decision.candidate)  # same held-out rows
    assert bad.decision.dataset == good.decision.dataset
    assert ml.get_model_version("boast@champion").version == 1
