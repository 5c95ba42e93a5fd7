"""Warm kernels: a pool of pre-started Jupyter kernels, one fresh kernel per notebook.

Starting a kernel (a Python process importing IPython and ipykernel) costs a
second or more on every notebook a pipeline step, a sweep combination or a
promotion's verification executes. :class:`KernelPool` starts kernels ahead,
in a background thread: each execution takes a kernel that has never run any
code, and the next one starts while that execution runs. A used kernel is
shut down, never reused, so one notebook cannot see what another left behind
(globals, imported modules, environment variables).

A kernel started ahead cannot know where and with which environment it will
run, so just before the notebook's first cell the pool runs one silent
statement in it (no execution count, no history, no output): it changes to
the notebook's working folder and sets the environment variables that
changed in this process since the kernel started (the pipeline's run ids),
removing those that were unset. The notebook then sees what a kernel started
at that moment would have seen. ``PYTHONPATH`` and the other ``PYTHON*``
variables are read only as an interpreter starts: a kernel started before one
of them changed is stopped unused, and a new one started.

Kernels are the quiet IPC kernels of :mod:`.kernel`. :func:`pool` is the
process's pool (one per process: a sweep worker, a Dask worker, a notebook
kernel that runs pipelines); it is closed at exit, and ``with KernelPool()``
closes its own. ``MLOPS_LAB_KERNELS_AHEAD`` sets how many kernels each pool
keeps started ahead per kernel name (default 1; 0 starts each on demand).
"""

from __future__ import annotations

import collections
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidArgumentError, PipelineError
from ..project import discard_process_resource, peek_process_resource, process_resource
from . import forking

AHEAD_ENV_VAR = "MLOPS_LAB_KERNELS_AHEAD"
ENGINE = "mlops-lab-warm"
# What nbclient passes to a kernel it starts itself: IPython history in memory only.
KERNEL_ARGUMENTS = ("--HistoryManager.hist_file=:memory:",)
# Run silently after the last cell: what mlops-lab's projects write at a kernel's exit
# (buffered metrics, runs left open, the git dirty flag), written now; at the exit it
# finds nothing left to do.
EPILOGUE = (
    "(lambda m: m is not None and m.close_all_projects())"
    "(__import__('sys').modules.get('mlops_lab.project'))"
)


def kernel_config(socket_dir: str) -> Any:
    """The traitlets config of a kernel listening on Unix sockets in ``socket_dir``."""
    from traitlets.config import Config

    config = Config()
    if os.name != "nt":
        config.KernelManager.transport = "ipc"
        # An absolute path: the kernel (in the notebook's cwd) and this process must agree.
        config.KernelManager.ip = os.path.join(socket_dir, "kernel")
    return config


def manager_class() -> type:
    """A blocking ``KernelManager`` (started and stopped from any thread) for nbclient.

    Its clients are asynchronous, as nbclient expects; like :mod:`.kernel`'s
    manager it does not interrupt a kernel it shuts down, and it notices a
    kernel's exit every 20 ms rather than every 100 ms.
    """
    made = peek_process_resource("pipeline.kernels.manager_class")
    if made is None:
        from jupyter_client.asynchronous import AsyncKernelClient
        from jupyter_client.manager import KernelManager
        from traitlets import default

        class ReadyKernelClient(AsyncKernelClient):  # type: ignore[misc]
            """nbclient's asynchronous client, ready once its kernel is (:func:`wait_ready`)."""

            async def wait_for_ready(self, timeout: float | None = None) -> None:
                await wait_ready(self, timeout)

        class WarmKernelManager(KernelManager):  # type: ignore[misc]
            """A kernel manager whose clients are asynchronous (nbclient's)."""

            client_class = "jupyter_client.asynchronous.AsyncKernelClient"

            @default("client_factory")
            def _client_factory_default(self) -> type:
                return ReadyKernelClient

            async def _async_interrupt_kernel(self) -> None:
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

            async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: Any) -> None:
                # A Python kernel is forked from the pool's template when it has one.
                template_for: Any = getattr(self, "template_for", None)
                python = forking.python_of(kernel_cmd) if template_for is not None else None
                template = template_for(python) if python is not None else None
                if template is not None:
                    cwd = str(kw.get("cwd") or os.getcwd())
                    env = dict(kw.get("env") or os.environ)
                    if not kw.get("independent"):
                        env["JPY_PARENT_PID"] = str(os.getpid())  # as jupyter_client's launcher
                    env[forking.TEMPLATE_ENV_VAR] = template.socket_path
                    try:
                        process = template.fork(kernel_cmd, env, cwd)
                    except (OSError, ValueError, PipelineError):
                        process = None  # start it the ordinary way
                    if process is not None:
                        provisioner: Any = self.provisioner
                        provisioner.process = process
                        provisioner.pid = provisioner.pgid = process.pid
                        provisioner.cwd = cwd
                        self._reconcile_connection_info(provisioner.connection_info)
                        self.forked = True
                        return
                await super()._async_launch_kernel(kernel_cmd, **kw)

            async def _async_finish_shutdown(
                self,
                waittime: float | None = None,
                pollinterval: float = 0.02,
                restart: bool = False,
            ) -> None:
                await super()._async_finish_shutdown(waittime, pollinterval, restart)

        made = process_resource("pipeline.kernels.manager_class", lambda: WarmKernelManager)
    return made  # type: ignore[no-any-return]


