"""Sweeps and backfills: one pipeline run per combination of parameter values, in parallel.

``sweep("clf", {"C": [0.1, 1, 10], "max_iter": [100, 200]})`` checks every
combination against the pipeline's declared types before anything starts,
opens a sweep run, and submits one task per combination to an executor
(:mod:`.executors`: local processes by default, a Dask cluster on request).

Workers on other machines cannot share one SQLite file, so every task
records into a store of its own (a temporary folder), seeded with the
project's current champion so that all combinations are gated against the
same model. The task returns that store (its path on this machine, or its
bytes from a Dask worker) and the sweep merges it into the project store
(:mod:`mlops_lab.store.merge`): each combination's pipeline run becomes a
child of the sweep run. At the end the best combination that beat the
champion holds the ``champion`` alias, and a results table shows the
parameters, the metric and the gate decision of each combination.

Dask workers need mlops-lab, a Jupyter kernel, and the project folder
(pipelines and data) at the same path as here: a shared filesystem or the
same checkout.
"""

from __future__ import annotations

import io
import itertools
import os
import queue
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidArgumentError, PipelineStepError
from ..project import Project, default_project
from ..registry.api import set_alias
from ..store import registry_records as records
from ..store.merge import checkpoint, merge_store, put_version, version_row
from . import executors, kernels
from .progress import Progress
from .run import run_pipeline
from .spec import PipelineSpec, find

if TYPE_CHECKING:
    import pandas as pd

    from ..store import Store
    from ..tracking.run import Run


@dataclass
class Task:
    """One combination, as sent to a worker (plain data: it is pickled)."""

    index: int
    folder: str
    params: dict[str, Any]
    sweep_run_id: str
    champion: tuple[dict[str, Any], float] | None = None
    kernel_name: str | None = None
    execute: Callable[..., Any] | None = None
    ship: bool = False
    seed: str | None = None  # an empty store's mlops.db with the champion (workers here)


