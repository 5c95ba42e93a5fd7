"""``mlops-lab demo``: the worked example notebooks, executed end to end in a fresh store.

The notebooks in ``notebooks/`` (shipped inside the wheel as
``mlops_lab/_notebooks``) run in order with papermill, each in a real kernel
whose store is ``DIR/.mlops`` and whose working folder is ``DIR/notebooks``
(where the executed notebooks, their data, pipelines and bundle are written).
Then a static comparison page is written and a summary read back from the
store is printed: runs, best run, validations, drift, registered models,
the bundle and a prediction the served model answered.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidArgumentError, MissingDependencyError

if TYPE_CHECKING:
    from .pipeline.kernels import KernelPool

NOTEBOOKS = (
    "01-track-and-compare.ipynb",
    "02-validate-data.ipynb",
    "03-promote-package-serve.ipynb",
    "04-continuous-training.ipynb",
)
# What the notebooks name, and the summary reads back.
BEST_EXPERIMENT = "breast-cancer"
BEST_METRIC = "test_accuracy"
SERVED_MODEL = "wine"
BUNDLE = Path("bundles") / SERVED_MODEL


def notebooks_dir() -> Path:
    """Where the example notebooks are: in the wheel, or in the source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_notebooks", here.parent / "notebooks"):
        if all((candidate / name).is_file() for name in NOTEBOOKS):
            return candidate
    raise InvalidArgumentError(
        "the example notebooks are missing from this installation (looked in "
        f"{here / '_notebooks'} and {here.parent / 'notebooks'})"
    )


def _check_dependencies() -> None:
    """Fail before the first notebook when a step's optional dependency is missing."""
    from importlib.util import find_spec

    for module, extra in (("fastapi", "serve"), ("uvicorn", "serve")):
        if find_spec(module) is None:
            raise MissingDependencyError(module, extra, "the demo's model server")


# The notebooks that run pipelines (promotion's verification, pipeline runs) in their
# kernel: that kernel's own pool starts its first kernel before the first cell.
RUNS_PIPELINES = frozenset({"03-promote-package-serve.ipynb", "04-continuous-training.ipynb"})
WARM_SETUP = "__import__('mlops_lab.pipeline.kernels').pipeline.kernels.warm('python3')"


def execute(
    notebook: Path, output: Path, store_root: Path, cwd: Path, *, kernels: KernelPool | None = None
) -> None:
    """Run one notebook with papermill in a kernel that records into ``store_root``.

    The kernel sees ``output`` as its notebook, so runs (and pipelines promoted from
    them) are rooted in ``cwd``, not in the installed package. The kernel is the
    pipeline's (:mod:`mlops_lab.pipeline.kernel`): its own log lines stay quiet. It
    comes from this process's pool of pre-started kernels, so the next notebook's
    kernel starts while this one runs; a notebook that runs pipelines warms its own
    pool before its first cell.
    """
    from .pipeline.kernels import pool

    previous = {k: os.environ.get(k) for k in ("MLOPS_LAB_HOME", "MLOPS_LAB_NOTEBOOK")}
    os.environ["MLOPS_LAB_HOME"] = str(store_root)
    os.environ["MLOPS_LAB_NOTEBOOK"] = str(output)
    try:
        (kernels or pool()).execute_notebook(
            str(notebook),
            str(output),
            kernel_name="python3",
            cwd=str(cwd),
            setup=WARM_SETUP if notebook.name in RUNS_PIPELINES else "",
            progress_bar=False,
            log_output=False,
        )
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@dataclass
class Summary:
    """What the demo recorded, read back from its store (and the bundle on disk)."""

    store_root: Path
    runs: int = 0
    finished: int = 0
    best: dict[str, Any] | None = None
    validations: int = 0
    validations_failed: int = 0
    drift_checks: list[tuple[int, int]] = field(default_factory=list)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    bundle: Path | None = None
    bundle_version: int | None = None
    prediction: dict[str, Any] | None = None
    requests: int = 0
    comparison: Path | None = None
    notebooks: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"  store:          {self.store_root}"]
        out.append(f"  runs tracked:   {self.runs} ({self.finished} finished)")
        if self.best is not None:
            out.append(
                f"  best run:       {self.best['name']} ({self.best['run_id'][:8]}), "
                f"{BEST_METRIC} {self.best['value']:.4f}"
            )
        out.append(
            f"  validations:    {self.validations} recorded, {self.validations_failed} failed"
        )
        for drifted, columns in self.drift_checks:
            out.append(f"  drift check:    {drifted} of {columns} columns drifted")
        for name, info in self.models.items():
            aliases = ", ".join(f"{a} v{v}" for a, v in sorted(info["aliases"].items()))
            out.append(
                f"  model:          {name}: {info['versions']} versions; {aliases or 'no alias'}"
            )
        if self.bundle is not None:
            out.append(f"  bundle:         {self.bundle} ({SERVED_MODEL} v{self.bundle_version})")
        if self.prediction is not None:
            p = self.prediction
            out.append(
                f"  prediction:     the served {p['model']} v{p['version']} answered "
                f"{p['outputs']} for {p['n_rows']} rows ({self.requests} requests logged)"
            )
        if self.comparison is not None:
            out.append(f"  comparison:     {self.comparison}")
        out += [f"  notebook:       {path}" for path in self.notebooks]
        return out


