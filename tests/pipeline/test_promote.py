from __future__ import annotations

import json

import nbformat
import pytest

import mlops_lab as ml
from mlops_lab.errors import InvalidArgumentError, PipelineError
from mlops_lab.pipeline.promote import choose_metric


@pytest.mark.parametrize(
    ("metrics", "metric", "mode", "expected"),
    [
        ({"acc": 0.9, "loss": 0.1}, None, "max", ("acc", "max")),
        ({"val_rmse": 2.0, "n": 3}, None, "max", ("val_rmse", "min")),
        ({"custom": 1.0}, None, "min", ("custom", "min")),
        ({"loss": 0.1, "acc": 0.9}, "loss", "min", ("loss", "min")),
    ],
)
def test_choose_metric(metrics, metric, mode, expected) -> None:
    assert choose_metric(metrics, metric, mode) == expected


def test_choose_metric_asks_when_ambiguous() -> None:
    with pytest.raises(InvalidArgumentError, match="name the one the gate compares"):
        choose_metric({"a": 1.0, "b": 2.0}, None, "max")
    with pytest.raises(InvalidArgumentError, match="was not logged"):
        choose_metric({"a": 1.0}, "b", "max")


def _train_in_shell(shell, train_csv) -> ml.Run:
    shell.run_cell("import numpy as np")  # before the run: not part of it
    shell.run_cell("%mlops start clf-train")
    shell.run_cell(
        "import pandas as pd\nfrom sklearn.linear_model import LogisticRegression\n"
        "%mlops param C=0.5 max_iter=100"
    )
    shell.run_cell(
        "df = pd.read_csv('data/train.csv')\n"
        "from mlops_lab.data.api import log_dataset\n"
        "log_dataset('data/train.csv', 'train')"
    )
    with pytest.raises(NameError):
        shell.run_cell("undefined_name")
    shell.run_cell(
        "model = LogisticRegression(C=C, max_iter=max_iter).fit(df[['x1', 'x2']], df['y'])\n"
        "ml.log_model(model)\n%mlops log acc=model.score(df[['x1', 'x2']], df['y'])"
    )
    shell.run_cell("%mlops runs")
    shell.run_cell("%mlops end")
    return ml.get_run("clf-train")


def test_promote_writes_notebook_spec_schema_readme(shell, train_csv, tmp_path) -> None:
    shell.run_cell("import mlops_lab as ml")
    run = _train_in_shell(shell, train_csv)
    spec = ml.promote(run, "clf")
    folder = tmp_path / "pipelines" / "clf"
    assert spec.folder == folder.resolve()
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "pipeline.json",
        "schema.json",
        "train.ipynb",
    ]
    data = json.loads((folder / "pipeline.json").read_text())
    assert data["params"] == {
        "C": {"type": "float", "default": 0.5},
        "max_iter": {"type": "int", "default": 100},
        "train_path": {"type": "path", "default": "data/train.csv", "dataset": "train"},
    }
    assert [s["name"] for s in data["steps"]] == [
        "validate",
        "train",
        "evaluate",
        "gate",
        "register",
    ]
    gate = data["steps"][3]
    assert (gate["metric"], gate["mode"], gate["otherwise"]) == ("acc", "max", "challenger")
    assert data["steps"][0] == {
        "name": "validate",
        "kind": "validate",
        "schema": "schema.json",
        "data": "train_path",
    }
    assert data["workdir"] == "../.."
    nb = nbformat.read(folder / "train.ipynb", as_version=4)
    sources = [c.source for c in nb.cells]
    params_cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert params_cell.source == "C = 0.5\nmax_iter = 100\ntrain_path = 'data/train.csv'"
    code = "\n".join(sources)
    assert "%mlops param C=C max_iter=max_iter" in code
    assert "pd.read_csv(train_path)" in code
    assert "log_dataset(train_path, 'train')" in code
    assert "undefined_name" not in code  # a failed cell
    assert "%mlops runs" not in code  # a display cell
    assert "import numpy" not in code  # it ran before the run started, and nothing uses it
    # the run's own lines stay: inside the pipeline's kernel they adopt the step's run
    assert sources[3] == "import mlops_lab as ml"  # above the run, used by it
    assert sources[4] == "%mlops start clf-train"
    assert sources[-1] == "%mlops end"
    assert sources[2] == "%load_ext mlops_lab"
    assert "pipeline run clf" in (folder / "README.md").read_text()


def test_promote_needs_a_model(shell) -> None:
    shell.run_cell("%mlops start nomodel")
    shell.run_cell("%mlops log acc=0.5")
    shell.run_cell("%mlops end")
    with pytest.raises(PipelineError, match="logged no model"):
        ml.promote("nomodel", "clf")


def test_promote_refuses_a_bad_name(shell) -> None:
    with pytest.raises(InvalidArgumentError, match="model name"):
        ml.promote(None, "a/b")
