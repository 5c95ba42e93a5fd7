"""Notebooks in the shapes people write them, run in a real kernel, promoted and re-run.

Each notebook of ``tests/notebooks/realistic/`` is executed (papermill, or a
kernel client sending cell ids in a chosen order as JupyterLab does), its run
promoted, the pipeline run with a changed parameter, and the registered model
loaded and used to predict. The slice of each (which cells the promoted
notebook keeps) is asserted.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

import mlops_lab as ml
from mlops_lab.errors import PromotionError

CORPUS = Path(__file__).resolve().parents[1] / "notebooks" / "realistic"

pytestmark = pytest.mark.kernel


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    frame.columns = ["sepal_length", "sepal_width", "petal_length", "petal_width", "species"]
    frame["size"] = ["big" if v > 5.8 else "small" for v in frame["sepal_length"]]
    path = tmp_path / "data" / "iris.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def execute(name: str, tmp_path: Path, kernel: str) -> Path:
    import papermill

    source = tmp_path / f"{name}.ipynb"
    shutil.copy(CORPUS / f"{name}.ipynb", source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        if name == "failed_then_fixed":
            # papermill refuses errors even in cells tagged raises-exception; nbclient allows them
            from nbclient import NotebookClient

            nb = nbformat.read(source, as_version=4)
            client = NotebookClient(
                nb, kernel_name=kernel, resources={"metadata": {"path": str(tmp_path)}}
            )
            client.execute()
        else:
            papermill.execute_notebook(
                str(source),
                str(tmp_path / f"{name}.out.ipynb"),
                kernel_name=kernel,
                cwd=str(tmp_path),
                progress_bar=False,
            )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    return source


def run_in_order(source: Path, order: list[tuple[int, str | None]], cwd: Path) -> None:
    """Execute cells by index in ``order`` (optionally with new source), sending cell ids."""
    from jupyter_client.manager import start_new_kernel

    nb = nbformat.read(source, as_version=4)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(cwd))
    try:
        for index, new_source in order:
            cell = nb.cells[index]
            if new_source is not None:
                cell.source = new_source
            content = {
                "code": cell.source,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            }
            msg = kc.session.msg("execute_request", content, metadata={"cellId": cell.id})
            kc.shell_channel.send(msg)
            while True:
                reply = kc.get_shell_msg(timeout=120)
                if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                    break
            assert reply["content"]["status"] == "ok", (cell.source, reply["content"])
        nbformat.write(nb, source)  # the user saves the notebook
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
        del os.environ["MLOPS_LAB_NOTEBOOK"]


def promoted_code(name: str) -> list[str]:
    nb = nbformat.read(Path("pipelines") / name / "train.ipynb", as_version=4)
    return [
        c.source
        for c in nb.cells
        if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])
    ]


def check_pipeline(name: str, params: dict[str, Any], predict_columns: list[str]) -> None:
    import pandas as pd

    result = ml.run_pipeline(name, params, progress=False)
    assert result.run.status == "finished", result
    assert result.version is not None
    train = result.train_run
    assert train.parent_id == result.run.run_id
    for key, value in params.items():
        assert train.params[key] == value
    model = ml.load_model(result.version.ref)
    frame = pd.read_csv("data/iris.csv")
    frame["petal_area"] = frame["petal_length"] * frame["petal_width"]
    frame["petal_ratio"] = frame["petal_length"] / frame["petal_width"]
    frame["sepal_ratio"] = frame["sepal_length"] / frame["sepal_width"]
    frame["petal_length_sq"] = frame["petal_length"] ** 2
    frame["petal_width_sq"] = frame["petal_width"] ** 2
    predictions = model.predict(frame[predict_columns].head(5))
    assert len(predictions) == 5
    assert set(predictions) <= {0, 1, 2}


FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]

# notebook -> (run name, changed parameter, substrings of the kept cells in order, absent)
CASES: dict[str, tuple[str, dict[str, Any], list[str], list[str]]] = {
    "imports_above": (
        "iris-logreg",
        {"C": 0.5},
        [
            "import pandas as pd",
            "df = pd.read_csv(train_path)",
            "X_train, X_test",
            "%mlops start iris-logreg\n%mlops data train=$train_path",
            "%mlops param C=C max_iter=max_iter",
            "model = LogisticRegression",
            "%mlops end",
        ],
        ["df.head()", "df.describe()", "%mlops runs"],
    ),
    "helpers_and_class": (
        "helpers",
        {"C": 0.4},
        [
            "import pandas as pd",
            "SEED = 0",
            "class RatioFeatures",
            "df = pd.read_csv(",
            "def split(",
            "%mlops start helpers",
            "%mlops param C=C",
            "X_train, X_test, y_train, y_test = split(df)",
            "%mlops end",
        ],
        ["unused_helper"],
    ),
    "ruff_formatted": (
        "forest",
        {"n_estimators": 40},
        [
            "import mlops_lab as mlops",
            "df = pd.read_csv(",
            "run = mlops.start_run(\n",
            "mlops.log_params(",
            "RandomForestClassifier(",
            "mlops.end_run()",
        ],
        ["n_estimators = 20"],
    ),
    "with_block": (
        "with-block",
        {"C": 2.0},
        ["import pandas as pd", "df = pd.read_csv(", "with ml.start_run(\n"],
        ["plt.scatter", "C = 0.5"],
    ),
    "cell_magic_time": (
        "cell-run",
        {"C": 0.9},
        ["import pandas as pd", "%%time\ndf = pd.read_csv(", "%mlops param C=C"],
        [],
    ),
    "autolog_column_transformer": (
        "autolog-pipe",
        {"C": 0.2},
        [
            "from sklearn.compose import ColumnTransformer",
            "ml.autolog()",
            "df = pd.read_csv(",
            "%mlops start autolog-pipe",
            "%mlops param C=C",
            "pre = ColumnTransformer(",
            "%mlops end",
        ],
        [],
    ),
    "failed_then_fixed": (
        "fixed",
        {"C": 0.7},
        [
            "import pandas as pd",
            "df = pd.read_csv(",
            "%mlops start fixed",
            "%mlops param C=C",
            "fit(df[FEATURES], df['species'])",
            "%mlops end",
        ],
        ["missing.csv", "df['nope']", "value_counts", "print(df.shape)"],
    ),
    "mutations_global": (
        "mutated",
        {"C": 0.6},
        [
            "import pandas as pd",
            "df = pd.read_csv(",
            "df['petal_area'] =",
            "def configure():",
            "configure()",
            "df.loc[",
            "%mlops start mutated",
        ],
        [],
    ),
    "seeded_helpers": (
        "seeded",
        {"C": 0.5},
        ["np.random.seed(0)", "def scale_factor", "SCALE = 1.0", "df = pd.read_csv(", "X = noisy"],
        [],
    ),
    "star_import": (
        "starred",
        {"C": 0.5},
        ["from sklearn.linear_model import *", "df = pd.read_csv(", "%mlops start"],
        ["DecisionTreeClassifier"],
    ),
    "loop_mutation_del": (
        "looped",
        {"C": 0.5},
        ["df = pd.read_csv(", "for col in", "del df['size']", "EXTRA = ", "cols = FEATURES"],
        ["df.tail()"],
    ),
    "dataclass_config": (
        "configured",
        {"C": 0.5},
        ["from dataclasses import dataclass", "class Config", "df = pd.read_csv(", "cfg = Config"],
        [],
    ),
    "submodule_time_line": (
        "submodule",
        {"C": 0.5},
        ["import sklearn.linear_model", "df = pd.read_csv(", "%time model =", "ml.log_model"],
        [],
    ),
}


def _check_slice(code: list[str], expected: list[str], absent: list[str]) -> None:
    joined = "\n".join(code)
    positions = []
    for text in expected:
        index = next((i for i, c in enumerate(code) if text in c), None)
        assert index is not None, f"{text!r} not kept in:\n{joined}"
        positions.append(index)
    assert positions == sorted(positions), (expected, joined)
    for text in absent:
        assert text not in joined, f"{text!r} should have been dropped:\n{joined}"


@pytest.mark.parametrize("notebook", sorted(CASES))
def test_realistic_notebook_promotes_and_retrains(
    notebook: str, tmp_path: Path, iris_csv: Path, python3_kernel: str
) -> None:
    run_name, params, expected, absent = CASES[notebook]
    execute(notebook, tmp_path, python3_kernel)
    run = ml.get_run(run_name)
    assert run.status == "finished"
    metric = "acc"
    spec = ml.promote(run, notebook, metric=metric)
    code = promoted_code(notebook)
    _check_slice(code, expected, absent)
    declared = json.loads((spec.folder / "pipeline.json").read_text())["params"]
    assert set(params) <= set(declared)
    assert not {"X_path", "y_path"} & set(declared)  # autolog fingerprints are not parameters
    if notebook == "imports_above":
        assert declared["train_path"] == {
            "type": "path",
            "default": "data/iris.csv",
            "dataset": "train",
        }
    columns = FEATURES + (["size"] if notebook == "autolog_column_transformer" else [])
    if notebook == "helpers_and_class":
        columns = [*FEATURES, "petal_ratio", "sepal_ratio"]
    if notebook == "mutations_global":
        columns = [*FEATURES, "petal_area"]
    if notebook == "loop_mutation_del":
        columns = [*FEATURES, "petal_length_sq", "petal_width_sq"]
    verification = json.loads((spec.folder / "pipeline.json").read_text())["source"]["verification"]
    assert verification["status"] == "passed", verification
    check_pipeline(notebook, params, columns)


def test_re_executed_and_out_of_order_cells(tmp_path: Path, iris_csv: Path) -> None:
    source = tmp_path / "out_of_order.ipynb"
    shutil.copy(CORPUS / "out_of_order.ipynb", source)
    # imports, C = 0.1, load, imports again, C edited to 1.0 and re-run, then the run
    order = [(0, None), (1, None), (2, None), (0, None), (1, "C = 1.0"), (3, None), (4, None)]
    run_in_order(source, [*order, (5, None)], tmp_path)
    run = ml.get_run("reordered")
    assert run.params["C"] == 1.0
    ml.promote(run, "reordered", metric="acc")
    code = promoted_code("reordered")
    assert sum("import pandas as pd" in c for c in code) == 1  # re-run unchanged: kept once
    assert not any("C = 0.1" in c for c in code)
    _check_slice(code, ["import pandas", "df = pd.read_csv", "%mlops start"], ["C = 0.1"])
    params = json.loads(Path("pipelines/reordered/pipeline.json").read_text())["params"]
    assert params["C"]["default"] == 1.0
    check_pipeline("reordered", {"C": 0.3}, FEATURES)


def test_a_name_only_defined_in_a_deleted_cell_is_refused(tmp_path: Path, iris_csv: Path) -> None:
    source = tmp_path / "deleted_cell.ipynb"
    shutil.copy(CORPUS / "deleted_cell.ipynb", source)
    run_in_order(source, [(0, None), (1, None), (2, None), (3, None)], tmp_path)
    nb = nbformat.read(source, as_version=4)
    del nb.cells[2]  # the user deletes the cell and saves
    nbformat.write(nb, source)
    with pytest.raises(PromotionError) as info:
        ml.promote("deleted", "deleted", metric="acc")
    assert info.value.name == "max_iter"
    assert "'max_iter', used by cell [4]" in str(info.value)
    assert not Path("pipelines/deleted").exists()  # nothing written
