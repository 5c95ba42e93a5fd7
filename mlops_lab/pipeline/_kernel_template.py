"""The kernel template process: imports a Python kernel once, forks one kernel per request.

Run by :mod:`.forking` as a script (``python _kernel_template.py SOCKET``), never
imported by mlops-lab itself: the process holds only what a kernel would import
as it starts (ipykernel, IPython) and the modules a notebook imports first, all
imported and never used. It listens on the Unix socket ``SOCKET`` for one
request per connection, a JSON object on one line:

- ``{"op": "info"}``: the template's pid, interpreter and the environment it
  started with;
- ``{"op": "preload", "modules": [...], "calls": [...]}``: import these modules
  (those that fail to import are skipped), then call each ``module:function``
  of ``calls``; the reply lists the modules now imported;
- ``{"op": "fork", "argv": [...], "env": {...}, "cwd": "..."}``, with the
  kernel's stdin, stdout and stderr passed as file descriptors: fork a child
  that becomes ``python -m ipykernel_launcher ARGV`` in ``cwd`` with exactly
  ``env`` as its environment, in a session of its own; the reply is its pid.

The template reaps its children and writes each one's exit status to
``SOCKET.PID.exit`` (a negative number for a signal, as ``subprocess`` does).
It exits when the process that started it is gone, or on SIGTERM.

The template runs no notebook code, so every kernel forked from it starts from
the same untouched state: nothing one notebook does reaches another.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import sys
import warnings
from pathlib import Path
from typing import Any

MAX_REQUEST = 4 << 20  # bytes: a request carries the kernel's whole environment


def _exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _reaper(socket_path: str) -> Any:
    def reap(signum: int, frame: Any) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            try:
                Path(f"{socket_path}.{pid}.exit").write_text(str(_exit_status(status)))
            except OSError:
                pass

    return reap


def _read_request(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data = b""
    fds: list[int] = []
    while not data.endswith(b"\n"):
        chunk, more_fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 3)
        fds += more_fds
        if not chunk:
            break
        data += chunk
        if len(data) > MAX_REQUEST:
            raise ValueError("request too large")
    return json.loads(data), fds


def _reply(conn: socket.socket, message: dict[str, Any]) -> None:
    conn.sendall(json.dumps(message).encode() + b"\n")


def _preload(modules: list[str], calls: list[str]) -> list[str]:
    """Import ``modules``, then call each ``module:function`` of ``calls`` (caches they fill)."""
    import importlib

    loaded = []
    for name in modules:
        try:
            importlib.import_module(name)
        except BaseException:  # a module that cannot import here is imported by the kernel
            continue
        loaded.append(name)
    for call in calls:
        module, _, function = call.partition(":")
        try:
            getattr(importlib.import_module(module), function)()
        except BaseException:
            continue
    return loaded


def _become_kernel(argv: list[str], env: dict[str, str], cwd: str, fds: list[int]) -> None:
    """In the forked child: the kernel ``python -m ipykernel_launcher ARGV`` would start."""
    code = 1
    try:
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.setsid()
        for target, fd in zip((0, 1, 2), fds, strict=True):
            os.dup2(fd, target)
            os.close(fd)
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        numpy = sys.modules.get("numpy")
        if numpy is not None:  # its global generator was seeded once, in the template
            numpy.random.seed()
        import ipykernel_launcher
        from ipykernel import kernelapp

        if env.get("JPY_PARENT_PID", "").isdigit():
            # ipykernel reads it as its module is imported, which was in the template.
            argv = [*argv, f"--IPKernelApp.parent_handle={env['JPY_PARENT_PID']}"]
        sys.argv = [ipykernel_launcher.__file__, *argv]
        try:
            kernelapp.launch_new_instance(argv=argv)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            _exit_as_python_does()
        finally:
            os._exit(code)


def _exit_as_python_does() -> None:
    """What Python does at exit before it tears the interpreter down: wait for the
    threads that are not daemons (a notebook's own, still writing), then run the
    ``atexit`` functions and flush the standard streams. The teardown itself is
    skipped: it would free every object the template made, writing to pages the
    kernel shares with it."""
    import atexit
    import threading

    _finish_channel_threads()
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()


def _finish_channel_threads() -> None:
    """Let the kernel's control and shell channel threads finish, while IOPub still runs.

    ipykernel's own ``close`` (an atexit function) stops the IOPub thread before it
    joins them. The control thread, still flushing the output of the shutdown request
    it answered, then waits 10 s for an IOPub that no longer runs, and jupyter_client
    ends the kernel with SIGTERM after 2.5 s. Both threads have been told to stop by
    then (by that request); they are joined here first.
    """
    from ipykernel.kernelapp import IPKernelApp

    if not IPKernelApp.initialized():
        return
    app = IPKernelApp.instance()
    for name in ("control_thread", "shell_channel_thread"):
        thread = getattr(app, name, None)
        if thread is not None and thread.is_alive():
            try:
                thread.stop()
            except RuntimeError:  # its loop closed as it ended
                pass
            thread.join(timeout=5)


def _handle(conn: socket.socket, server: socket.socket, started_env: dict[str, str]) -> None:
    request, fds = _read_request(conn)
    op = request.get("op")
    if op == "info":
        for fd in fds:
            os.close(fd)
        _reply(conn, {"pid": os.getpid(), "python": sys.executable, "env": started_env})
        return
    if op == "preload":
        for fd in fds:
            os.close(fd)
        loaded = _preload(list(request.get("modules", [])), list(request.get("calls", [])))
        _reply(conn, {"loaded": loaded})
        return
    if op != "fork" or len(fds) != 3:
        for fd in fds:
            os.close(fd)
        _reply(conn, {"error": f"unknown request {op!r} or missing descriptors"})
        return
    with warnings.catch_warnings():
        # Python 3.12+ warns when a process with threads forks; the template's only
        # threads are BLAS pools, which shut themselves down around a fork.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The template's objects live as long as the kernel: the kernel's collector
        # never scans them (nor writes to their pages, which stay shared).
        gc.freeze()
        pid = os.fork()
    if pid == 0:
        server.close()
        conn.close()
        _become_kernel(list(request["argv"]), dict(request["env"]), str(request["cwd"]), fds)
    for fd in fds:
        os.close(fd)
    _reply(conn, {"pid": pid})


def main(socket_path: str) -> None:
    # Like ipykernel_launcher: this script's folder is not a place to import from.
    if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
        del sys.path[0]
    parent = os.getppid()
    started_env = dict(os.environ)
    signal.signal(signal.SIGCHLD, _reaper(socket_path))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not os.environ.get("MPLBACKEND"):
        # What ipykernel sets before a notebook's first import: matplotlib, imported here,
        # picks the inline backend as it would in the kernel.
        os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    import ipykernel.kernelapp  # what every kernel imports first

    # What each kernel imports as its IPythonKernel starts: the debugger and debugpy, with
    # the variable ipykernel's kernel specs set for it (each child gets its own environment).
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        import ipykernel.debugger  # noqa: F401
    except Exception:  # a kernel without debugpy imports nothing more here
        pass

    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(socket_path + ".tmp")
    server.listen(8)
    os.rename(socket_path + ".tmp", socket_path)  # present only once it listens
    server.settimeout(1.0)
    while True:
        try:
            conn, _ = server.accept()
        except TimeoutError:
            if os.getppid() != parent:
                return
            continue
        conn.settimeout(None)
        with conn:
            try:
                _handle(conn, server, started_env)
            except (OSError, ValueError) as exc:
                try:
                    _reply(conn, {"error": str(exc)})
                except OSError:
                    pass


if __name__ == "__main__":
    main(sys.argv[1])
