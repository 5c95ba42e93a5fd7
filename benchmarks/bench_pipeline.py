"""What a pipeline, a sweep and the demo cost beyond their notebooks' own cells.

Inside a temporary git repository (as notebooks live), the test notebook (a
LogisticRegression) is trained once and promoted. Then, with the cell time of
every executed notebook read from its own papermill metadata (the sum of its
cells' ``duration``):

- single run: ``ml.run_pipeline`` (validate, train in a warm kernel, evaluate,
  gate, register) against a bare ``papermill.execute_notebook`` (a kernel
  started for it), ``--repeat`` times each; overhead = wall - cell time;
- sweep: ``ml.sweep`` over 16 combinations on 2 worker processes (warm kernels,
  each worker's store merged back) against the same 16 bare
  ``papermill.execute_notebook`` calls on 2 worker processes; overhead per
  combination = (wall x workers - total cell time) / combinations, i.e. the
  worker time not spent in cells. Target: <= 0.5 s;
- demo: ``mlops-lab demo`` in a temporary folder, wall time. Target: <= 30 s.

The results (machine, versions, load average, medians and min-max) are
written to ``benchmarks/RESULTS_pipeline.md`` by this script.

    python benchmarks/bench_pipeline.py [--repeat 3] [--sweep-repeat 1] [--no-demo]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS_pipeline.md"
WORKERS = 2
GRID = {"C": [0.001, 0.01, 0.1, 0.5, 1.0, 10.0, 100.0, 1000.0], "max_iter": [100, 200]}


def cell_seconds(nb_or_path) -> float:
    """The notebook's own cell time: the sum of papermill's per-cell durations."""
    import nbformat

    nb = (
        nbformat.read(str(nb_or_path), as_version=4)
        if isinstance(nb_or_path, str | Path)
        else nb_or_path
    )
    return sum(float(c.metadata.get("papermill", {}).get("duration") or 0.0) for c in nb.cells)


def bare(args: tuple[str, str, dict, str]) -> tuple[float, float]:
    """One bare ``papermill.execute_notebook`` (its own kernel): (wall, cell time)."""
    import papermill

    notebook, output, params, cwd = args
    t0 = time.perf_counter()
    nb = papermill.execute_notebook(
        notebook, output, parameters=params, cwd=cwd, progress_bar=False
    )
    return time.perf_counter() - t0, cell_seconds(nb)


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sweep-repeat", type=int, default=1)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    lines = _header()
    load_start = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.chdir(work)
    os.environ["MLOPS_LAB_HOME"] = str(work / ".mlops")
    sys.path.insert(0, str(ROOT / "tests" / "pipeline"))
    from conftest import write_data

    import mlops_lab as ml

    write_data(work / "data" / "train.csv")
    shutil.copy(ROOT / "tests" / "notebooks" / "pipeline_train.ipynb", work / "train.ipynb")
    for cmd in (
        ["git", "init", "-q"],
        ["git", "add", "-A"],
        [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "-qm",
            "x",
        ],
    ):
        subprocess.run(cmd, cwd=work, check=True)
    bare((str(work / "train.ipynb"), str(work / "train.out.ipynb"), {}, str(work)))
    spec = ml.promote("clf-train", "clf", metric="acc")
    params = spec.resolve_params()
    notebook, cwd = str(spec.notebook_path), str(spec.workdir_path)

    rows: list[tuple[str, str, str, str]] = []
    # -- a single run ------------------------------------------------------------------
    bare_wall, bare_over, pipe_wall, pipe_over = [], [], [], []
    for i in range(args.repeat):
        wall, cells = bare((notebook, str(work / f"bare{i}.ipynb"), params, cwd))
        bare_wall.append(wall)
        bare_over.append(wall - cells)
        t0 = time.perf_counter()
        result = ml.run_pipeline("clf", progress=False)
        wall = time.perf_counter() - t0
        pipe_wall.append(wall)
        pipe_over.append(wall - _train_cells(result.train_run))
    rows.append(("single run: bare papermill", _spread(bare_wall), _spread(bare_over), ""))
    rows.append(
        (
            "single run: ml.run_pipeline (5 steps)",
            _spread(pipe_wall),
            _spread(pipe_over),
            f"{statistics.median(pipe_wall) / statistics.median(bare_wall):.2f}x wall",
        )
    )
    # -- a sweep of 16 on 2 workers ----------------------------------------------------
    combos = [{**params, "C": c, "max_iter": m} for c in GRID["C"] for m in GRID["max_iter"]]
    n = len(combos)
    sw_wall, sw_over, bw_wall, bw_over = [], [], [], []
    for r in range(args.sweep_repeat):
        t0 = time.perf_counter()
        with ProcessPoolExecutor(
            WORKERS, mp_context=__import__("multiprocessing").get_context("spawn")
        ) as pool:
            outs = list(
                pool.map(
                    bare,
                    [
                        (notebook, str(work / f"b{r}-{i}.ipynb"), p, cwd)
                        for i, p in enumerate(combos)
                    ],
                )
            )
        wall = time.perf_counter() - t0
        bw_wall.append(wall)
        bw_over.append((wall * WORKERS - sum(c for _, c in outs)) / n)
        t0 = time.perf_counter()
        result = ml.sweep("clf", GRID, workers=WORKERS, progress=False)
        wall = time.perf_counter() - t0
        assert not result.failed, str(result)
        cells = 0.0
        for child in result.run.children:
            train = next(c for c in child.children if c.tags.get("mlops.step") == "train")
            cells += _train_cells(train)
        sw_wall.append(wall)
        sw_over.append((wall * WORKERS - cells) / n)
    rows.append(
        (
            f"sweep {n} on {WORKERS} workers: bare papermill",
            _spread(bw_wall),
            _spread(bw_over) + " per comb.",
            "",
        )
    )
    rows.append(
        (
            f"sweep {n} on {WORKERS} workers: ml.sweep",
            _spread(sw_wall),
            _spread(sw_over) + " per comb.",
            f"{statistics.median(sw_wall) / statistics.median(bw_wall):.2f}x wall (target overhead <= 0.50 s)",
        )
    )
    # -- the demo ----------------------------------------------------------------------
    if not args.no_demo:
        demo = work / "demo"
        env = {k: v for k, v in os.environ.items() if k != "MLOPS_LAB_HOME"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "mlops_lab.cli", "demo", "--dir", str(demo)],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        wall = time.perf_counter() - t0
        assert proc.returncode == 0, proc.stderr[-3000:]
        cpu = next((ln for ln in proc.stdout.splitlines() if "demo finished in" in ln), "")
        rows.append(("mlops-lab demo", f"{wall:.2f}", "", f"target <= 30 s; {cpu.strip()}"))
    load_end = os.getloadavg()
    lines += [
        f"Load average (1, 5, 15 min): {_load(load_start)} at the start, {_load(load_end)} at the end.",
        "",
        "| what | wall s: median (min-max) | overhead s: wall - cell time | ratio |",
        "|---|---|---|---|",
    ]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    lines += [
        "",
        f"Single run: {args.repeat} repeats; sweep: {args.sweep_repeat} repeat(s), "
        f"grid {GRID}. Cell time is the sum of papermill's per-cell durations in each "
        "executed notebook; the sweep's overhead per combination is "
        "(wall x workers - total cell time) / combinations.",
        "",
        "Written by `python benchmarks/bench_pipeline.py`.",
    ]
    RESULTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _train_cells(run) -> float:
    """The cell time of the notebook a train step executed (kept with its run)."""
    art = next(a for a in run.artifacts if a["kind"] == "notebook")
    return cell_seconds(run.store.blobs.path(art["digest"]))


def _load(values: tuple[float, float, float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _header() -> list[str]:
    import platform
    from importlib.metadata import version

    def v(name: str) -> str:
        try:
            return version(name)
        except Exception:
            return "-"

    return [
        "# Pipeline, sweep and demo overhead",
        "",
        f"{platform.node()} · {platform.machine()} · {os.cpu_count()} CPUs · "
        f"Python {platform.python_version()} · mlops-lab {v('mlops-lab')} · "
        f"papermill {v('papermill')} · nbclient {v('nbclient')} · jupyter_client "
        f"{v('jupyter_client')} · ipykernel {v('ipykernel')} · scikit-learn {v('scikit-learn')}",
        "",
    ]


if __name__ == "__main__":
    sys.exit(main())
