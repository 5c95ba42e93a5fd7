"""Warm kernels: a fresh pre-started kernel per notebook, isolation, no orphans, dead kernels.

Every test runs real notebooks in real kernels. Assertions are on what the
notebooks saw and on the pool's own counters, never on timings.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import mlops_lab as ml
from mlops_lab.errors import MlopsLabError, PipelineStepError
from mlops_lab.pipeline import Param, PipelineSpec, kernels
from mlops_lab.pipeline.sweep import sweep

pytestmark = pytest.mark.kernel

# Reads what an earlier notebook could have left behind, in the three places it could.
LEAK_CHECK = (
    "int('LEAK' in globals() or 'MLOPS_LAB_TEST_LEAK' in os.environ"
    " or hasattr(sys.modules['json'], 'mlops_leak'))"
)


def _notebook(path: Path, *cells: str, parameters: str = "x = 0") -> Path:
    nb = new_notebook(
        cells=[new_code_cell(parameters, metadata={"tags": ["parameters"]})]
        + [new_code_cell(c) for c in cells]
    )
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def _stdout(nb, index: int = -1) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].outputs if o.get("name") == "stdout")


def test_each_notebook_gets_a_fresh_kernel_and_the_next_one_starts_ahead(
    tmp_path: Path, python3_kernel: str
) -> None:
    notebook = _notebook(
        tmp_path / "leak.ipynb",
        "import os, sys, json\n"
        f"print('before', {LEAK_CHECK})\n"
        "if x == 1:\n"
        "    LEAK = 1\n"
        "    os.environ['MLOPS_LAB_TEST_LEAK'] = '1'\n"
        "    json.mlops_leak = 1\n"
        f"print('after', {LEAK_CHECK})",
    )
    with kernels.KernelPool(ahead=1) as pool:
        first = pool.execute_notebook(
            str(notebook), str(tmp_path / "1.ipynb"), parameters={"x": 1}, progress_bar=False
        )
        # Nothing had been started ahead of the first notebook; the next kernel was.
        assert (pool.stats.taken, pool.stats.taken_ahead) == (1, 0)
        assert pool.stats.started_ahead == 1
        assert pool.waiting("python3") == 1
        second = pool.execute_notebook(
            str(notebook), str(tmp_path / "2.ipynb"), parameters={"x": 2}, progress_bar=False
        )
        assert (pool.stats.taken, pool.stats.taken_ahead) == (2, 1)
        assert pool.stats.started == 3  # two used, one waiting for a third notebook
    # The first notebook did leak into its own kernel (the check can see a leak)...
    assert _stdout(first).split() == ["before", "0", "after", "1"]
    # ...and the second, in the kernel started ahead, saw none of it.
    assert _stdout(second).split() == ["before", "0", "after", "0"]
    # The silent statements before and after the cells left no trace in the notebook.
    counts = [c.execution_count for c in second.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))
    assert pool.running() == 0


def test_a_kernel_started_ahead_sees_the_folder_and_environment_of_when_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python3_kernel: str
) -> None:
    notebook = _notebook(
        tmp_path / "env.ipynb",
        "import os\n"
        "print(os.getcwd())\n"
        "print(os.environ.get('MLOPS_LAB_TEST_NEW'), os.environ.get('MLOPS_LAB_TEST_GONE'))",
    )
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("MLOPS_LAB_TEST_GONE", "stale")
    with kernels.KernelPool(ahead=1) as pool:
        pool._refill("python3")
        waiting = pool._waiting["python3"][0].result()  # started with the old environment
        assert waiting.env["MLOPS_LAB_TEST_GONE"] == "stale"
        monkeypatch.delenv("MLOPS_LAB_TEST_GONE")
        monkeypatch.setenv("MLOPS_LAB_TEST_NEW", "fresh")
        nb = pool.execute_notebook(
            str(notebook), str(tmp_path / "out.ipynb"), cwd=str(work), progress_bar=False
        )
        assert pool.stats.taken_ahead == 1
    assert _stdout(nb).splitlines() == [str(work), "fresh None"]


def test_a_kernel_started_before_pythonpath_changed_is_not_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, python3_kernel: str
) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "mlops_lab_test_extra.py").write_text("WHERE = 'extra'\n")
    notebook = _notebook(
        tmp_path / "path.ipynb", "import mlops_lab_test_extra\nprint(mlops_lab_test_extra.WHERE)"
    )
    with kernels.KernelPool(ahead=1) as pool:
        pool._refill("python3")
        pool._waiting["python3"][0].result()  # started without the extra folder
        paths = [str(extra), os.environ.get("PYTHONPATH", "")]
        monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
        nb = pool.execute_notebook(str(notebook), str(tmp_path / "o.ipynb"), progress_bar=False)
        assert (pool.stats.stale, pool.stats.taken_ahead) == (1, 0)
    assert _stdout(nb).split() == ["extra"]


def test_no_kernel_process_is_left_after_the_pool_closes(
    tmp_path: Path, python3_kernel: str
) -> None:
    notebook = _notebook(tmp_path / "n.ipynb", "print(x)")
    pool = kernels.KernelPool(ahead=2)
    with pool.kernel("python3") as kernel:
        used = kernel.km
        assert pool.waiting("python3") == 2  # started in the background while this one is out
    pool.execute_notebook(str(notebook), str(tmp_path / "o.ipynb"), progress_bar=False)
    waiting = [f.result() for f in pool._waiting["python3"]]
    pids = [k.km.provisioner.pid for k in waiting]
    assert all(psutil.pid_exists(pid) for pid in pids)
    pool.close()
    assert pool.running() == 0
    assert not used.is_alive() and not any(k.km.is_alive() for k in waiting)
    alive = [p for p in psutil.Process().children(recursive=True) if p.pid in pids]
    assert [p for p in alive if p.status() != psutil.STATUS_ZOMBIE] == []
    with pytest.raises(MlopsLabError, match="closed"):
        pool.take("python3")


def _worker_kernel_pids() -> list[int]:
    """In a sweep worker: the kernels its pool started ahead (picklable for spawn)."""
    pool = kernels.pool()
    return [f.result().km.provisioner.pid for f in pool._waiting.get("python3", ())]


def test_a_process_pool_worker_warms_its_pool_and_stops_it_when_it_exits(
    python3_kernel: str,
) -> None:
    from mlops_lab.pipeline import executors

    executor, close = executors.open_executor("processes", workers=1, kernel_name="python3")
    try:
        pids = executor.submit(_worker_kernel_pids).result(timeout=120)
        assert len(pids) == 1  # started by the worker's initializer, before any task
        assert psutil.pid_exists(pids[0])
    finally:
        assert close is not None
        close()
    survivors = [pid for pid in pids if psutil.pid_exists(pid)]
    assert [p for p in map(psutil.Process, survivors) if p.status() != psutil.STATUS_ZOMBIE] == []


# -- through pipelines and sweeps -----------------------------------------------------------

TRAIN = (
    "import os, sys, json\n"
    "import mlops_lab as ml\n"
    "from sklearn.linear_model import LogisticRegression\n"
    f"seen = {LEAK_CHECK}\n"
    "run = ml.start_run('clf-train')\n"
    "ml.log_model(LogisticRegression(C=C).fit([[0.0], [1.0], [0.1], [0.9]], [0, 1, 0, 1]))\n"
    "if n == 3:\n"
    "    os._exit(3)  # the kernel dies in the middle of the notebook\n"
    "if n == 1:\n"
    "    LEAK = 1\n"
    "    os.environ['MLOPS_LAB_TEST_LEAK'] = '1'\n"
    "    json.mlops_leak = 1\n"
    f"ml.log_metrics({{'acc': acc, 'seen_before': seen, 'seen_after': {LEAK_CHECK}}})\n"
    "ml.end_run()"
)


def _pipeline(tmp_path: Path) -> PipelineSpec:
    spec = PipelineSpec(
        name="clf",
        folder=tmp_path / "pipelines" / "clf",
        params={"C": Param("float", 1.0), "acc": Param("float", 0.5), "n": Param("int", 0)},
        steps=[
            {"name": "train", "kind": "notebook", "notebook": "train.ipynb", "model": "model"},
            {"name": "evaluate", "kind": "evaluate", "metric": "acc"},
            {"name": "gate", "kind": "gate", "metric": "acc", "mode": "max"},
            {"name": "register", "kind": "register", "model_name": "clf"},
        ],
    )
    spec.folder.mkdir(parents=True)
    _notebook(spec.folder / "train.ipynb", TRAIN, parameters="C = 1.0\nacc = 0.5\nn = 0")
    spec.save()
    return spec


def _train_metrics(result) -> dict[int, dict[str, float]]:
    out = {}
    for child in result.run.children:
        train = next(c for c in child.children if c.tags.get("mlops.step") == "train")
        out[int(child.params["n"])] = train.metrics
    return out


def test_a_sweep_combination_sees_nothing_an_earlier_one_left_in_its_kernel(
    tmp_path: Path, python3_kernel: str
) -> None:
    _pipeline(tmp_path)
    before = kernels.pool().stats.taken_ahead
    # One thread: the combinations run one after the other in this process's pool.
    with ThreadPoolExecutor(1) as executor:
        result = sweep("clf", {"n": [1, 2], "acc": [0.7]}, executor=executor, progress=False)
    assert result.run.status == "finished", str(result)
    metrics = _train_metrics(result)
    assert metrics[1]["seen_after"] == 1.0  # combination 1 leaked into its own kernel
    assert metrics[1]["seen_before"] == 0.0
    assert metrics[2]["seen_before"] == 0.0  # combination 2 did not see it
    assert metrics[2]["seen_after"] == 0.0
    assert kernels.pool().stats.taken_ahead - before >= 1  # a kernel started ahead was used


def test_a_kernel_that_dies_names_the_step_and_the_pool_recovers(
    tmp_path: Path, python3_kernel: str
) -> None:
    _pipeline(tmp_path)
    kernels.close_pool()  # this process's pool, fresh: its counters start at zero
    pool = kernels.pool()
    with pytest.raises(PipelineStepError) as info:
        ml.run_pipeline("clf", {"n": 3}, progress=False)
    message = str(info.value)
    assert info.value.step == "train"
    assert "train.ipynb died" in message and "exit code 3" in message
    # The dead kernel was found dead and stopped at once; the one started ahead waits.
    assert (pool.stats.dead, pool.stats.shut_down) == (1, 1)
    assert pool.waiting("python3") == 1
    runs = ml.runs()
    assert set(runs.loc[runs["name"] == "clf", "status"]) == {"failed"}
    # The next execution gets a healthy kernel from the same pool.
    result = ml.run_pipeline("clf", {"n": 2, "acc": 0.8}, progress=False)
    assert result.run.status == "finished"
    assert result.train_run is not None and result.train_run.metrics["acc"] == 0.8
    assert (pool.stats.taken, pool.stats.taken_ahead, pool.stats.dead) == (2, 1, 1)


def test_the_pool_refuses_a_bad_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(MlopsLabError, match="ahead"):
        kernels.KernelPool(ahead=-1)
    monkeypatch.setenv(kernels.AHEAD_ENV_VAR, "many")
    with pytest.raises(MlopsLabError, match="MLOPS_LAB_KERNELS_AHEAD='many'"):
        kernels.KernelPool()
    monkeypatch.setenv(kernels.AHEAD_ENV_VAR, "0")
    assert kernels.KernelPool().ahead == 0


def test_what_a_notebook_left_buffered_is_in_the_store_when_the_call_returns(
    tmp_path: Path, python3_kernel: str
) -> None:
    store = tmp_path / "store"
    notebook = _notebook(
        tmp_path / "open.ipynb",
        "import mlops_lab as ml\n"
        "run = ml.start_run('left-open')\n"
        "for step in range(50):\n"
        "    ml.log_metric('loss', 1 / (step + 1), step=step)",  # never ended, never flushed
    )
    os.environ["MLOPS_LAB_HOME"] = str(store)
    try:
        with kernels.KernelPool(ahead=0) as pool:
            pool.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), progress_bar=False)
            # The kernel is still shutting down in the background; its run is complete already.
            with ml.Project(store) as project:
                run = project.get_run("left-open")
                assert run.status == "finished"
                assert len(run.metric_history("loss")) == 50
    finally:
        del os.environ["MLOPS_LAB_HOME"]


CHATTER = """import threading, time