IDLE_WAIT_S = 0.25  # for the idle status of a kernel_info request, once its reply came


async def wait_ready(kc: Any, timeout: float | None = None) -> None:
    """Wait until ``kc``'s kernel is ready: it has replied to a ``kernel_info`` request
    on shell, and its IOPub has sent that request's ``idle`` status.

    That status proves IOPub connected, and that nothing of the request is left to
    come. jupyter_client's own wait then reads IOPub until it has been silent for
    0.2 s, at the start of every notebook (and without end while a kernel keeps
    printing); this one returns when the status arrives. A kernel that sends no
    status is ready once any IOPub message has come, as jupyter_client has it. When
    none comes (a subscription that connected late drops them), the request is sent
    again, as jupyter_client sends it again.
    """
    import time
    from queue import Empty

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)

    def answers(msg: dict[str, Any], msg_id: str) -> bool:
        return bool(msg.get("parent_header", {}).get("msg_id") == msg_id)

    async def reply_to(msg_id: str, within: float) -> Any:
        """The kernel_info reply to ``msg_id`` (older replies are skipped), or None."""
        until = time.monotonic() + within
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await kc.get_shell_msg(timeout=left)
            except Empty:
                return None
            if msg.get("msg_type") == "kernel_info_reply" and answers(msg, msg_id):
                return msg
        return None

    async def iopub_connected(msg_id: str) -> bool:
        """Whether IOPub delivers: the request's idle status came, or (a kernel that
        sends none) another message did within :data:`IDLE_WAIT_S`."""
        until = time.monotonic() + IDLE_WAIT_S
        seen = False
        while (left := until - time.monotonic()) > 0:
            try:
                msg = await kc.get_iopub_msg(timeout=left)
            except Empty:
                break
            seen = True
            if (
                msg.get("msg_type") == "status"
                and msg.get("content", {}).get("execution_state") == "idle"
                and answers(msg, msg_id)
            ):
                return True
        return seen

    while True:
        msg_id = kc.kernel_info()
        reply = await reply_to(msg_id, min(1.0, max(0.0, deadline - time.monotonic())))
        if reply is not None and await iopub_connected(msg_id):
            kc._handle_kernel_info_reply(reply)
            return
        if not await kc.is_alive():
            raise RuntimeError("Kernel died before replying to kernel_info")
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")


def default_ahead() -> int:
    """``MLOPS_LAB_KERNELS_AHEAD`` (kernels started ahead per kernel name), default 1."""
    raw = os.environ.get(AHEAD_ENV_VAR, "").strip()
    if not raw:
        return 1
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidArgumentError(
            f"{AHEAD_ENV_VAR}={raw!r}: expected a whole number >= 0 (kernels started ahead)"
        )
    return value


