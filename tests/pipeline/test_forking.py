"""Forked kernels: what a notebook imports first, the template, and what each fork sees.

The kernel tests run real notebooks in kernels forked from a real template
process; assertions are on what the notebooks printed and on the pool's own
counters, never on timings.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from mlops_lab.errors import InvalidArgumentError
from mlops_lab.pipeline import forking, kernels


def _nb(*cells: str, parameters: str | None = "x = 0") -> nbformat.NotebookNode:
    head = [new_code_cell(parameters, metadata={"tags": ["parameters"]})] if parameters else []
    nb = new_notebook(cells=head + [new_code_cell(c) for c in cells])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _write(path: Path, *cells: str, parameters: str | None = "x = 0") -> Path:
    nbformat.write(_nb(*cells, parameters=parameters), path)
    return path


def _stdout(nb, index: int = -1) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].outputs if o.get("name") == "stdout")


# -- leading imports (no kernel) -----------------------------------------------------------------


def test_the_imports_a_notebook_starts_with_are_read_in_order(tmp_path: Path) -> None:
    nb = _nb(
        "%load_ext mlops_lab\nimport mlops_lab as ml\n\nfrom __future__ import annotations",
        "import numpy as np, json\nfrom sklearn.linear_model import LogisticRegression",
        "import pandas as pd\nX = 1\nimport scipy",
        "import yaml",
    )
    assert forking.leading_imports(nb, tmp_path) == (
        "mlops_lab",
        "numpy",
        "json",
        "sklearn.linear_model",
        "pandas",
    )


@pytest.mark.parametrize(
    "first",
    [
        "%env OMP_NUM_THREADS=1\nimport numpy",  # a magic may change what an import does
        "!pip install numpy\nimport numpy",
        "import os\nos.environ['OMP_NUM_THREADS'] = '1'\nimport numpy",
        "try:\n    import numpy\nexcept ImportError:\n    pass",
        "from . import local",
        "import numpy as np\ndef f(:",  # not Python: nothing is taken from it
    ],
)
def test_the_list_stops_at_the_first_statement_that_is_not_an_import(
    tmp_path: Path, first: str
) -> None:
    taken = forking.leading_imports(_nb(first, "import pandas"), tmp_path)
    assert "numpy" not in taken[1:] and "pandas" not in taken
    assert taken in {(), ("os",)}


def test_a_parameters_cell_is_passed_over_only_when_it_binds_literals(tmp_path: Path) -> None:
    literal = _nb("import json", parameters="C = 1.0\nname: str = 'a'\nsizes = [1, 2]")
    assert forking.leading_imports(literal, tmp_path) == ("json",)
    computed = _nb("import json", parameters="import os\nC = float(os.environ['C'])")
    assert forking.leading_imports(computed, tmp_path) == ("os",)


def test_a_module_the_notebooks_folder_could_shadow_is_not_taken(tmp_path: Path) -> None:
    (tmp_path / "features.py").write_text("X = 1\n")
    (tmp_path / "helpers").mkdir()
    nb = _nb("import json\nimport features\nimport numpy")
    assert forking.leading_imports(nb, tmp_path) == ("json",)
    nb = _nb("from helpers.io import read\nimport numpy")
    assert forking.leading_imports(nb, tmp_path) == ()


def test_fork_is_turned_off_by_its_variable_and_a_bad_value_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(forking.FORK_ENV_VAR, "0")
    assert not forking.enabled()
    assert not kernels.KernelPool(ahead=0).fork
    monkeypatch.setenv(forking.FORK_ENV_VAR, "sometimes")
    with pytest.raises(InvalidArgumentError, match="MLOPS_LAB_KERNEL_FORK='sometimes'"):
        forking.enabled()


def test_per_run_variables_do_not_count_as_a_changed_environment() -> None:
    env = {"OMP_NUM_THREADS": "1", "MLOPS_LAB_RUN_ID": "a", "JPY_PARENT_PID": "1"}
    later = {**env, "MLOPS_LAB_RUN_ID": "b", "PYTEST_CURRENT_TEST": "t.py::x (call)"}
    assert forking.import_environment(later) == {"OMP_NUM_THREADS": "1"}
    assert forking.same_imports(env, {**later, "TERM": "xterm-color"})
    assert not forking.same_imports(env, {**later, "OMP_NUM_THREADS": "2"})


def test_only_an_ipykernel_launcher_command_is_forked() -> None:
    import sys

    assert forking.python_of(["python", "-m", "ipykernel_launcher", "-f", "c.json"]) == (
        sys.executable
    )
    assert forking.python_of(["/opt/py/bin/python", "-m", "ipykernel_launcher"]) == (
        "/opt/py/bin/python"
    )
    assert forking.python_of(["python", "-m", "other_kernel", "-f", "c.json"]) is None
    assert forking.python_of(["R", "--slave"]) is None


# -- forked kernels ------------------------------------------------------------------------------


@pytest.mark.kernel
def test_forked_kernels_share_the_imports_and_nothing_else(
    tmp_path: Path, python3_kernel: str
) -> None:
    notebook = _write(
        tmp_path / "fork.ipynb",
        "import json\nimport numpy as np",
        "import os, sys\n"
        "print(int(hasattr(json, 'mlops_leak')), int('LEAK' in globals()),"
        " os.environ.get('MLOPS_LAB_TEST_STEP'), os.getcwd(), np.random.randint(2**31))\n"
        "json.mlops_leak = LEAK = 1\n"
        "os.environ['MLOPS_LAB_TEST_LEAK'] = '1'",
    )
    work = tmp_path / "work"
    work.mkdir()
    seen = []
    with kernels.KernelPool(ahead=1) as pool:
        for step in ("a", "b", "c"):
            os.environ["MLOPS_LAB_TEST_STEP"] = step
            try:
                nb = pool.execute_notebook(
                    str(notebook), str(tmp_path / f"out-{step}.ipynb"), cwd=str(work)
                )
            finally:
                os.environ.pop("MLOPS_LAB_TEST_STEP", None)
            seen.append(_stdout(nb).split())
        stats = pool.stats
    # Every kernel a notebook ran in was forked (one more may have started ahead).
    assert stats.forked >= stats.taken == 3 and stats.templates == 1
    # No attribute, global or variable from the notebook before; each its own step and folder.
    assert [s[:4] for s in seen] == [["0", "0", step, str(work)] for step in "abc"]
    # NumPy's global generator is seeded again in every fork: three different draws.
    assert len({s[4] for s in seen}) == 3
    assert "MLOPS_LAB_TEST_LEAK" not in os.environ


@pytest.mark.kernel
def test_a_forked_kernel_never_scans_the_templates_objects(
    tmp_path: Path, python3_kernel: str
) -> None:
    """The template freezes its objects before each fork: the kernel's collections skip
    them, and a notebook's own cycles are still collected."""
    notebook = _write(
        tmp_path / "gc.ipynb",
        "import gc\n"
        "class Node:\n"
        "    pass\n"
        "a, b = Node(), Node()\n"
        "a.other, b.other = b, a\n"
        "del a, b\n"
        "print(gc.get_freeze_count() > 1000, gc.collect() >= 2)",
    )
    with kernels.KernelPool(ahead=0) as pool:
        nb = pool.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(tmp_path))
        assert pool.stats.forked == 1
    assert _stdout(nb).split() == ["True", "True"]


