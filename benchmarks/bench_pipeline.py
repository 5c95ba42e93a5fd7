"""Overhead of ``mlops-lab pipeline run`` over a bare ``papermill.execute_notebook``,
and a sweep of 8 combinations on 2 local worker processes against 1.

Trains the test notebook once, promotes it, then times N executions of the
promoted notebook by papermill alone and by ``ml.run_pipeline`` (validate,
train, evaluate, gate, register). Target: under 1.2x. Then times
``ml.sweep`` over a grid of 8 combinations with ``workers=1`` and ``workers=2``
(medians of ``--sweep-repeat``), each including the merge of the workers' stores.

    python benchmarks/bench_pipeline.py [--repeat 3] [--sweep-repeat 1] [--no-sweep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sweep-repeat", type=int, default=1)
    parser.add_argument("--no-sweep", action="store_true")
    args = parser.parse_args()
    _header()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.chdir(work)
    os.environ["MLOPS_LAB_HOME"] = str(work / ".mlops")
    sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
    import papermill
    from conftest import write_data

    import mlops_lab as ml

    write_data(work / "data" / "train.csv")
    shutil.copy(ROOT / "tests" / "notebooks" / "pipeline_train.ipynb", work / "train.ipynb")
    papermill.execute_notebook("train.ipynb", "train.out.ipynb", cwd=str(work), progress_bar=False)
    spec = ml.promote("clf-train", "clf", metric="acc")
    params = spec.resolve_params()

    bare, full = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        papermill.execute_notebook(
            str(spec.notebook_path),
            str(work / "bare.ipynb"),
            parameters=params,
            cwd=str(spec.workdir_path),
            progress_bar=False,
        )
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ml.run_pipeline("clf", progress=False)
        full.append(time.perf_counter() - t0)
    b, f = statistics.median(bare), statistics.median(full)
    print(f"papermill alone : {b:6.2f} s (median of {args.repeat})")
    print(f"pipeline run    : {f:6.2f} s")
    print(f"overhead        : {f / b:6.2f}x (target < 1.2x)")
    if not args.no_sweep:
        _bench_sweep(ml, args.sweep_repeat)
    shutil.rmtree(work, ignore_errors=True)
    return 0


GRID = {"C": [0.001, 0.01, 1.0, 10.0], "max_iter": [100, 200]}  # 8 combinations


def _bench_sweep(ml, repeat: int) -> None:
    times: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for workers in (1, 2):
            t0 = time.perf_counter()
            result = ml.sweep("clf", GRID, workers=workers, progress=False)
            times[workers].append(time.perf_counter() - t0)
            assert not result.failed, str(result)
    one, two = statistics.median(times[1]), statistics.median(times[2])
    print(f"sweep 8, 1 worker : {one:6.2f} s (median of {repeat})")
    print(f"sweep 8, 2 workers: {two:6.2f} s")
    print(f"speed-up          : {one / two:6.2f}x")


def _header() -> None:
    import platform
    from importlib.metadata import version

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "-"

    print(
        f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · mlops-lab {v('mlops-lab')} · "
        f"papermill {v('papermill')} · scikit-learn {v('scikit-learn')} · dask {v('dask')}"
    )


if __name__ == "__main__":
    sys.exit(main())