@dataclass
class WarmKernel:
    """One started kernel: its manager, the environment it started with, its socket folder."""

    name: str
    km: Any
    env: dict[str, str]
    sockets: str
    spec_env: frozenset[str] = frozenset()
    stopped: bool = False
    forked: bool = False  # forked from the pool's template (see :mod:`.forking`)

    def alive(self) -> bool:
        try:
            return bool(self.km.is_alive())
        except Exception:  # a manager whose kernel never started
            return False

    def exit_code(self) -> int | None:
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        return getattr(process, "returncode", None)

    def stale(self) -> bool:
        """Whether a ``PYTHON*`` variable changed since it started (read only at start).

        For a forked kernel, whose modules the template imported, any variable but
        mlops-lab's per-run ones.
        """
        now = _environ()
        if self.forked:
            return forking.import_environment(now) != forking.import_environment(self.env)
        keys = {k for k in (*now, *self.env) if k.startswith("PYTHON")}
        return any(now.get(k) != self.env.get(k) for k in keys)

    def prelude(self, cwd: str) -> str:
        """One Python statement: ``cwd`` and this process's environment, as of now."""
        now = _environ()
        changed = {k: v for k, v in now.items() if self.env.get(k) != v and k not in self.spec_env}
        removed = sorted(k for k in self.env if k not in now and k not in self.spec_env)
        # A single expression: it leaves no name behind in the notebook's namespace.
        return (
            f"(lambda os: (os.chdir({cwd!r}), os.environ.update({changed!r}), "
            f"[os.environ.pop(k, None) for k in {removed!r}]))(__import__('os'))"
        )


@dataclass
class PoolStats:
    """What a pool did: its own counters (tests assert on these, never on timings)."""

    started: int = 0  # kernels started, on demand or ahead
    started_ahead: int = 0  # of which in the background, before an execution asked
    taken: int = 0  # kernels handed to an execution
    taken_ahead: int = 0  # of which had been started ahead
    shut_down: int = 0  # kernels stopped (used ones, and unused ones at close)
    dead: int = 0  # kernels found dead (during an execution or before one)
    stale: int = 0  # kernels started ahead with PYTHON* variables that changed since
    forked: int = 0  # kernels forked from a template rather than started from scratch
    templates: int = 0  # template processes started
    attached: int = 0  # templates of another process (this one's kernel's) forked from
    by_name: dict[str, int] = field(default_factory=dict)  # started per kernel name


def _environ() -> dict[str, str]:
    # Another thread may set a variable while this one copies: retry.
    for _ in range(5):
        try:
            return dict(os.environ)
        except RuntimeError:
            continue
    return dict(os.environ)