def summarize(store_root: Path, work: Path) -> Summary:
    """Read the demo's results back from the store in ``store_root``."""
    from .registry import model_versions, models
    from .store import Store
    from .store.data_records import drift_history, validations
    from .store.prediction_records import predictions
    from .store.query import runs_frame

    store = Store(store_root)
    summary = Summary(store_root)
    frame = runs_frame(store)
    summary.runs = len(frame)
    summary.finished = int((frame["status"] == "finished").sum()) if len(frame) else 0
    column = f"metrics.{BEST_METRIC}"
    if column in frame:
        ranked = frame[frame["experiment"] == BEST_EXPERIMENT].dropna(subset=[column])
        if len(ranked):
            best = ranked.sort_values(column, ascending=False, kind="stable").iloc[0]
            summary.best = {"name": best["name"], "run_id": best["run_id"], "value": best[column]}
    checks = validations(store)
    summary.validations = len(checks)
    summary.validations_failed = sum(not c["passed"] for c in checks)
    by_comparison: dict[str, list[bool]] = {}
    for row in drift_history(store):
        by_comparison.setdefault(row["drift_id"], []).append(row["drifted"])
    summary.drift_checks = [(sum(v), len(v)) for v in by_comparison.values()]
    names = models(store=store)
    for name in names["name"] if len(names) else []:
        versions = model_versions(name, store=store)
        aliases = {
            alias.strip(): int(row["version"])
            for _, row in versions.iterrows()
            for alias in str(row["aliases"] or "").split(",")
            if alias.strip()
        }
        summary.models[name] = {"versions": len(versions), "aliases": aliases}
    metadata = work / BUNDLE / "metadata.json"
    if metadata.is_file():
        summary.bundle = metadata.parent
        summary.bundle_version = json.loads(metadata.read_text())["version"]
    served = [r for r in predictions(store, SERVED_MODEL) if r["status"] == 200]
    summary.requests = len(served)
    if served:
        first = served[0]
        outputs = json.loads(first["outputs"])
        if isinstance(outputs, dict):
            outputs = outputs.get("predict", outputs)
        summary.prediction = {
            "model": first["model"],
            "version": first["version"],
            "n_rows": first["n_rows"],
            "outputs": outputs,
        }
    return summary


