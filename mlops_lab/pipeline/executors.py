"""Where the combinations of a sweep run: a small registry of executor factories.

An executor is anything with ``submit(fn, *args) -> future`` whose future has
``result()``: a :class:`concurrent.futures.Executor` or a
``dask.distributed.Client``. The registry maps a name to a factory
``factory(workers=..., address=...) -> (executor, close)``, where ``close()``
releases what the factory started (``None`` when nothing needs releasing).
It is created on first use with two entries:

- ``"processes"`` (the default): a :class:`~concurrent.futures.ProcessPoolExecutor`
  with ``spawn`` processes, on this machine;
- ``"dask"``: a ``dask.distributed.Client`` connected to ``address`` (a
  scheduler such as ``tcp://host:8786``), or to a new ``LocalCluster``.

Every worker of either keeps its own pool of pre-started kernels
(:mod:`.kernels`), warmed as the worker starts and closed when it stops.

``register("mine", factory)`` adds another, and ``sweep(..., executor=obj)``
takes an executor object (or a name) directly, so tests can hand in their own.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

from ..errors import InvalidArgumentError, MissingDependencyError
from ..project import process_resource

Factory = Callable[..., tuple[Any, Callable[[], None] | None]]

# What every combination imports, imported by a worker as it starts (its kernel starting
# meanwhile) rather than by its first combination.
WORKER_IMPORTS = ("papermill", "nbclient", "mlops_lab.pipeline.sweep")
# Optional modules that cost seconds to import and that a process driving notebooks never
# uses. jsonschema, which nbformat imports, builds its IRI format checker from
# rfc3987_syntax when it is installed (JupyterLab installs it), compiling 38 grammars at
# import: about 2 s. Nothing that drives a notebook checks a schema's formats.
UNUSED_IMPORTS = ("rfc3987_syntax",)


def skip_unused_imports() -> None:
    """In a process of mlops-lab's own that drives notebooks (a sweep worker, the demo),
    never in a kernel: the modules of :data:`UNUSED_IMPORTS` are not imported (an import
    of one raises ImportError, which jsonschema expects of an absent optional module)."""
    for name in UNUSED_IMPORTS:
        if name not in sys.modules:
            sys.modules[name] = None  # type: ignore[assignment]


def start_worker(kernel_name: str = "python3", template: str | None = None) -> None:
    """A local worker's initializer: its first kernel starts, then it imports what a
    combination needs (never raises: a failure shows where a combination meets it)."""
    skip_unused_imports()
    from .kernels import warm

    warm(kernel_name, template)
    for name in WORKER_IMPORTS:
        try:
            importlib.import_module(name)
        except Exception:
            pass


def _processes(
    *, workers: int, address: str | None = None, kernel_name: str = "python3"
) -> tuple[Any, Callable[[], None]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from .kernels import pool as kernel_pool

    # spawn: never fork a process that runs threads (a kernel, the metrics flusher).
    # Each worker starts its first kernel as it starts, before its first task arrives,
    # forked from this process's kernel template (one for all the workers), and imports
    # what its tasks need meanwhile.
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=start_worker,
        initargs=(kernel_name, kernel_pool().template_socket(kernel_name)),
    )
    return pool, lambda: pool.shutdown(wait=True)


def _dask(
    *, workers: int, address: str | None = None, kernel_name: str = "python3"
) -> tuple[Any, Callable[[], None]]:
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError as exc:
        raise MissingDependencyError(
            "distributed", "dask", "a sweep on a Dask cluster (--dask)"
        ) from exc
    from .kernels import dask_worker_plugin

    if address:
        client = Client(address)
        client.register_plugin(dask_worker_plugin(kernel_name))
        return client, client.close

    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)
    client = Client(cluster)
    # Each worker keeps its own pool of started kernels; it closes with the worker.
    client.register_plugin(dask_worker_plugin(kernel_name))

    def close() -> None:
        client.close()
        cluster.close()

    return client, close


def _registered() -> dict[str, Factory]:
    """The process's registry of executors (made on first use, with the built-in ones)."""
    return process_resource("pipeline.executors", lambda: {"processes": _processes, "dask": _dask})


def register(name: str, factory: Factory) -> None:
    """Make ``factory(workers=, address=) -> (executor, close)`` available as ``name``."""
    if not isinstance(name, str) or not name:
        raise InvalidArgumentError(f"executor name: expected a non-empty string, got {name!r}")
    _registered()[name] = factory


def get(name: str) -> Factory:
    """The executor factory registered as ``name``."""
    factories = _registered()
    if name not in factories:
        raise InvalidArgumentError(
            f"executor {name!r} is not registered (executors: {', '.join(sorted(factories))})"
        )
    return factories[name]


def names() -> list[str]:
    return sorted(_registered())


def default_workers(n_tasks: int) -> int:
    return max(1, min(n_tasks, os.cpu_count() or 1))


def is_dask(executor: Any) -> bool:
    """A ``dask.distributed.Client`` (its workers may be on other machines)."""
    return type(executor).__module__.split(".")[0] == "distributed"


def open_executor(
    executor: Any, *, workers: int, address: str | None = None, kernel_name: str | None = None
) -> tuple[Any, Callable[[], None] | None]:
    """``(executor, close)`` for a registry name or an executor object (left open).

    The built-in executors start ``kernel_name``'s kernels (default ``python3``) in
    each worker as it starts (:mod:`.kernels`).
    """
    if executor is None:
        executor = "dask" if address else "processes"
    if isinstance(executor, str):
        factory = get(executor)
        if kernel_name and factory in (_processes, _dask):
            return factory(workers=workers, address=address, kernel_name=kernel_name)
        return factory(workers=workers, address=address)
    if not callable(getattr(executor, "submit", None)):
        raise InvalidArgumentError(
            "executor: expected a name ("
            + ", ".join(names())
            + f") or an object with submit(fn, *args), got {type(executor).__name__}"
        )
    return executor, None


def submit(executor: Any, fn: Callable[..., Any], *args: Any) -> Any:
    """Submit one task; a Dask task is impure (each combination runs, even if args repeat)."""
    if is_dask(executor):
        return executor.submit(fn, *args, pure=False)
    return executor.submit(fn, *args)