class KernelPool:
    """Pre-started kernels: :meth:`take` a fresh one, :meth:`release` shuts it down.

    Parameters
    ----------
    ahead
        Kernels kept started ahead per kernel name (default:
        ``MLOPS_LAB_KERNELS_AHEAD``, else 1). 0 starts each kernel on demand.
    wait
        Wait for a used kernel's process to exit before returning from an
        execution (as papermill does); by default it exits in the background.
    start_timeout
        Seconds to wait for a kernel process to start.

    Examples
    --------
    >>> with KernelPool() as kernels:                        # doctest: +SKIP
    ...     kernels.execute_notebook("train.ipynb", "out.ipynb", parameters={"C": 1.0})
    """

    def __init__(
        self, *, ahead: int | None = None, wait: bool = False, start_timeout: float = 60
    ) -> None:
        if ahead is None:
            ahead = default_ahead()
        if not isinstance(ahead, int) or isinstance(ahead, bool) or ahead < 0:
            raise InvalidArgumentError(f"ahead: expected a whole number >= 0, got {ahead!r}")
        self.ahead = ahead
        self.start_timeout = start_timeout
        self.stats = PoolStats()
        self._lock = threading.Lock()
        self._waiting: dict[str, collections.deque[Future[WarmKernel]]] = {}
        self._leased: set[int] = set()
        self._live: dict[int, WarmKernel] = {}  # every kernel started and not yet stopped
        self._starter: ThreadPoolExecutor | None = None
        self._stopper: ThreadPoolExecutor | None = None
        self._stopping: set[Future[None]] = set()
        self.wait = wait
        self._closed = False
        self.fork = forking.enabled()
        self._templates: dict[str, forking.KernelTemplate] = {}
        self._template_lock = threading.Lock()
        self._argv: dict[str, list[str]] = {}  # kernel name: its spec's command

    # -- kernels ------------------------------------------------------------------------

    def _start(self, name: str, *, ahead: bool) -> WarmKernel:
        if self._closed:  # a kernel asked for ahead as the pool closed
            raise PipelineError("the kernel pool is closed")
        sockets = tempfile.mkdtemp(prefix="mlops-kernel-")
        km = manager_class()(kernel_name=name, config=kernel_config(sockets))
        if self.fork:
            km.template_for = self._template_for
        env = _environ()
        try:
            spec_env = frozenset((km.kernel_spec.env or {}).keys())
            # The kernel changes folder before the notebook runs; start it somewhere stable.
            km.start_kernel(
                extra_arguments=list(KERNEL_ARGUMENTS), env=env, cwd=tempfile.gettempdir()
            )
        except BaseException:
            shutil.rmtree(sockets, ignore_errors=True)
            raise
        kernel = WarmKernel(name, km, env, sockets, spec_env, forked=bool(getattr(km, "forked", 0)))
        with self._lock:
            self.stats.started += 1
            self.stats.forked += int(kernel.forked)
            self.stats.started_ahead += int(ahead)
            self.stats.by_name[name] = self.stats.by_name.get(name, 0) + 1
            self._live[id(kernel)] = kernel
            closed = self._closed
        if closed:  # the pool closed while this one started: stop it at once
            self._stop(kernel, now=True)
            raise PipelineError("the kernel pool is closed")
        return kernel

    def _refill(self, name: str) -> None:
        """Start kernels in the background until ``ahead`` of them wait for ``name``."""
        with self._lock:
            if self._closed:
                return
            waiting = self._waiting.setdefault(name, collections.deque())
            while len(waiting) < self.ahead:
                waiting.append(self._starter_pool().submit(self._start, name, ahead=True))

    def waiting(self, name: str) -> int:
        """Kernels started (or starting) ahead for ``name``, not yet taken."""
        with self._lock:
            return len(self._waiting.get(name, ()))

    def running(self) -> int:
        """Kernels this pool started that have not been stopped (taken or waiting)."""
        with self._lock:
            return len(self._live)

    def _template_for(self, python: str) -> forking.KernelTemplate | None:
        """The live template for ``python`` (started, or replaced when stale), or None."""
        with self._template_lock:
            if self._closed:
                return None
            template = self._templates.get(python)
            if template is not None and (not template.alive() or template.stale()):
                template.close()
                template = None
            if template is None and os.environ.get(forking.TEMPLATE_ENV_VAR):
                # In a kernel forked from another pool's template: fork from it too.
                template = forking.KernelTemplate.attach(
                    os.environ[forking.TEMPLATE_ENV_VAR], python
                )
                if template is not None:
                    self._templates[python] = template
                    with self._lock:
                        self.stats.attached += 1
                    return template
            if template is None:
                try:
                    template = forking.KernelTemplate(python, start_timeout=self.start_timeout)
                except (OSError, PipelineError):
                    self.fork = False  # start kernels the ordinary way from now on
                    return None
                self._templates[python] = template
                with self._lock:
                    self.stats.templates += 1
            return template

    def preload(
        self, notebook: Any, cwd: str, name: str | None = None, *, wait: bool = False
    ) -> None:
        """Have the template import what ``notebook`` imports first, in the background.

        ``notebook`` is a path or an ``nbformat`` notebook, to be run in folder ``cwd``
        with kernel ``name`` (by default the one it names); with ``wait``, return once
        the template has imported them. :meth:`execute_notebook` does this for its
        notebook; call it ahead for notebooks that run later. Nothing happens when
        kernels are not forked (see :mod:`.forking`).
        """
        if not self.fork:
            return
        if isinstance(notebook, (str, os.PathLike)):
            notebook = read_notebook(os.fspath(notebook))
            if notebook is None:
                return
        python = self._python_of(name or notebook_kernel_name(notebook))
        modules = forking.leading_imports(notebook, cwd)
        if python is None or not modules:
            return

        def preload() -> None:
            template = self._template_for(python)
            if template is not None:
                try:
                    template.preload(modules, wait=wait)
                except (OSError, PipelineError):
                    pass

        if wait:
            preload()
            return
        with self._lock:
            if not self._closed:
                self._starter_pool().submit(preload)

    def template_socket(self, name: str = "python3") -> str | None:
        """The socket of this pool's template for kernel ``name`` (started if need be).

        Pass it to worker processes (:func:`warm`): their kernels are forked from the
        same template. None when kernels are not forked.
        """
        if not self.fork:
            return None
        python = self._python_of(name)
        template = self._template_for(python) if python is not None else None
        return template.socket_path if template is not None else None

    def _python_of(self, name: str) -> str | None:
        """The interpreter kernel ``name`` runs, when it is one a template can fork."""
        if name not in self._argv:
            self._argv[name] = kernel_argv(name)
        return forking.python_of(self._argv[name])

    def _starter_pool(self) -> ThreadPoolExecutor:
        """The thread that starts kernels ahead and preloads templates (call under the lock)."""
        if self._starter is None:
            self._starter = ThreadPoolExecutor(
                max_workers=max(1, self.ahead), thread_name_prefix="mlops-kernel-start"
            )
        return self._starter

    def take(self, name: str = "python3") -> WarmKernel:
        """A kernel that has run nothing yet; the next one starts in the background."""
        with self._lock:
            if self._closed:
                raise PipelineError("the kernel pool is closed")
            waiting = self._waiting.get(name)
            future = waiting.popleft() if waiting else None
        kernel: WarmKernel | None = None
        if future is not None:
            self._refill(name)  # the next kernel starts while this one runs the notebook
            kernel = future.result()
            if not kernel.alive() or kernel.stale():
                # It died while it waited, or its interpreter started with a PYTHONPATH
                # (or another PYTHON* variable) that has changed since: start another.
                with self._lock:
                    if kernel.alive():
                        self.stats.stale += 1
                    else:
                        self.stats.dead += 1
                self._stop(kernel, now=True)
                kernel = None
            else:
                with self._lock:
                    self.stats.taken_ahead += 1
        if kernel is None:
            kernel = self._start(name, ahead=False)
            self._refill(name)
        with self._lock:
            self.stats.taken += 1
            self._leased.add(id(kernel))
        return kernel

    def release(self, kernel: WarmKernel, *, wait: bool | None = None) -> None:
        """Shut a used kernel down: in the background, unless ``wait`` (or the pool's).

        A kernel that ran a notebook through :meth:`execute_notebook` has already
        written what mlops-lab writes at a kernel's exit, so nothing the caller
        reads next depends on the process being gone.
        """
        with self._lock:
            self._leased.discard(id(kernel))
            dead = not kernel.alive()
            self.stats.dead += int(dead)
            if not (self.wait if wait is None else wait) and not self._closed and not dead:
                if self._stopper is None:
                    self._stopper = ThreadPoolExecutor(
                        max_workers=2, thread_name_prefix="mlops-kernel-stop"
                    )
                future = self._stopper.submit(self._stop, kernel, now=False)
                self._stopping.add(future)
                future.add_done_callback(self._stopping.discard)
                return
        self._stop(kernel, now=dead)

    def _stop(self, kernel: WarmKernel, *, now: bool) -> None:
        with self._lock:
            if kernel.stopped or id(kernel) not in self._live:
                return
            kernel.stopped = True
            self.stats.shut_down += 1
        try:
            if kernel.km.has_kernel:
                kernel.km.shutdown_kernel(now=now)
        except Exception:  # already gone: make sure the process is not left behind
            try:
                kernel.km._kill_kernel()
            except Exception:
                pass
        finally:
            try:
                kernel.km.cleanup_resources()
            except Exception:
                pass
            shutil.rmtree(kernel.sockets, ignore_errors=True)
            with self._lock:
                self._live.pop(id(kernel), None)

    @contextmanager
    def kernel(self, name: str = "python3") -> Iterator[WarmKernel]:
        """``with pool.kernel() as k:`` a fresh kernel, shut down when the block ends."""
        kernel = self.take(name)
        try:
            yield kernel
        finally:
            self.release(kernel)

    # -- notebooks ----------------------------------------------------------------------

    def execute_notebook(
        self,
        input_path: str,
        output_path: str,
        *,
        kernel_name: str | None = None,
        cwd: str | None = None,
        setup: str = "",
        **kwargs: Any,
    ) -> Any:
        """``papermill.execute_notebook`` in a fresh kernel from this pool.

        Keyword arguments go to papermill (``parameters``, ``progress_bar``,
        ``execution_timeout``, ...), which injects the parameters as usual.
        ``setup`` is Python run silently before the first cell (no output, no
        execution count), e.g. to warm the notebook's own pool.

        Raises
        ------
        nbclient.exceptions.DeadKernelError
            The kernel died while the notebook ran; the message names the notebook
            and the kernel's exit code. The pool's next kernel is unaffected.
        """
        import papermill
        from nbclient.exceptions import DeadKernelError

        _register_engine()
        notebook = read_notebook(input_path)
        name = kernel_name or notebook_kernel_name(notebook)
        folder = os.path.abspath(cwd) if cwd else os.getcwd()
        if notebook is not None:
            # With no kernel started ahead, the one started now is forked after the
            # template has imported the notebook's modules, instead of importing them itself.
            self.preload(notebook, folder, name, wait=not self.waiting(name))
        kernel = self.take(name)
        try:
            prelude = kernel.prelude(folder)
            if setup:
                prelude += "\n" + setup
            try:
                return papermill.execute_notebook(
                    input_path,
                    output_path,
                    kernel_name=name,
                    cwd=cwd,
                    engine_name=ENGINE,
                    km=kernel.km,
                    prelude=prelude,
                    # Written once at the end (or at a failure), not twice per cell: a
                    # save serialises the whole notebook, between two cells.
                    request_save_on_cell_execute=kwargs.pop("request_save_on_cell_execute", False),
                    save_on_failure=str(output_path),
                    **kwargs,
                )
            except DeadKernelError as exc:
                code = kernel.exit_code()
                raise DeadKernelError(
                    f"the {name!r} kernel running {os.path.basename(str(input_path))} died"
                    + (f" (exit code {code})" if code is not None else "")
                    + f" before the notebook finished; the partly executed notebook is "
                    f"{output_path}"
                ) from exc
        finally:
            self.release(kernel)

    # -- closing ------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every kernel this pool started (waiting ones at once); nothing is left running."""
        with self._lock:
            self._closed = True
            futures = [f for q in self._waiting.values() for f in q]
            self._waiting.clear()
            starter, self._starter = self._starter, None
            stopper, self._stopper = self._stopper, None
        for future in futures:
            future.cancel()
        if starter is not None:
            starter.shutdown(wait=True, cancel_futures=True)
        if stopper is not None:
            stopper.shutdown(wait=True)
        with self._lock:
            kernels = list(self._live.values())
        for kernel in kernels:
            self._stop(kernel, now=True)
        with self._template_lock:
            templates = list(self._templates.values())
            self._templates.clear()
        for template in templates:
            template.close()

    def __enter__(self) -> KernelPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_notebook(path: str) -> Any:
    """The notebook at ``path`` (nbformat 4), or None when it cannot be read."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except Exception:  # papermill reports an unreadable notebook itself
        return None


def notebook_kernel_name(notebook: Any) -> str:
    """The kernel a notebook (or the notebook at a path) names (``python3`` when it names none)."""
    if isinstance(notebook, (str, os.PathLike)):
        notebook = read_notebook(os.fspath(notebook))
    if notebook is None:
        return "python3"
    return str(notebook.metadata.get("kernelspec", {}).get("name") or "python3")


def kernel_argv(name: str) -> list[str]:
    """The command of kernel ``name``'s spec (empty when there is no such kernel)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return list(KernelSpecManager().get_kernel_spec(name).argv)
    except NoSuchKernel:
        return []


