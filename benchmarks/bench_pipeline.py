"""Overhead of ``mlops-lab pipeline run`` over a bare ``papermill.execute_notebook``.

Trains the test notebook once, promotes it, then times N executions of the
promoted notebook by papermill alone and by ``ml.run_pipeline`` (validate,
train, evaluate, gate, register). Target: under 1.2x.

    python benchmarks/bench_pipeline.py [--repeat 3]
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
    args = parser.parse_args()
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
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