def chatter():
    while True:
        print(".", flush=True)
        time.sleep(0.02)

threading.Thread(target=chatter, daemon=True).start()
"""


def test_a_kernel_that_never_stops_printing_is_ready_for_a_new_client(python3_kernel: str) -> None:
    """jupyter_client's own wait reads IOPub until it has been silent for 0.2 s: it never
    returns while a kernel prints every 20 ms. A pool client is ready once the kernel
    has answered, and runs code."""
    import asyncio

    km = kernels.manager_class()(kernel_name=python3_kernel)
    km.start_kernel()

    async def scenario() -> dict:
        chatty = km.client()
        chatty.start_channels()
        await asyncio.wait_for(chatty.wait_for_ready(timeout=60), 90)
        chatty.execute(CHATTER)
        while True:  # until the chatter is on IOPub
            msg = await chatty.get_iopub_msg(timeout=30)
            if msg["msg_type"] == "stream":
                break
        chatty.stop_channels()
        kc = km.client()
        kc.start_channels()
        try:
            await asyncio.wait_for(kc.wait_for_ready(timeout=60), 60)
            return await kc.execute("x = 6 * 7", reply=True, timeout=30)
        finally:
            kc.stop_channels()

    try:
        reply = asyncio.run(scenario())
    finally:
        km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