def is_python(name: str) -> bool:
    """Whether kernel ``name`` is a Python kernel (the pool's prelude is Python)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        return KernelSpecManager().get_kernel_spec(name).language.lower() == "python"
    except NoSuchKernel:
        return False


# -- the process's pool ---------------------------------------------------------------------


def pool() -> KernelPool:
    """This process's kernel pool, created on first use and closed at exit."""
    return process_resource(
        "pipeline.kernels.pool",
        _new_pool,
        close=KernelPool.close,
        inherit=False,
        stale=lambda made: made._closed,
    )


def _new_pool() -> KernelPool:
    import atexit
    from multiprocessing import util

    made = KernelPool()
    atexit.register(made.close)
    # A multiprocessing worker leaves through os._exit: atexit never runs there.
    util.Finalize(made, made.close, exitpriority=10)
    return made


def close_pool() -> None:
    """Close this process's pool (a new one starts on next use)."""
    discard_process_resource("pipeline.kernels.pool")


def warm(kernel_name: str = "python3", template: str | None = None) -> None:
    """Start this process's pool ahead for ``kernel_name`` (a worker's initializer).

    ``template`` is the socket of a kernel template (:meth:`KernelPool.template_socket`
    of the process that started this worker): the worker's kernels are forked from it,
    so the workers of a sweep share one template and its imports.

    Never raises: a kernel that cannot start fails the execution that needs it, with
    the error an on-demand start would give.
    """
    if template:
        os.environ[forking.TEMPLATE_ENV_VAR] = template
    try:
        if default_ahead() and is_python(kernel_name):
            pool()._refill(kernel_name)
    except Exception:
        pass


