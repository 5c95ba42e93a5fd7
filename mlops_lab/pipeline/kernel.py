"""The kernels mlops-lab starts to execute notebooks: local, over IPC, and quiet.

A kernel started by papermill writes its own log lines to the stderr it
inherits, which inside a notebook is the user's cell. Two of them are noise
for a kernel that only this process talks to:

- ``Kernel is running over TCP without encryption``: the kernel here listens
  on Unix sockets in a private temporary folder instead (IPC transport; on
  Windows, which has no IPC transport, TCP on localhost as before);
- ``KeyboardInterrupt caught in kernel``: jupyter_client interrupts a kernel
  before asking it to shut down, and a kernel still finishing a message
  logs that interrupt. Papermill shuts a kernel down once its cells have run
  (or one failed), so there is nothing to interrupt: the interrupt is left out
  of the shutdown. An interrupt asked for otherwise (a cell timeout) still
  happens.

Every other line a kernel writes still reaches stderr: real errors are not
hidden.

A Python kernel is taken from the process's pool of pre-started kernels
(:mod:`.kernels`): one fresh kernel per notebook, started ahead, so the
start is not on the notebook's critical path.
"""

from __future__ import annotations

import tempfile
from typing import Any

from ..project import peek_process_resource, process_resource
from .kernels import kernel_config


def kernel_manager_class() -> type:
    """jupyter_client's ``AsyncKernelManager``, without the interrupt before a shutdown."""
    made = peek_process_resource("pipeline.kernel.manager_class")
    if made is None:
        from jupyter_client.manager import AsyncKernelManager

        class PipelineKernelManager(AsyncKernelManager):  # type: ignore[misc]
            """A kernel manager that shuts a kernel down without interrupting it first."""

            async def _async_interrupt_kernel(self) -> None:
                # _async_shutdown_kernel calls this before its shutdown request.
                if self.shutting_down:
                    return
                await super()._async_interrupt_kernel()

        made = process_resource("pipeline.kernel.manager_class", lambda: PipelineKernelManager)
    return made  # type: ignore[no-any-return]


def execute_notebook(input_path: str, output_path: str, *, warm: bool = True, **kwargs: Any) -> Any:
    """``papermill.execute_notebook`` in a kernel from :func:`kernel_manager_class` over IPC.

    Keyword arguments go to papermill (``parameters``, ``kernel_name``, ``cwd``, ...).
    With ``warm`` (the default) a Python kernel comes from this process's pool of
    pre-started kernels (:mod:`.kernels`): a fresh one per notebook, started ahead.
    ``kernel_manager_class``, ``config`` or ``engine_name`` given here start the
    kernel the ordinary way, and win.
    """
    if warm and not {"kernel_manager_class", "config", "engine_name", "km"} & set(kwargs):
        from . import kernels

        name = kwargs.pop("kernel_name", None) or kernels.notebook_kernel_name(input_path)
        if kernels.is_python(name):
            return kernels.pool().execute_notebook(
                input_path, output_path, kernel_name=name, **kwargs
            )
        kwargs["kernel_name"] = name

    import papermill

    # A short folder: a Unix socket path must stay under about 100 characters.
    with tempfile.TemporaryDirectory(prefix="mlops-kernel-") as sockets:
        kwargs.setdefault("kernel_manager_class", kernel_manager_class())
        kwargs.setdefault("config", kernel_config(sockets))
        return papermill.execute_notebook(input_path, output_path, **kwargs)