def write_comparison(store_root: Path, path: Path) -> Path:
    """A self-contained HTML page comparing the tracked sweep of notebook 1."""
    from .comparison.api import compare
    from .project import reset_default, set_default_root

    set_default_root(str(store_root))
    reset_default()
    try:
        compare(
            filter="tags.sweep = 'demo'", experiment=BEST_EXPERIMENT, metric=BEST_METRIC
        ).to_html(str(path))
    finally:
        set_default_root(None)
        reset_default()
    return path


def run_demo(directory: str | os.PathLike[str] = "mlops-lab-demo") -> int:
    """Execute the example notebooks in ``directory`` and print what they recorded."""
    _check_dependencies()
    source = notebooks_dir()
    target = Path(directory).resolve()
    store_root = target / ".mlops"
    work = target / "notebooks"
    for stale in (store_root, work):
        if stale.exists():
            shutil.rmtree(stale)
    work.mkdir(parents=True)
    from .pipeline.executors import skip_unused_imports
    from .pipeline.kernels import KernelPool

    skip_unused_imports()  # this process drives the notebooks; they run in kernels

    # One pool for the four notebooks: each one's kernel starts while the one before
    # runs. It closes last, so the last kernel's exit is not waited for before the summary.
    kernels = KernelPool(ahead=1)
    try:
        return _run(kernels, source, target, store_root, work)
    finally:
        kernels.close()


def _run(kernels: KernelPool, source: Path, target: Path, store_root: Path, work: Path) -> int:
    started = time.perf_counter()
    cpu_started = _cpu_seconds()
    for name in NOTEBOOKS:  # what they import is imported once, for every kernel
        kernels.preload(source / name, str(work))
    executed = []
    for i, name in enumerate(NOTEBOOKS, 1):
        print(f"[{i}/{len(NOTEBOOKS)}] executing {name}", flush=True)
        t0 = time.perf_counter()
        output = work / name
        if i == len(NOTEBOOKS):
            kernels.ahead = 0  # no notebook comes after the last one: start no kernel for it
        try:
            execute(source / name, output, store_root, work, kernels=kernels)
        except Exception as exc:  # papermill's execution error: the failing cell, in short
            print(f"      {name} failed; the executed notebook is {output}", file=sys.stderr)
            print(str(exc).strip()[-3000:], file=sys.stderr)
            return 1
        executed.append(output)
        print(f"      done in {time.perf_counter() - t0:.1f} s", flush=True)
        if i == 1:  # the page shows notebook 1's runs: written while the others run
            page = ThreadPoolExecutor(1, thread_name_prefix="mlops-demo-page")
            page_done = page.submit(write_comparison, store_root, target / "comparison.html")
            page.shutdown(wait=False)

    print("writing the comparison page ...", flush=True)
    comparison = page_done.result()
    summary = summarize(store_root, work)
    summary.comparison = comparison
    summary.notebooks = executed
    # Stopped before the CPU time is read: kernels forked from the pool's template are
    # its children, counted here once it has exited.
    kernels.close()
    print()
    print(
        f"mlops-lab demo finished in {time.perf_counter() - started:.1f} s "
        f"({_cpu_seconds() - cpu_started:.1f} s CPU)"
    )
    print("\n".join(summary.lines()))
    print()
    print("\n".join(next_steps(work)))
    return 0


def next_steps(work: Path, *, lab_installed: bool | None = None) -> list[str]:
    """How to open the executed notebooks: ``jupyter lab``, after installing it if needed.

    ``lab_installed`` defaults to whether ``jupyterlab`` can be imported here.
    """
    if lab_installed is None:
        from importlib.util import find_spec

        lab_installed = find_spec("jupyterlab") is not None
    if lab_installed:
        return [f"Open the notebooks in JupyterLab:  jupyter lab {work}"]
    return [
        "Open the notebooks in JupyterLab (with the Experiments panel):",
        '  pip install "mlops-lab[lab]"',
        f"  jupyter lab {work}",
    ]


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the kernels, the server)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system