def dask_worker_plugin(kernel_name: str = "python3") -> Any:
    """A Dask worker plugin: each worker warms its own pool as it starts, closes it as it stops."""
    from distributed.diagnostics.plugin import WorkerPlugin

    class KernelPoolPlugin(WorkerPlugin):  # type: ignore[misc]
        name = "mlops-lab-kernels"

        def __init__(self, kernel_name: str) -> None:
            self.kernel_name = kernel_name

        def setup(self, worker: Any) -> None:
            warm(self.kernel_name)

        def teardown(self, worker: Any) -> None:
            close_pool()

    return KernelPoolPlugin(kernel_name)


# -- papermill engine -----------------------------------------------------------------------


def _register_engine() -> None:
    if peek_process_resource("pipeline.kernels.engine") is not None:
        return
    from papermill.engines import Engine, papermill_engines

    class WarmEngine(Engine):  # type: ignore[misc]
        """papermill's nbclient engine, in a kernel started beforehand (``km=``)."""

        @classmethod
        def execute_managed_notebook(  # type: ignore[override]
            cls,
            nb_man: Any,
            kernel_name: str,
            log_output: bool = False,
            stdout_file: Any = None,
            stderr_file: Any = None,
            start_timeout: float = 60,
            execution_timeout: float | None = None,
            km: Any = None,
            prelude: str = "",
            save_on_failure: str | None = None,
            **kwargs: Any,
        ) -> Any:
            from papermill.engines import logger
            from papermill.utils import merge_kwargs, remove_args

            if km is None:
                raise InvalidArgumentError(f"the {ENGINE} engine needs a started kernel (km=)")
            kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
            final = merge_kwargs(
                kwargs,
                timeout=execution_timeout,
                startup_timeout=start_timeout,
                kernel_name=kernel_name,
                log=logger,
                log_output=log_output,
                stdout_file=stdout_file,
                stderr_file=stderr_file,
            )
            client = _client_class()(nb_man, km=km, prelude=prelude, **final)
            try:
                return client.execute()
            except BaseException:
                # papermill writes the output only when the engine returns: keep the
                # notebook as far as it ran (a dead kernel, an interrupt).
                if save_on_failure and nb_man.output_path is None:
                    from papermill.iorw import write_ipynb

                    write_ipynb(nb_man.nb, save_on_failure)
                raise
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
                    client.kc = None

    papermill_engines.register(ENGINE, WarmEngine)
    process_resource("pipeline.kernels.engine", lambda: WarmEngine)