@pytest.mark.kernel
def test_a_forked_kernel_waits_for_a_notebooks_own_thread_at_exit(
    tmp_path: Path, python3_kernel: str
) -> None:
    """As Python does at exit: a thread that is not a daemon finishes its work, and
    what the notebook registered with atexit runs, before the kernel is gone."""
    done = tmp_path / "done.txt"
    notebook = _write(
        tmp_path / "thread.ipynb",
        "import atexit, threading, time\n"
        f"path = {str(done)!r}\n"
        "def write():\n"
        "    time.sleep(1)\n"
        "    with open(path, 'w') as f:\n"
        "        f.write('thread')\n"
        "threading.Thread(target=write).start()\n"
        "atexit.register(lambda: open(path, 'a').write(' atexit'))",
    )
    with kernels.KernelPool(ahead=0, wait=True) as pool:
        pool.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(tmp_path))
        assert pool.stats.forked == 1
    assert done.read_text() == "thread atexit"


# A notebook whose stdout takes 0.5 s to flush in the kernel's control thread, which
# flushes it after each request, the shutdown request included; at exit, the notebook's
# atexit function writes whether the control thread is still running.
SLOW_CONTROL_FLUSH = """
import atexit, sys, threading, time
from ipykernel.kernelapp import IPKernelApp
control = IPKernelApp.instance().control_thread
class SlowControlFlush:
    def __init__(self, stream):
        self.stream = stream
    def write(self, text):
        return self.stream.write(text)
    def flush(self):
        if threading.current_thread() is control:
            time.sleep(0.5)
        return self.stream.flush()
    def __getattr__(self, name):
        return getattr(self.stream, name)
sys.stdout = SlowControlFlush(sys.stdout)
atexit.register(lambda: open(path, "w").write(f"control running: {control.is_alive()}"))
"""


