"""Forked kernels: a template process imports a Python kernel once; each kernel is a fork of it.

A fresh Python kernel spends most of its first second or two importing:
IPython and ipykernel as it starts, then the notebook's own first imports
(pandas, scikit-learn). A pipeline runs several notebooks and a sweep runs the
same notebook many times, each in a fresh kernel, so the same imports are paid
again and again. On Linux, :class:`KernelPool <.kernels.KernelPool>` starts its
Python kernels from a *template* instead (:mod:`._kernel_template`): a process
that imported ipykernel once, and, as notebooks ask for them, the modules each
notebook imports before anything else (:func:`leading_imports`). A kernel is a
``fork()`` of the template, which takes milliseconds and shares the imported
modules' memory.

Isolation stays exact: the template never runs notebook code, so each kernel
starts from the same state, a fresh process as before; what one notebook
changes (globals, module attributes, environment variables) dies with its
process. The child gets the environment, working folder and standard streams
the kernel would have been started with, its own session, and a freshly seeded
NumPy global generator (Python's ``random`` reseeds itself after a fork).

What differs from a kernel started from scratch:

- the modules a notebook imports first are already imported when its first
  cell runs, imported in the template's folder with the template's
  environment; only imports that come before any other statement are taken
  (``import``/``from`` lines, after the parameters cell and ``%load_ext
  mlops_lab``), and none that the notebook's folder could shadow; a template
  whose environment differs from this process's (other than mlops-lab's own
  per-run variables) is replaced;
- modules imported this way do not print their import-time warnings into the
  notebook.

``MLOPS_LAB_KERNEL_FORK=0`` turns forking off (kernels start from scratch, as
before). It is also off outside Linux, and for kernels whose command is not
``python -m ipykernel_launcher`` with this template's interpreter.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ..errors import InvalidArgumentError, PipelineError

FORK_ENV_VAR = "MLOPS_LAB_KERNEL_FORK"
# Set in each forked kernel: its template's socket, which a pool in that kernel (a
# notebook that runs pipelines) forks its own kernels from rather than start another.
TEMPLATE_ENV_VAR = "MLOPS_LAB_KERNEL_TEMPLATE"
# What jupyter_client and ipykernel set in every kernel's environment as it starts.
KERNEL_SET = frozenset(
    {
        "TERM",
        "CLICOLOR",
        "FORCE_COLOR",
        "CLICOLOR_FORCE",
        "PAGER",
        "GIT_PAGER",
        "MPLBACKEND",
        "PYDEVD_USE_FRAME_EVAL",
    }
)
SCRIPT = Path(__file__).with_name("_kernel_template.py")
# Variables that change from one execution to the next and that nothing reads at import
# (pytest sets PYTEST_CURRENT_TEST for every phase of every test).
PER_RUN_PREFIXES = ("MLOPS_LAB_", "JPY_")
PER_RUN_NAMES = frozenset({"PYTEST_CURRENT_TEST"})
LAUNCHER = ("-m", "ipykernel_launcher")
# Seconds a waited-for preload holds the background imports back for the fork that follows.
FORK_GRACE = 5.0
# Magics that change nothing an import depends on.
TRANSPARENT_LINES = frozenset({"%load_ext mlops_lab"})
# What a kernel that imports mlops_lab imports later (its lazily loaded parts), and the
# caches it fills on its first run, done once in the template. COMPANIONS are what nearly
# every such notebook uses (the magics, log_model); LATER_COMPANIONS what only a notebook
# that runs pipelines uses, imported in the background (papermill takes seconds).
COMPANIONS = MappingProxyType(
    {"mlops_lab": ("mlops_lab.magics", "mlops_lab.tracking.models", "skops.io")}
)
LATER_COMPANIONS = MappingProxyType({"mlops_lab": ("papermill", "mlops_lab.pipeline.kernels")})
WARM_CALLS = MappingProxyType({"mlops_lab": ("mlops_lab.tracking.capture:environment",)})


def enabled() -> bool:
    """Whether kernels are forked from a template (Linux, unless ``MLOPS_LAB_KERNEL_FORK=0``)."""
    raw = os.environ.get(FORK_ENV_VAR, "").strip().lower()
    if raw not in {"", "0", "1", "false", "true", "no", "yes", "off", "on"}:
        raise InvalidArgumentError(f"{FORK_ENV_VAR}={raw!r}: expected 0 or 1")
    if raw in {"0", "false", "no", "off"}:
        return False
    return sys.platform.startswith("linux") and hasattr(os, "fork")


def import_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The part of ``env`` a module could read as it is imported (all but per-run variables)."""
    return {
        k: v
        for k, v in env.items()
        if not k.startswith(PER_RUN_PREFIXES) and k not in PER_RUN_NAMES
    }


