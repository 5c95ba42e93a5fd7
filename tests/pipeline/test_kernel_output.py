"""What a user sees of the kernels a pipeline starts: no kernel log lines, a progress bar
that ends complete, and the message of a failing magic inside the train notebook."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest

import mlops_lab as ml
from mlops_lab.errors import PipelineStepError
from mlops_lab.pipeline.kernel import execute_notebook
from mlops_lab.pipeline.progress import Progress

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "pipeline_train.ipynb"


def _texts(nb: nbformat.NotebookNode) -> list[str]:
    """Every text a notebook's outputs carry: streams, plain text of displays, tracebacks."""
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            out.append(o.get("text", ""))
            out.append(str(o.get("data", {}).get("text/plain", "")))
            out.extend(o.get("traceback", []))
    return out


def _kept_notebooks(run: ml.Run) -> list[nbformat.NotebookNode]:
    store = ml.Store.open()
    return [
        nbformat.reads(store.blobs.read_bytes(a["digest"]).decode(), as_version=4)
        for a in run.artifacts
        if a["kind"] == "notebook"
    ]


@pytest.fixture
def promoted(tmp_path: Path, train_csv: Path, python3_kernel: str) -> ml.Run:
    source = tmp_path / "train.ipynb"
    shutil.copy(NOTEBOOK, source)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(source)
    try:
        execute_notebook(
            str(source),
            str(tmp_path / "train.out.ipynb"),
            kernel_name=python3_kernel,
            cwd=str(tmp_path),
            progress_bar=False,
        )
    finally:
        del os.environ["MLOPS_LAB_NOTEBOOK"]
    run = ml.get_run("clf-train")
    ml.promote(run, "clf", metric="acc")
    return run


@pytest.mark.kernel
def test_a_pipeline_run_and_its_kept_notebook_show_no_kernel_log_lines(
    promoted: ml.Run, capfd: pytest.CaptureFixture[str]
) -> None:
    result = ml.run_pipeline("clf", progress=False)
    assert result.run.status == "finished"
    out, err = capfd.readouterr()
    assert "IPKernelApp" not in out + err, err
    kept = _kept_notebooks(result.train_run)
    assert kept
    assert not [t for nb in kept for t in _texts(nb) if "IPKernelApp" in t]


@pytest.mark.kernel
def test_a_notebook_that_runs_pipelines_shows_a_complete_bar_and_no_kernel_lines(
    promoted: ml.Run, tmp_path: Path, python3_kernel: str, capfd: pytest.CaptureFixture[str]
) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext mlops_lab\nimport mlops_lab as ml"),
        nbformat.v4.new_code_cell("%mlops pipeline run clf"),
        nbformat.v4.new_code_cell("ml.run_pipeline('clf', {'C': 10.0})"),
    ]
    nbformat.write(nb, tmp_path / "user.ipynb")
    execute_notebook(
        str(tmp_path / "user.ipynb"),
        str(tmp_path / "user.out.ipynb"),
        kernel_name=python3_kernel,
        cwd=str(tmp_path),
        progress_bar=False,
    )
    executed = nbformat.read(tmp_path / "user.out.ipynb", as_version=4)
    assert not [t for t in _texts(executed) if "IPKernelApp" in t]
    for cell in executed.cells[1:]:
        bars = [
            o
            for o in cell.outputs
            if "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        # one widget, its saved text the final state (not the 0/5 it was displayed with)
        assert len(bars) == 1, cell.outputs
        text = bars[0]["data"]["text/plain"]
        assert text.startswith("clf: 100%") and "5/5" in text, text
        assert any("registered clf/" in t for t in _texts(nbformat.from_dict({"cells": [cell]})))
    out, err = capfd.readouterr()
    assert "IPKernelApp" not in out + err, err


@pytest.mark.kernel
def test_a_failing_magic_in_the_train_notebook_shows_its_message_and_cell(
    promoted: ml.Run, tmp_path: Path
) -> None:
    train = tmp_path / "pipelines" / "clf" / "train.ipynb"
    nb = nbformat.read(train, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("%mlops log --nosuchflag 1"))
    nbformat.write(nb, train)
    with pytest.raises(PipelineStepError) as info:
        ml.run_pipeline("clf", progress=False)
    err = info.value
    assert err.step == "train"
    assert err.error.startswith("UsageError:"), err.error
    assert "--nosuchflag" in err.error
    assert "%mlops log --nosuchflag 1" in str(err)  # the failing cell's source
    assert "nothing was registered" in str(err)


def test_a_terminal_shows_a_text_bar_that_ends_complete(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bar = Progress(total=3, desc="clf", unit="step")
    for step in ("validate", "train", "gate"):
        bar.describe(f"clf: {step}")
        bar.update(1)
    bar.describe("clf")
    bar.close()
    err = capsys.readouterr().err
    assert err.rstrip().rsplit("\r", 1)[-1].startswith("clf: 100%")
    assert "3/3" in err


def test_no_bar_when_progress_is_off(capsys: pytest.CaptureFixture[str]) -> None:
    bar = Progress(total=3, desc="clf", enabled=False)
    bar.update(3)
    bar.close()
    assert capsys.readouterr() == ("", "")


WATCHER = """
import signal, subprocess, sys, time
subprocess.Popen([sys.executable, "-c", '''
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: open(sys.argv[1], "a").write("SIGINT\\\\n"))
open(sys.argv[1], "a").write("ready\\\\n")
time.sleep(8)
''', {path!r}])
"""


def _interrupts_seen_at_shutdown(manager_class: type, tmp_path: Path) -> list[str]:
    """Start a kernel, give it a child in its process group that records SIGINTs, shut down."""
    import asyncio
    import time

    from mlops_lab.pipeline.kernels import kernel_config

    record = tmp_path / f"{manager_class.__name__}.log"

    async def run() -> None:
        km = manager_class(kernel_name="python3", config=kernel_config(str(tmp_path)))
        await km.start_kernel(cwd=str(tmp_path))
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=60)
            await kc.execute_interactive(WATCHER.format(path=str(record)), timeout=60)
            for _ in range(100):
                if record.is_file() and "ready" in record.read_text():
                    break
                time.sleep(0.1)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel()

    asyncio.run(run())
    time.sleep(0.5)
    return [line for line in record.read_text().splitlines() if line != "ready"]


@pytest.mark.kernel
def test_the_pipeline_kernel_is_shut_down_without_an_interrupt(
    tmp_path: Path, python3_kernel: str
) -> None:
    from jupyter_client.manager import AsyncKernelManager

    from mlops_lab.pipeline.kernel import kernel_manager_class

    # jupyter_client's own manager interrupts first (what made a busy kernel log
    # "KeyboardInterrupt caught in kernel"); the pipeline's does not.
    assert _interrupts_seen_at_shutdown(AsyncKernelManager, tmp_path) == ["SIGINT"]
    assert _interrupts_seen_at_shutdown(kernel_manager_class(), tmp_path) == []