@pytest.mark.kernel
def test_a_forked_kernel_lets_its_control_thread_finish_before_the_atexit_functions(
    tmp_path: Path, python3_kernel: str
) -> None:
    """A kernel asked to shut down lets its control thread finish the request (it
    flushes the output after answering) before the atexit functions run, and exits
    with code 0. ipykernel's close(), an atexit function, stops IOPub before it joins
    that thread: a flush still under way then waits 10 s for IOPub, until
    jupyter_client ends the kernel with SIGTERM after 2.5 s."""
    state = tmp_path / "state.txt"
    notebook = _write(tmp_path / "flush.ipynb", f"path = {str(state)!r}", SLOW_CONTROL_FLUSH)
    with kernels.KernelPool(ahead=0, wait=True) as pool:
        processes: list[forking.ForkedProcess] = []
        release = pool.release

        def keep(kernel: kernels.WarmKernel, **kw: object) -> None:
            processes.append(kernel.km.provisioner.process)  # cleared as it is stopped
            release(kernel, **kw)  # type: ignore[arg-type]

        pool.release = keep  # type: ignore[method-assign]
        pool.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"), cwd=str(tmp_path))
        assert pool.stats.forked == 1
    assert state.read_text() == "control running: False"
    assert [p.returncode for p in processes] == [0]