def same_imports(template_env: Mapping[str, str], env: Mapping[str, str]) -> bool:
    """Whether a kernel whose environment is ``env`` may use a template started with
    ``template_env`` (what ipykernel sets in a kernel aside)."""
    theirs, ours = import_environment(template_env), import_environment(env)
    return {k: v for k, v in theirs.items() if k not in KERNEL_SET} == {
        k: v for k, v in ours.items() if k not in KERNEL_SET
    }


# -- which imports a notebook starts with ---------------------------------------------------


def _cell_statements(source: str) -> list[ast.stmt] | None:
    """A code cell's statements, or None when it has a magic or shell line that matters."""
    lines = []
    for line in source.splitlines():
        stripped = line.strip()
        if stripped in TRANSPARENT_LINES:
            continue
        if stripped.startswith(("%", "!")):
            return None
        lines.append(line)
    try:
        return ast.parse("\n".join(lines)).body
    except SyntaxError:
        return None


def _only_assignments(statements: list[ast.stmt]) -> bool:
    """A parameters cell: names bound to literals, nothing run."""
    for stmt in statements:
        value = getattr(stmt, "value", None)
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue  # a docstring or a bare literal
        if not isinstance(stmt, (ast.Assign, ast.AnnAssign)) or value is None:
            return False
        try:
            ast.literal_eval(value)
        except ValueError:
            return False
    return True


def _shadowed(module: str, folder: Path) -> bool:
    top = module.split(".", 1)[0]
    return (folder / f"{top}.py").exists() or (folder / top).is_dir()


def leading_imports(notebook: Any, folder: str | os.PathLike[str]) -> tuple[str, ...]:
    """The modules ``notebook`` imports before it runs anything else, in order.

    ``notebook`` is an ``nbformat`` notebook. Cells tagged ``parameters`` or
    ``injected-parameters`` that only bind literals are passed over; the first
    statement that is not an absolute import (or ``%load_ext mlops_lab``) ends
    the list, and so does a module that ``folder`` (the notebook's working
    folder, first on its ``sys.path``) could shadow.
    """
    base = Path(folder)
    found: list[str] = []
    for cell in getattr(notebook, "cells", []):
        if cell.get("cell_type") != "code":
            continue
        statements = _cell_statements(str(cell.get("source", "")))
        if statements is None:
            break
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"parameters", "injected-parameters"} and _only_assignments(statements):
            continue
        for stmt in statements:
            if isinstance(stmt, ast.Import):
                names = [alias.name for alias in stmt.names]
            elif isinstance(stmt, ast.ImportFrom) and stmt.level == 0 and stmt.module:
                if stmt.module == "__future__":
                    continue
                names = [stmt.module]
            else:
                return tuple(dict.fromkeys(found))
            for name in names:
                if _shadowed(name, base):
                    return tuple(dict.fromkeys(found))
                found.append(name)
    return tuple(dict.fromkeys(found))


# -- the forked process, as subprocess.Popen shows one ----------------------------------------