@dataclass
class SweepResult:
    """A sweep's run, and one row per combination (params, metric, gate decision, version)."""

    name: str
    run: Run
    metric: str | None
    keys: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] != "finished"]

    def table(self) -> pd.DataFrame:
        """The results: the swept params, the metric, decision, version, alias, status."""
        import pandas as pd

        metric = self.metric or "metric"
        if metric in self.keys:
            metric += " (metric)"
        cols = [*self.keys, metric, "decision", "version", "alias", "status"]
        frame = pd.DataFrame(
            [
                {
                    **{k: r["params"].get(k) for k in self.keys},
                    metric: r.get("metric"),
                    **{k: r.get(k) for k in ("decision", "version", "alias", "status")},
                }
                for r in sorted(self.rows, key=lambda r: r["index"])
            ],
            columns=cols,
        )
        return frame

    def __str__(self) -> str:
        head = f"sweep {self.name!r}: run {self.run.run_id[:8]}, {len(self.rows)} combinations"
        if self.failed:
            head += f", {len(self.failed)} failed"
        lines = [head, self.table().to_string(index=False)]
        for row in self.failed:
            lines.append(f"combination {row['index']} failed: {row.get('error', '')}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def parse_grid(items: Sequence[str]) -> dict[str, list[str]]:
    """``["C=0.1,1,10", "max_iter=100,200"]`` as ``{"C": ["0.1", "1", "10"], ...}``."""
    grid: dict[str, list[str]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise InvalidArgumentError(f"--grid {item!r}: expected NAME=V1,V2,... (e.g. C=0.1,1)")
        grid.setdefault(key, []).extend(v.strip() for v in values.split(","))
    return grid


def combinations(spec: PipelineSpec, grid: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every combination of ``grid``, each resolved and type-checked by the spec.

    Raises
    ------
    PipelineParamError
        The first unknown name or mistyped value, naming it.
    """
    if not grid:
        raise InvalidArgumentError("grid: give at least one parameter and its values")
    axes: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if isinstance(values, str):
            values = [v.strip() for v in values.split(",")]
        elif not isinstance(values, Sequence) or not values:
            raise InvalidArgumentError(
                f"grid[{key!r}]: expected a non-empty list of values, got {values!r}"
            )
        axes[key] = list(values)
    out = []
    for combo in itertools.product(*axes.values()):
        out.append(spec.resolve_params(dict(zip(axes, combo, strict=True))))
    return out


# -- on the worker --------------------------------------------------------------------------


def run_combination(task: Task) -> dict[str, Any]:
    """Run one combination into a store of its own; return its outcome and that store.

    The combination gets a :class:`~mlops_lab.Project` of its own, so workers in
    threads of one process never share a store or an active run.
    """
    tmp = Path(tempfile.mkdtemp(prefix="mlops-sweep-"))
    root = tmp / ".mlops"
    out: dict[str, Any] = {"index": task.index, "params": task.params, "host": os.uname()[1]}
    if task.seed is not None:  # the store made once for every combination: no migration
        root.mkdir()
        shutil.copyfile(task.seed, root / "mlops.db")
    with Project(root) as project:
        store = project.store
        if task.champion is not None and task.seed is None:
            row, updated = task.champion
            put_version(store, row, {"champion": updated})
        run_id = None
        try:
            result = run_pipeline(
                task.folder,
                task.params,
                progress=False,
                kernel_name=task.kernel_name,
                execute=task.execute,
                project=project,
            )
            run_id = result.run.run_id
            out["status"] = "finished"
            if result.decision is not None:
                out["decision"] = result.decision.decision
                out["metric"] = result.decision.candidate
        except PipelineStepError as exc:
            run_id = exc.run_id
            out.update(status="failed", step=exc.step, error=exc.error)
        except Exception as exc:  # a worker must report, not lose, what happened
            out.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        if run_id is not None:
            out["run_id"] = run_id
            store.update_run(run_id, parent_id=task.sweep_run_id)
        project.flush()
        checkpoint(store)
    if task.ship:
        out["archive"] = _pack(root)
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        out["store"] = str(root)
    return out


def _pack(root: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(root, arcname=".mlops")
    return buf.getvalue()


def _unpack(data: bytes) -> Path:
    tmp = Path(tempfile.mkdtemp(prefix="mlops-sweep-"))
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")
    return tmp / ".mlops"


# -- on this machine ------------------------------------------------------------------------


def sweep(
    name: str | os.PathLike[str],
    grid: Mapping[str, Any],
    *,
    workers: int | None = None,
    executor: Any = None,
    address: str | None = None,
    pipelines_dir: str | os.PathLike[str] = "pipelines",
    kernel_name: str | None = None,
    progress: bool = True,
    execute: Callable[..., Any] | None = None,
    project: Project | None = None,
) -> SweepResult:
    """Run a promoted pipeline once per combination of ``grid``, in parallel.

    Parameters
    ----------
    name
        A pipeline under ``pipelines_dir`` (or a pipeline folder).
    grid
        ``{param: [values]}`` (or ``{param: "v1,v2"}``); every combination is
        type-checked before anything starts.
    workers
        Parallel tasks for an executor the sweep starts (default: one per CPU,
        at most one per combination).
    executor
        ``"processes"`` (default), ``"dask"``, another registered name, or an
        executor object: a ``concurrent.futures.Executor`` or a
        ``dask.distributed.Client``. An object is used as it is and left open.
    address
        A Dask scheduler address (``tcp://host:8786``): ``executor="dask"`` on it.
    execute
        The notebook executor of each pipeline run (default: papermill).
    project
        The project that gets the sweep run and the merged results (default:
        :func:`~mlops_lab.default_project`); each combination runs in a store of its own.

    Returns
    -------
    SweepResult
        The sweep run and one row per combination; ``str()`` is the results table.

    Raises
    ------
    PipelineParamError
        An unknown parameter or a mistyped value, before anything runs.
    """
    spec = PipelineSpec.load(find(name, pipelines_dir))
    combos = combinations(spec, grid)
    _check_workers(workers)
    project = project or default_project()
    project.flush()
    if executor in (None, "processes") and not address:
        # The workers fork their kernels from this process's template: it imports the
        # notebook's modules while they start.
        kernels.pool().preload(
            spec.notebook_path, str(spec.workdir_path), kernel_name or spec.kernel
        )
    with ExitStack() as cleanup:  # the executor and the seed store, even if a step fails
        pool, close = executors.open_executor(
            executor,
            workers=workers or executors.default_workers(len(combos)),
            address=address,
            kernel_name=kernel_name or spec.kernel,
        )
        if close is not None:
            cleanup.callback(close)
        template = _task_template(
            spec, project.store, pool, kernel_name=kernel_name, execute=execute
        )
        if not template.ship:
            template.seed = _seed_store(template.champion)
            cleanup.callback(shutil.rmtree, Path(template.seed).parents[1], ignore_errors=True)
        saved = list(project.stack)
        project.stack.clear()
        parent = _start_sweep_run(project, spec, type(pool).__name__)
        result = SweepResult(spec.name, parent, spec.gate.get("metric"), list(grid))
        status = "failed"
        try:
            tasks = [
                replace(template, index=i, params=combo, sweep_run_id=parent.run_id)
                for i, combo in enumerate(combos)
            ]
            status = _run_combinations(result, pool, tasks, project.store, spec, progress=progress)
        finally:
            project.end_run(status, run=parent)
            project.stack[:0] = saved
    return result


def _seed_store(champion: tuple[dict[str, Any], float] | None) -> str:
    """An empty store holding the champion to beat, whose ``mlops.db`` each combination
    on this machine copies instead of creating and migrating its own."""
    from ..store import Store

    root = Path(tempfile.mkdtemp(prefix="mlops-sweep-seed-")) / ".mlops"
    store = Store(root)
    if champion is not None:
        row, updated = champion
        put_version(store, row, {"champion": updated})
    checkpoint(store)  # creates and migrates it, if nothing was written
    return str(root / "mlops.db")


def _check_workers(workers: int | None) -> None:
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InvalidArgumentError(f"workers: expected a number >= 1, got {workers!r}")


def _task_template(
    spec: PipelineSpec,
    store: Store,
    pool: Any,
    *,
    kernel_name: str | None,
    execute: Callable[..., Any] | None,
) -> Task:
    """What every combination's task shares: the pipeline, the champion to beat, the kernel."""
    return Task(
        0,
        str(spec.folder),
        {},
        "",
        champion=version_row(store, spec.name, "champion"),
        kernel_name=kernel_name,
        execute=execute,
        ship=not isinstance(pool, Executor),  # a cluster's workers may be on other machines
    )


def _start_sweep_run(project: Project, spec: PipelineSpec, executor: str) -> Run:
    """The sweep's own run, a top-level run of the pipeline's experiment."""
    return project.start_run(
        f"{spec.name}-sweep",
        experiment=spec.experiment,
        tags={"mlops.kind": "sweep", "mlops.pipeline": spec.name, "sweep.executor": executor},
        parent=None,
        store=project.store,
        source={"source_type": "pipeline", "source_path": str(spec.folder)},
    )


def _run_combinations(
    result: SweepResult,
    pool: Any,
    tasks: list[Task],
    store: Store,
    spec: PipelineSpec,
    *,
    progress: bool,
) -> str:
    """Log the grid, run every task, crown the best; return the sweep run's status."""
    parent = result.run
    parent.log_params({f"grid.{k}": _distinct(t.params[k] for t in tasks) for k in result.keys})
    result.rows = _collect(pool, tasks, store, spec.name, progress)
    _crown(result, store, spec.gate)
    parent.log_metric("sweep.combinations", len(tasks))
    parent.log_metric("sweep.failed", len(result.failed))
    return "finished" if not result.failed else "failed"


def _collect(
    pool: Any, tasks: list[Task], store: Store, name: str, progress: bool
) -> list[dict[str, Any]]:
    """Submit every task; merge each worker's store as its task finishes."""
    done: queue.Queue = queue.Queue()
    futures = {}
    for task in tasks:
        future = executors.submit(pool, run_combination, task)
        futures[id(future)] = task
        future.add_done_callback(done.put)
    rows = []
    bar = Progress(total=len(tasks), desc=f"{name} sweep", unit="run", enabled=progress)
    try:
        for _ in tasks:
            future = done.get()
            task = futures[id(future)]
            try:
                row = future.result()
            except Exception as exc:  # the task never ran, or its worker died
                row = {
                    "index": task.index,
                    "params": task.params,
                    "status": "failed",
                    "error": f"{type(exc).__name__}: {exc}",
                }
            _merge_back(row, store, merge_store)
            rows.append(row)
            bar.update(1)
    finally:
        bar.close()
    return sorted(rows, key=lambda r: r["index"])


def _merge_back(row: dict[str, Any], store: Store, merge_store: Callable[..., Any]) -> None:
    archive = row.pop("archive", None)
    where = _unpack(archive) if archive is not None else row.pop("store", None)
    if where is None:
        return
    try:
        merge_store(store, where)
    finally:
        shutil.rmtree(Path(where).parent, ignore_errors=True)
    run_id = row.get("run_id")
    if run_id:
        ref = store.tags(run_id).get("registered.version")
        if ref:
            row["version"] = int(ref.rpartition("/")[2])


def _crown(result: SweepResult, store: Store, gate: Mapping[str, Any]) -> None:
    """The best combination that beat the champion keeps ``champion``; note every alias."""
    winners = [
        r
        for r in result.rows
        if r.get("decision") == "champion" and r.get("version") and r.get("metric") is not None
    ]
    if winners:
        sign = -1 if gate.get("mode") == "min" else 1
        best = max(winners, key=lambda r: (sign * r["metric"], -r["index"]))
        set_alias(result.name, "champion", best["version"], store=store)
        result.run.set_tag("sweep.champion", f"{result.name}/{best['version']}")
        result.run.log_metric(f"sweep.best.{result.metric}", best["metric"])
    # Keyed by version; looked up with a row's version, which is None when it registered none.
    aliases: dict[Any, list[str]] = (
        records.aliases_of(store, result.name) if records.has_model(store, result.name) else {}
    )
    for row in result.rows:
        row["alias"] = ", ".join(aliases.get(row.get("version"), [])) or None


def _distinct(values: Any) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if value not in out:
            out.append(value)
    return out
