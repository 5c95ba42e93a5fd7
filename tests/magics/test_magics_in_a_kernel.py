"""``%mlops`` lines in a real Jupyter kernel (papermill): expressions, variables, inert names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import mlops_lab as ml

pytestmark = pytest.mark.kernel


def python3_kernel() -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)
    return "python3"


def test_a_notebook_logs_expressions_and_runs_no_pasted_code(
    tmp_path: Path, store_root: Path
) -> None:
    import nbformat
    import papermill

    marker = tmp_path / "executed"
    evil = f"{{__import__('os').system('touch {marker}')}}"
    data = tmp_path / "my data.csv"
    data.write_text("a,b\n1,2\n3,4\n")
    cells = [
        "%load_ext mlops_lab",
        "import numpy as np\ny = np.array([1.0, 2.0]); p = np.array([1.0, 4.0])\n"
        f"train_path = {str(data)!r}",
        f'%mlops start "{evil.replace("{", "{{").replace("}", "}}")}"',
        "%mlops data train=$train_path",
        "%mlops log rmse=np.mean((y - p) ** 2) ** 0.5 ok=len(y) == 2 n=len(dict(a=1))",
        "run_id = ml_run = __import__('mlops_lab').active_run().run_id",
        "%mlops end",
        "%mlops show {run_id}",
        f"%mlops show {evil}",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    source = tmp_path / "magics.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(papermill.PapermillExecutionError) as failed:
        papermill.execute_notebook(
            str(source),
            str(tmp_path / "out.ipynb"),
            kernel_name=python3_kernel(),
            cwd=str(tmp_path),
            progress_bar=False,
        )
    assert failed.value.exec_count == 9  # the last cell: braces not doubled are refused
    assert not marker.exists()
    run = ml.get_run(evil)
    assert run.status == "finished"
    assert run.metrics == pytest.approx({"rmse": 2**0.5, "ok": 1.0, "n": 1.0})
    assert [d["name"] for d in run.datasets] == ["train"]
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    outputs = {
        c.source: "".join(o.get("text", "") + str(o.get("data", "")) for o in c.outputs)
        for c in out.cells
        if c.cell_type == "code"
    }
    assert run.run_id[:8] in outputs["%mlops show {run_id}"]
    assert "UsageError: %mlops does not evaluate {__import__" in outputs[f"%mlops show {evil}"]


def test_runs_limit_reaches_the_widget_of_a_live_front_end(
    tmp_path: Path, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With widgets on (a live front-end), ``%mlops runs --limit N`` shows N runs, not all."""
    import nbformat
    import papermill

    monkeypatch.setenv("MLOPS_LAB_WIDGETS", "1")
    monkeypatch.delenv("CI", raising=False)
    cells = [
        "%load_ext mlops_lab",
        "import mlops_lab as ml\nfor i in range(5):\n    with ml.start_run(f'r{i}'):\n"
        "        ml.log_metric('acc', i / 10)",
        "table = %mlops runs --limit 2 --sort 'metrics.acc desc'",
        "print(type(table).__name__, list(table.frame['name']))",
        "everything = %mlops runs\nprint(type(everything).__name__, len(everything.frame))",
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, tmp_path / "runs.ipynb")
    papermill.execute_notebook(
        str(tmp_path / "runs.ipynb"),
        str(tmp_path / "out.ipynb"),
        kernel_name=python3_kernel(),
        cwd=str(tmp_path),
        progress_bar=False,
    )
    out = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    printed = ["".join(o.get("text", "") for o in c.outputs) for c in out.cells]
    assert printed[3].strip() == "RunsTable ['r4', 'r3']"
    assert printed[4].strip() == "RunsTable 5"