class ForkedProcess:
    """A kernel forked by a template, with the parts of ``Popen`` jupyter_client uses.

    The template is its parent and reaps it; the exit status comes from the file
    the template writes. Signals go to the process itself (it leads its own
    session, so ``os.killpg`` on its pid reaches its children too).
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int, exit_file: Path) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._exit_file = exit_file

    def poll(self) -> int | None:
        if self.returncode is not None:
            return self.returncode
        if self._exit_file.exists():
            try:
                self.returncode = int(self._exit_file.read_text() or "-1")
            except (OSError, ValueError):
                self.returncode = -1
            self._exit_file.unlink(missing_ok=True)
            return self.returncode
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            # Gone, and its status not (yet) written: the template died with it.
            time.sleep(0.05)
            if not self._exit_file.exists():
                self.returncode = -1
            return self.poll()
        except PermissionError:  # the pid was reused by someone else's process
            self.returncode = -1
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while (code := self.poll()) is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired([str(self.pid)], timeout or 0)
            time.sleep(0.02)
        return code

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


# -- the template ------------------------------------------------------------------------------


def python_of(argv: list[str]) -> str | None:
    """The interpreter of a ``python -m ipykernel_launcher`` command, else None."""
    if len(argv) < 3 or tuple(argv[1:3]) != LAUNCHER:
        return None
    first = argv[0]
    version = sys.version_info
    if first in {"python", f"python{version[0]}", f"python{version[0]}.{version[1]}"}:
        return sys.executable  # what jupyter_client runs for these names
    return first


class KernelTemplate:
    """One template process (see :mod:`._kernel_template`) and the requests sent to it.

    Parameters
    ----------
    python
        The interpreter the kernels run (the template runs the same one).
    start_timeout
        Seconds to wait for the template to listen.
    """

    owned = True  # started (and stopped) by this process, or attached to (see attach)

    def __init__(self, python: str, *, start_timeout: float = 60) -> None:
        # A private folder for the socket and the children's exit files, removed at close.
        folder = tempfile.mkdtemp(prefix="mlops-template-")
        self.python = python
        self.socket_path = os.path.join(folder, "template")
        self.env = dict(os.environ)
        self._init_requests()
        self.pid = 0
        try:
            self.process: subprocess.Popen[bytes] | None = subprocess.Popen(
                [python, str(SCRIPT), self.socket_path],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                start_new_session=True,  # the terminal's Ctrl-C is not for it
                cwd=folder,
                env=self.env,
            )
        except OSError:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        deadline = time.monotonic() + start_timeout
        while not os.path.exists(self.socket_path):
            if self.process.poll() is not None:
                self.close()
                raise PipelineError(
                    f"the kernel template ({python}) exited with code "
                    f"{self.process.returncode} before it listened"
                )
            if time.monotonic() > deadline:
                self.close()
                raise PipelineError(
                    f"the kernel template ({python}) did not start in {start_timeout:g} s"
                )
            time.sleep(0.01)
        self.pid = self.process.pid

    @classmethod
    def attach(cls, socket_path: str, python: str) -> KernelTemplate | None:
        """The template listening at ``socket_path`` (another process's), when this
        process's kernels may be forked from it: same interpreter, same environment
        (:func:`same_imports`). None otherwise, or when it does not answer."""
        template = cls.__new__(cls)
        template.python, template.socket_path = python, socket_path
        template._init_requests()
        template.process, template.owned = None, False
        try:
            info = template._request({"op": "info"})
        except (OSError, ValueError, PipelineError):
            return None
        template.pid, template.env = int(info["pid"]), dict(info["env"])
        if info["python"] != python or not same_imports(template.env, os.environ):
            return None
        return template

    def _init_requests(self) -> None:
        self.preloaded: set[str] = set()  # modules asked for (a failed one is not asked again)
        self.called: set[str] = set()
        self._lock = threading.Lock()  # one request at a time: the template serves them in turn
        # Requests a kernel about to start waits for (forks, the imports it needs): while
        # any waits, and until the fork that follows a waited-for import, no background
        # import is sent.
        self._urgent = 0
        self._fork_due = 0.0  # monotonic time until which a fork is expected
        self._turn = threading.Condition()

    def alive(self) -> bool:
        if self.process is not None:
            return self.process.poll() is None
        try:
            os.kill(self.pid, 0)
        except OSError:
            return False
        return True

    def stale(self) -> bool:
        """Whether this process's environment changed since (per-run variables aside)."""
        if not self.owned:
            return not same_imports(self.env, os.environ)
        return import_environment(os.environ) != import_environment(self.env)

    def accepts(self, argv: list[str]) -> bool:
        return self.alive() and python_of(argv) == self.python

    def _request(
        self, message: dict[str, Any], fds: list[int] | None = None, *, urgent: bool = True
    ) -> dict[str, Any]:
        with self._turn:
            if urgent:
                self._urgent += 1
            else:
                while self._urgent or time.monotonic() < self._fork_due:
                    self._turn.wait(None if self._urgent else self._fork_due - time.monotonic())
        try:
            return self._send(message, fds)
        finally:
            if urgent:
                with self._turn:
                    self._urgent -= 1
                    self._turn.notify_all()

    def _send(self, message: dict[str, Any], fds: list[int] | None) -> dict[str, Any]:
        with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(self.socket_path)
            payload = json.dumps(message).encode() + b"\n"
            if fds:
                sent = socket.send_fds(conn, [payload], fds)
                if sent < len(payload):
                    # Only what is left: the template may have read it all, answered and
                    # closed already, and a send of nothing to a closed socket fails (EPIPE).
                    conn.sendall(payload[sent:])
            else:
                conn.sendall(payload)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(1 << 16)
                if not chunk:
                    raise PipelineError("the kernel template closed the connection")
                data += chunk
        reply: dict[str, Any] = json.loads(data)
        if "error" in reply:
            raise PipelineError(f"the kernel template refused a request: {reply['error']}")
        return reply

    def preload(self, modules: tuple[str, ...] | list[str], *, wait: bool = True) -> None:
        """Import ``modules`` in the template (once each), for the kernels forked after.

        With ``wait`` (a kernel about to start needs them), they are imported before
        this returns, ahead of any import in the background. Without, they are
        imported in the background, one at a time, each after any fork that waits.

        A module of :data:`COMPANIONS` brings the modules a kernel importing it loads
        later and the calls of :data:`WARM_CALLS` that fill its caches, with it; those
        of :data:`LATER_COMPANIONS` are always imported in the background, so that the
        next kernel does not wait for what it may not use.
        """
        own = [c for m in modules for c in (m, *COMPANIONS.get(m, ()))]
        own = [m for m in dict.fromkeys(own) if m not in self.preloaded]
        calls = [c for m in modules for c in WARM_CALLS.get(m, ()) if c not in self.called]
        if wait and (own or calls):
            self._request({"op": "preload", "modules": own, "calls": calls})
            self.preloaded.update(own)
            self.called.update(calls)
            own, calls = [], []
            with self._turn:  # the kernel that needed them is forked next
                self._fork_due = time.monotonic() + FORK_GRACE
        own += [
            c
            for m in modules
            for c in LATER_COMPANIONS.get(m, ())
            if c not in own and c not in self.preloaded
        ]
        if own or calls:  # nothing left to import starts no thread
            threading.Thread(
                target=self._preload_each,
                args=(own, calls),
                name="mlops-template-preload",
                daemon=True,  # an import left half done dies with the template
            ).start()

    def _preload_each(self, modules: list[str], calls: list[str]) -> None:
        try:
            for name in modules:
                if name not in self.preloaded:
                    self._request({"op": "preload", "modules": [name], "calls": []}, urgent=False)
                    self.preloaded.add(name)
            calls = [c for c in calls if c not in self.called]
            if calls:
                self.called.update(calls)
                self._request({"op": "preload", "modules": [], "calls": calls}, urgent=False)
        except (OSError, ValueError, PipelineError):  # the template stopped: nothing to warm
            pass

    def fork(self, argv: list[str], env: Mapping[str, str], cwd: str) -> ForkedProcess:
        """A kernel ``python -m ipykernel_launcher argv[3:]`` forked from the template."""
        # What Popen would hand the kernel: no stdin, this process's stdout and stderr.
        try:
            with open(os.devnull, "rb") as devnull:
                reply = self._request(
                    {"op": "fork", "argv": list(argv[3:]), "env": dict(env), "cwd": cwd},
                    [devnull.fileno(), 1, 2],
                )
        finally:
            with self._turn:
                self._fork_due = 0.0
                self._turn.notify_all()
        pid = int(reply["pid"])
        return ForkedProcess(pid, Path(f"{self.socket_path}.{pid}.exit"))

    def close(self) -> None:
        """Stop the template and remove its folder (the kernels forked from it are stopped
        by their managers).

        A template attached to is left running: its owner stops it.
        """
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(os.path.dirname(self.socket_path), ignore_errors=True)