@pytest.mark.kernel
def test_a_fork_the_template_answers_at_once_is_not_lost(
    tmp_path: Path, python3_kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template may read a fork request, fork, answer and close the connection
    before the pool's thread runs again (a busy process): the kernel is the forked
    one, not a kernel started from scratch beside a forked one nobody uses."""
    send_fds = socket.send_fds

    def send_then_wait_for_the_close(sock: socket.socket, *args: object) -> int:
        sent = send_fds(sock, *args)  # type: ignore[arg-type]
        poller = select.poll()
        poller.register(sock, select.POLLRDHUP)
        poller.poll(30_000)  # the template has answered and closed its end
        return sent

    notebook = _write(tmp_path / "one.ipynb", "print('forked')")
    with kernels.KernelPool(ahead=0) as pool:
        monkeypatch.setattr(socket, "send_fds", send_then_wait_for_the_close)
        nb = pool.execute_notebook(str(notebook), str(tmp_path / "out.ipynb"))
        assert (pool.stats.forked, pool.stats.started) == (1, 1)
    assert _stdout(nb).strip() == "forked"


@pytest.mark.kernel
def test_a_changed_variable_replaces_the_template(tmp_path: Path, python3_kernel: str) -> None:
    notebook = _write(
        tmp_path / "env.ipynb", "import os\nprint(os.environ.get('TEST_TEMPLATE_VAR'))"
    )
    with kernels.KernelPool(ahead=0) as pool:
        os.environ["TEST_TEMPLATE_VAR"] = "one"
        try:
            first = pool.execute_notebook(str(notebook), str(tmp_path / "1.ipynb"))
            os.environ["TEST_TEMPLATE_VAR"] = "two"
            second = pool.execute_notebook(str(notebook), str(tmp_path / "2.ipynb"))
        finally:
            os.environ.pop("TEST_TEMPLATE_VAR", None)
        assert (pool.stats.templates, pool.stats.forked) == (2, 2)
    assert (_stdout(first).strip(), _stdout(second).strip()) == ("one", "two")


@pytest.mark.kernel
def test_a_killed_forked_kernel_reports_its_signal_and_nothing_is_left_running(
    tmp_path: Path, python3_kernel: str
) -> None:
    from nbclient.exceptions import DeadKernelError

    dies = _write(
        tmp_path / "dies.ipynb", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"
    )
    fine = _write(tmp_path / "fine.ipynb", "print('alive')")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    with kernels.KernelPool(ahead=1) as pool:
        with pytest.raises(DeadKernelError, match=r"dies\.ipynb died \(exit code -9\)"):
            pool.execute_notebook(str(dies), str(tmp_path / "out-dies.ipynb"))
        # The notebook as far as it ran is kept, though it is written only once at the end.
        partial = nbformat.read(tmp_path / "out-dies.ipynb", as_version=4)
        assert partial.cells[-1].metadata.papermill["start_time"] is not None
        assert _stdout(pool.execute_notebook(str(fine), str(tmp_path / "out.ipynb"))) == "alive\n"
        template = next(iter(pool._templates.values()))
        assert pool.stats.forked >= 2
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = {p.pid for p in psutil.Process().children(recursive=True)} - before
        left = {pid for pid in left if psutil.pid_exists(pid)}
        if not left:
            break
        time.sleep(0.1)
    assert not left
    assert template.process.poll() is not None


@pytest.mark.kernel
def test_a_fork_is_served_before_the_imports_in_the_background(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Background imports go one module at a time, each after any fork that waits: the
    kernel about to start never waits for modules another notebook may import later."""
    import sys
    import threading

    log, go = tmp_path / "log.txt", tmp_path / "go"
    for name in ("slow_a", "slow_b"):
        # Each import holds the template until the test lets it go (at most a minute).
        (tmp_path / f"{name}.py").write_text(
            "import os, time\n"
            f"open({str(log)!r}, 'a').write('{name} ')\n"
            "deadline = time.monotonic() + 60\n"
            f"while not os.path.exists({str(go)!r}) and time.monotonic() < deadline:\n"
            "    time.sleep(0.01)\n"
        )
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    template = forking.KernelTemplate(sys.executable)
    forked: list[tuple[int, list[str]]] = []

    def fork() -> None:
        child = template.fork([sys.executable, "-m", "ipykernel_launcher", "--help"], {}, "/")
        forked.append((child.pid, log.read_text().split()))

    try:
        template.preload(["slow_a", "slow_b"], wait=False)
        deadline = time.monotonic() + 120
        while not log.exists():  # the first background import has begun, and holds on
            assert time.monotonic() < deadline, "the background import never began"
            time.sleep(0.01)
        forking_thread = threading.Thread(target=fork)
        forking_thread.start()
        while not template._urgent:  # the fork waits for the template
            assert time.monotonic() < deadline, "the fork was never asked for"
            time.sleep(0.01)
        go.touch()  # slow_a finishes; the fork must come before slow_b
        forking_thread.join(120)
        assert forked, "the fork was never served"
        pid, served = forked[0]
        assert pid > 0
        while "slow_b" not in template.preloaded:  # and the rest follows the fork
            assert time.monotonic() < deadline, "the background imports never finished"
            time.sleep(0.05)
    finally:
        go.touch()
        template.close()
    assert served == ["slow_a"]
    assert log.read_text().split() == ["slow_a", "slow_b"]


@pytest.mark.kernel
def test_a_dead_template_is_replaced(tmp_path: Path, python3_kernel: str) -> None:
    notebook = _write(tmp_path / "n.ipynb", "print('ok')")
    with kernels.KernelPool(ahead=0) as pool:
        pool.execute_notebook(str(notebook), str(tmp_path / "1.ipynb"))
        template = next(iter(pool._templates.values()))
        os.kill(template.process.pid, signal.SIGKILL)
        template.process.wait()
        nb = pool.execute_notebook(str(notebook), str(tmp_path / "2.ipynb"))
        assert (pool.stats.templates, pool.stats.forked) == (2, 2)
    assert _stdout(nb) == "ok\n"


@pytest.mark.kernel
def test_a_cell_timeout_interrupts_a_forked_kernel(tmp_path: Path, python3_kernel: str) -> None:
    import papermill

    notebook = _write(
        tmp_path / "slow.ipynb",
        "import time\ntry:\n    time.sleep(60)\nexcept KeyboardInterrupt:\n    print('interrupted')\n    raise",
    )
    with kernels.KernelPool(ahead=0) as pool:
        with pytest.raises((papermill.PapermillExecutionError, TimeoutError)) as caught:
            pool.execute_notebook(
                str(notebook),
                str(tmp_path / "out.ipynb"),
                execution_timeout=3,
                interrupt_on_timeout=True,
            )
        assert pool.stats.forked == 1
    # The interrupt reached the forked kernel: its cell saw KeyboardInterrupt.
    assert "interrupted" in _stdout(nbformat.read(tmp_path / "out.ipynb", as_version=4))
    assert caught.value is not None


@pytest.mark.kernel
def test_a_pool_inside_a_forked_kernel_forks_from_the_same_template(
    tmp_path: Path, python3_kernel: str
) -> None:
    inner = _write(tmp_path / "inner.ipynb", "import json\nprint('inner', json.dumps(1))")
    outer = _write(
        tmp_path / "outer.ipynb",
        "from mlops_lab.pipeline import kernels",
        "with kernels.KernelPool(ahead=0) as pool:\n"
        f"    nb = pool.execute_notebook({str(inner)!r}, {str(tmp_path / 'inner-out.ipynb')!r})\n"
        "    s = pool.stats\n"
        "print(s.attached, s.templates, s.forked, nb.cells[-1].outputs[0]['text'].strip())",
        # Why a template would be refused, shown if the assertion below fails.
        "import json, os, socket, sys\n"
        "from mlops_lab.pipeline import forking\n"
        "with socket.socket(socket.AF_UNIX) as c:\n"
        "    c.connect(os.environ[forking.TEMPLATE_ENV_VAR])\n"
        '    c.sendall(b\'{"op": "info"}\\n\')\n'
        "    info = json.loads(c.makefile().readline())\n"
        "theirs = forking.import_environment(info['env'])\n"
        "ours = forking.import_environment(os.environ)\n"
        "print(info['python'] == sys.executable, sorted(\n"
        "    k for k in set(theirs) | set(ours)\n"
        "    if k not in forking.KERNEL_SET and theirs.get(k) != ours.get(k)))",
    )
    with kernels.KernelPool(ahead=0) as pool:
        nb = pool.execute_notebook(str(outer), str(tmp_path / "outer-out.ipynb"))
        assert (pool.stats.templates, pool.stats.forked) == (1, 1)
    why = _stdout(nb)
    assert _stdout(nb, -2).split() == ["1", "0", "1", "inner", "1"], why
    assert why.strip() == "True []"


@pytest.mark.kernel
def test_a_pool_in_a_kernel_whose_environment_changed_starts_its_own_template(
    tmp_path: Path, python3_kernel: str
) -> None:
    inner = _write(tmp_path / "inner.ipynb", "print('inner')")
    outer = _write(
        tmp_path / "outer.ipynb",
        "import os\nfrom mlops_lab.pipeline import kernels",
        "os.environ['OMP_NUM_THREADS'] = '1'\n"
        "with kernels.KernelPool(ahead=0) as pool:\n"
        f"    pool.execute_notebook({str(inner)!r}, {str(tmp_path / 'inner-out.ipynb')!r})\n"
        "    s = pool.stats\n"
        "print(s.attached, s.templates, s.forked)",
    )
    with kernels.KernelPool(ahead=0) as pool:
        nb = pool.execute_notebook(str(outer), str(tmp_path / "outer-out.ipynb"))
    assert _stdout(nb).split() == ["0", "1", "1"]


def _worker_template() -> tuple[int, int, int, str | None]:
    """In a sweep worker: how its pool started its first kernel (picklable for spawn)."""
    pool = kernels.pool()
    for future in pool._waiting.get("python3", ()):
        future.result()
    s = pool.stats
    return s.attached, s.templates, s.forked, os.environ.get(forking.TEMPLATE_ENV_VAR)


@pytest.mark.kernel
def test_the_workers_of_a_process_pool_fork_from_one_template(python3_kernel: str) -> None:
    from mlops_lab.pipeline import executors

    executor, close = executors.open_executor("processes", workers=2, kernel_name="python3")
    try:
        seen = [executor.submit(_worker_template).result(timeout=180) for _ in range(2)]
    finally:
        assert close is not None
        close()
    socket_path = kernels.pool().template_socket("python3")
    assert socket_path is not None
    for attached, templates, forked, path in seen:
        assert (attached, templates, path) == (1, 0, socket_path)
        assert forked >= 1


def _worker_modules() -> tuple[bool, bool, int]:
    """In a sweep worker: what it imported as it started, and whether nbformat validates."""
    import sys

    import nbformat as nbf

    nb = nbf.v4.new_notebook(cells=[nbf.v4.new_code_cell("1")])
    nbf.validate(nb)
    imported = all(m in sys.modules for m in ("papermill", "nbclient", "mlops_lab.pipeline.sweep"))
    return imported, sys.modules.get("rfc3987_syntax", 0) is None, len(nbf.writes(nb))


@pytest.mark.kernel
def test_a_worker_imports_what_its_combinations_need_as_it_starts(python3_kernel: str) -> None:
    from mlops_lab.pipeline import executors

    executor, close = executors.open_executor("processes", workers=1, kernel_name="python3")
    try:
        imported, skipped, size = executor.submit(_worker_modules).result(timeout=180)
    finally:
        assert close is not None
        close()
    # jsonschema's IRI grammars are never built in a worker; notebooks still validate.
    assert imported and skipped and size > 0