def _client_class() -> type:
    made = peek_process_resource("pipeline.kernels.client_class")
    if made is None:
        from jupyter_core.utils import run_sync
        from papermill.clientwrap import PapermillNotebookClient
        from traitlets import Unicode

        class WarmNotebookClient(PapermillNotebookClient):  # type: ignore[misc]
            """papermill's client; runs the pool's prelude once its channels are up."""

            prelude = Unicode("")

            async def async_start_new_kernel_client(self) -> Any:
                from jupyter_core.utils import ensure_async

                kc = await super().async_start_new_kernel_client()
                if self.prelude:
                    msg_id = await ensure_async(
                        kc.execute(
                            self.prelude, silent=True, store_history=False, allow_stdin=False
                        )
                    )
                    reply = await self.async_wait_for_reply(msg_id)
                    content = (reply or {}).get("content", {})
                    if content.get("status") != "ok":
                        raise PipelineError(
                            "a warm kernel could not change to the notebook's folder and "
                            f"environment: {content.get('ename')}: {content.get('evalue')}"
                        )
                return kc

            start_new_kernel_client = run_sync(async_start_new_kernel_client)

            def papermill_execute_cells(self) -> None:
                super().papermill_execute_cells()
                # The kernel is alive (a dead one raised above): let it write what it
                # would write at exit, so the store is complete when this returns.
                run_sync(self._async_epilogue)()

            async def _async_epilogue(self) -> None:
                from jupyter_core.utils import ensure_async

                msg_id = await ensure_async(
                    self.kc.execute(EPILOGUE, silent=True, store_history=False, allow_stdin=False)
                )
                await self.async_wait_for_reply(msg_id)

        made = process_resource("pipeline.kernels.client_class", lambda: WarmNotebookClient)
    return made  # type: ignore[no-any-return]
