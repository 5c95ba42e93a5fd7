"""Tracking, side by side: MLflow (SQLite backend) and mlops-lab in the same process.

Each figure runs both libraries on a fresh temporary store of its own and
prints both medians, their spread (min-max over the repeats) and the ratio
(MLflow / mlops-lab: how many times faster mlops-lab is). The machines these
run on are shared and noisy, so compare ratios rather than absolute times.

Usage::

    pip install -e ".[bench]"
    python benchmarks/bench_tracking.py            # full sizes, writes benchmarks/RESULTS.md
    python benchmarks/bench_tracking.py --quick    # small sizes, under a minute, writes nothing

Figures:

1. ``log_metric`` one call at a time, amortised per call including the final flush,
   against MLflow's synchronous calls and its asynchronous ones
   (``synchronous=False``, ``mlflow.flush_async_logging()`` included), the three
   interleaved round by round, each on a store of its own.
2. start + end of a run from a script inside a temporary git repository with
   edited and untracked files (both record source and git), in worker processes
   interleaved round by round; mlops-lab's cost there against outside any repo.
   The first run of a process, which reads the package list once, on its own line.
3. the runs table: ``ml.runs()`` over 10,000 runs x 20 params x 10 metrics vs
   ``mlflow.search_runs``, compared per run; plus a filtered, ordered query; and
   both over 100,000 runs (written by ``Store.insert_runs``, not timed).
4. scikit-learn autolog overhead on a LogisticRegression fit, model logged.
5. ``import mlflow`` vs ``import mlops_lab``, and ``%load_ext mlops_lab``, each
   in a fresh interpreter; the heavy modules loaded by ``%load_ext`` are listed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import importlib.util
import json
import logging
import os
import platform
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
# One BLAS thread: on a shared 2-core machine a multi-threaded fit varies several-fold,
# which would drown the autolog overhead being measured. Same for both libraries.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

HERE = Path(__file__).resolve().parent
HEAVY_MODULES = ("plotly", "sklearn", "papermill", "fastapi")
REPORTED_MODULES = (*HEAVY_MODULES, "pandas", "mlflow")

# Targets: (comparison, threshold) on the ratio ("ratio") or on mlops-lab's median ("ours").
TARGETS = {
    "log_metric": ("ratio", 1000.0),
    "log_metric_async": ("ratio", 100.0),
    "start_end": ("ratio", 20.0),
    "git_cost": ("ratio_max", 1.10),
    "runs_per_run": ("ratio", 20.0),
    "runs_10k": ("ours", 0.5),
    "runs_100k": ("ours", 1.5),
    "filter_100k": ("ours", 1.5),
    "autolog": ("ours", 0.050),
    "load_ext": ("ours", 0.15),
}


# -- measuring ------------------------------------------------------------------------


@dataclass
class Stat:
    """Median and spread of repeated measurements (seconds)."""

    samples: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def lo(self) -> float:
        return min(self.samples)

    @property
    def hi(self) -> float:
        return max(self.samples)

    def scaled(self, factor: float) -> Stat:
        return Stat([s * factor for s in self.samples])

    def text(self) -> str:
        if len(self.samples) == 1:
            return f"{fmt_time(self.median)} (n=1)"
        return f"{fmt_time(self.median)} ({fmt_time(self.lo)}-{fmt_time(self.hi)}, n={len(self.samples)})"


@dataclass
class Row:
    figure: str
    mlflow: Stat | None
    ours: Stat | None
    target_key: str | None = None
    target_text: str = ""
    ratio_of_medians: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if self.ratio_of_medians is not None:
            return self.ratio_of_medians
        if self.mlflow is None or self.ours is None or self.ours.median <= 0:
            return None
        return self.mlflow.median / self.ours.median

    @property
    def met(self) -> bool | None:
        if self.target_key is None:
            return None
        kind, threshold = TARGETS[self.target_key]
        if kind == "ratio":
            return None if self.ratio is None else self.ratio >= threshold
        if kind == "ratio_max":
            return None if self.ratio is None else self.ratio <= threshold
        return None if self.ours is None else self.ours.median < threshold


def fmt_time(seconds: float) -> str:
    if seconds != seconds:  # NaN
        return "n/a"
    if abs(seconds) < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    if abs(seconds) < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def fresh_dir(prefix: str) -> Iterator[Path]:
    """A temporary working directory, removed afterwards."""
    old = Path.cwd()
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        os.chdir(tmp)
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)


@contextlib.contextmanager
def mlflow_store(tmp: Path) -> Iterator[object]:
    """MLflow on a fresh SQLite file in ``tmp``; yields the ``mlflow`` module."""
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{tmp / 'mlflow.db'}")
    # The first call creates the schema (Alembic migrations): not part of any figure.
    mlflow.set_experiment("bench")
    try:
        yield mlflow
    finally:
        while mlflow.active_run() is not None:
            mlflow.end_run()


@contextlib.contextmanager
def ours_store(tmp: Path) -> Iterator[object]:
    """mlops-lab on a fresh store in ``tmp``; yields the ``mlops_lab`` module."""
    import mlops_lab as ml
    from mlops_lab.project import set_default_root

    set_default_root(tmp / ".mlops")
    try:
        yield ml
    finally:
        while ml.active_run() is not None:
            ml.end_run()
        ml.flush()
        set_default_root(None)


# -- 1. log_metric -------------------------------------------------------------------


def bench_log_metric(sizes: dict) -> list[Row]:
    """MLflow synchronous, MLflow asynchronous and mlops-lab, each on a store of its own,
    their repeats interleaved: each round times the three within the same minute, so that
    the machine's drift (MLflow's commit time follows the disk's) weighs on all three."""
    reps = sizes["reps"]
    n_peer, n_ours = sizes["metric_calls_mlflow"], sizes["metric_calls_ours"]
    n_async = sizes["metric_calls_async"]
    peer: list[float] = []
    peer_async: list[float] = []
    ours: list[float] = []
    with contextlib.ExitStack() as stack:
        sync_dir = stack.enter_context(fresh_dir("bench-mlflow-"))
        async_dir = stack.enter_context(fresh_dir("bench-mlflow-async-"))
        ml = stack.enter_context(ours_store(stack.enter_context(fresh_dir("bench-ours-"))))
        for _ in range(reps):
            with mlflow_store(sync_dir) as mlflow, mlflow.start_run():
                mlflow.log_metric("warmup", 0.0)
                elapsed = timed(
                    lambda: [mlflow.log_metric("loss", i * 0.001, step=i) for i in range(n_peer)]
                )
                peer.append(elapsed / n_peer)
            with mlflow_store(async_dir) as mlflow, mlflow.start_run():
                mlflow.log_metric("warmup", 0.0, synchronous=False)
                mlflow.flush_async_logging()

                def async_calls() -> None:
                    for i in range(n_async):
                        mlflow.log_metric("loss", i * 0.001, step=i, synchronous=False)
                    mlflow.flush_async_logging()

                peer_async.append(timed(async_calls) / n_async)
            with ml.start_run():
                ml.log_metric("warmup", 0.0)
                ml.flush()

                def calls() -> None:
                    log_metric = ml.log_metric
                    for i in range(n_ours):
                        log_metric("loss", i * 0.001)
                    ml.flush()

                ours.append(timed(calls) / n_ours)
            log(f"log_metric: round {len(ours)} of {reps} done")
    return [
        Row(
            "log_metric, per call (amortised, flush included)",
            Stat(peer),
            Stat(ours),
            "log_metric",
            ">= 1000x",
            notes=[
                f"MLflow: {n_peer} calls per repeat; mlops-lab: {n_ours:,} calls + flush; "
                "the three timed in turn, one round a repeat"
            ],
        ),
        Row(
            "log_metric vs MLflow asynchronous logging (synchronous=False), flush included",
            Stat(peer_async),
            Stat(ours),
            "log_metric_async",
            ">= 100x",
            notes=[
                f"MLflow: {n_async:,} calls with synchronous=False then "
                "mlflow.flush_async_logging(), amortised per call"
            ],
        ),
    ]


# -- 2. start + end run ---------------------------------------------------------------

_FIRST_RUN_CODE = r"""
import json, os, sys, time
import mlops_lab as ml
ml.runs()  # creates the store and imports pandas: not part of the figure
t0 = time.perf_counter(); ml.start_run(); ml.end_run(); t1 = time.perf_counter()
ml.start_run(); ml.end_run(); t2 = time.perf_counter()
print(json.dumps({"first": t1 - t0, "second": t2 - t1}))
"""

# A training script's start + end, run from the folder it lives in: MLflow and
# mlops-lab each record this script as the run's source and the git state of its repo.
_RUNS_WORKER = r"""# Times start + end of runs: python train.py {mlflow|ours} N
import json, logging, os, sys, time, warnings

warnings.filterwarnings("ignore")
which, n = sys.argv[1], int(sys.argv[2])
samples = []
if which == "mlflow":
    import mlflow

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(os.environ["BENCH_MLFLOW_URI"])
    mlflow.set_experiment("bench")
    for _ in range(2):
        mlflow.start_run(); mlflow.end_run()
    for _ in range(n):
        t = time.perf_counter()
        run = mlflow.start_run()
        mlflow.end_run()
        samples.append(time.perf_counter() - t)
    tags = mlflow.get_run(run.info.run_id).data.tags
    recorded = {"commit": tags.get("mlflow.source.git.commit"), "dirty": None}
else:
    import mlops_lab as ml

    for _ in range(2):
        ml.start_run(); ml.end_run()
    for _ in range(n):
        t = time.perf_counter()
        run = ml.start_run()
        ml.end_run()
        samples.append(time.perf_counter() - t)
    recorded = run.git  # waits for the dirty flag of the last run
print(json.dumps({"samples": samples, "recorded": recorded}))
"""


def _git(repo: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com", *args]
    return subprocess.run(cmd, cwd=repo, capture_output=True, text=True, check=True).stdout


def make_dirty_repo(repo: Path) -> str:
    """A repository of 200 committed files, then 2 edited and 3 untracked; its HEAD."""
    for i in range(200):
        folder = repo / "src" / f"pkg{i % 10}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"mod{i}.py").write_text(f"VALUE = {i}\n" * 20)
    (repo / "train.py").write_text(_RUNS_WORKER)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "initial")
    (repo / "src" / "pkg0" / "mod0.py").write_text("VALUE = 'edited'\n")
    (repo / "src" / "pkg1" / "mod1.py").write_text("VALUE = 'edited'\n")
    for name in ("scratch.py", "notes.md", "data.csv"):
        (repo / name).write_text("untracked\n")
    status = _git(repo, "status", "--porcelain").splitlines()
    assert len(status) == 5, status
    return _git(repo, "rev-parse", "HEAD").strip()


def _worker(script: Path, which: str, n: int, env: dict[str, str]) -> tuple[dict, float]:
    """The worker's output, and its whole process time (start-up to exit)."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(script), which, str(n)],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1]), time.perf_counter() - started


def bench_start_end(sizes: dict) -> list[Row]:
    n_peer, n_ours, rounds = sizes["runs_mlflow"], sizes["runs_ours"], sizes["runs_rounds"]
    samples: dict[str, list[float]] = {"mlflow": [], "inside": [], "outside": []}
    process: dict[str, list[float]] = {"inside": [], "outside": []}
    recorded: dict[str, dict] = {}
    round_medians: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-git-") as tmp_name:
        tmp = Path(tmp_name)
        repo, plain, stores = tmp / "repo", tmp / "plain", tmp / "stores"
        for folder in (repo, plain, stores):
            folder.mkdir()
        head = make_dirty_repo(repo)
        (plain / "train.py").write_text(_RUNS_WORKER)
        env = {
            **os.environ,
            "MLOPS_LAB_HOME": str(stores / ".mlops"),
            "BENCH_MLFLOW_URI": f"sqlite:///{stores / 'mlflow.db'}",
        }
        # Rounds interleave the three, so the machine's load drifting hits all alike; more,
        # shorter rounds average out what one process's start happens to meet, and the two
        # mlops-lab workers swap places each round (neither always follows MLflow's).
        for index in range(rounds):
            ours = [
                ("inside", repo / "train.py", "ours", n_ours),
                ("outside", plain / "train.py", "ours", n_ours),
            ]
            if index % 2:
                ours.reverse()
            for key, script, which, n in [("mlflow", repo / "train.py", "mlflow", n_peer), *ours]:
                data, elapsed = _worker(script, which, n, env)
                samples[key] += data["samples"]
                round_medians.setdefault(key, []).append(statistics.median(data["samples"]))
                recorded[key] = data["recorded"]
                if key in process:
                    process[key].append(elapsed)
    log("start+end: done")
    ours_in = recorded["inside"]
    assert ours_in["commit"] == head and ours_in["dirty"] is True, ours_in
    assert recorded["outside"] == {}, recorded["outside"]
    inside, outside = Stat(samples["inside"]), Stat(samples["outside"])
    rows = [
        Row(
            "start + end run, script in a git repo with edited and untracked files",
            Stat(samples["mlflow"]),
            inside,
            "start_end",
            ">= 20x",
            notes=[
                f"{rounds} rounds of one process each: MLflow {n_peer} runs, mlops-lab "
                f"{n_ours} runs a round, each run timed alone; the repo has 200 committed "
                "files, 2 edited, 3 untracked; both record the script as the source and "
                f"the git commit (MLflow {str(recorded['mlflow'].get('commit'))[:8]}, "
                f"mlops-lab {str(ours_in['commit'])[:8]} dirty={ours_in['dirty']})",
            ],
        ),
        Row(
            "mlops-lab start + end in that repo / outside any git repo",
            None,
            inside,
            "git_cost",
            "<= 1.10x",
            ratio_of_medians=inside.median / outside.median,
            notes=[
                f"outside any git repo: {outside.text()}",
                "each round's ratio of medians (in the repo / outside): "
                + ", ".join(
                    f"{a / b:.2f}"
                    for a, b in zip(round_medians["inside"], round_medians["outside"], strict=True)
                ),
                f"whole worker process (start-up, {n_ours} runs, exit): in the repo "
                f"{Stat(process['inside']).text()}, outside {Stat(process['outside']).text()}",
            ],
        ),
    ]
    first: list[float] = []
    second: list[float] = []
    for _ in range(sizes["first_run_reps"]):
        with fresh_dir("bench-ours-") as tmp:
            env = {**os.environ, "MLOPS_LAB_HOME": str(tmp / ".mlops")}
            out = subprocess.run(
                [sys.executable, "-c", _FIRST_RUN_CODE],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            data = json.loads(out.strip().splitlines()[-1])
            first.append(data["first"])
            second.append(data["second"])
    rows.append(
        Row(
            "mlops-lab first start + end of a process (package list read once)",
            None,
            Stat(first),
            notes=[f"the second run of the same processes: {Stat(second).text()}"],
        )
    )
    return rows


# -- 3. the runs table ----------------------------------------------------------------

N_PARAMS, N_METRICS = 20, 10


def _param_values(rng: random.Random) -> dict[str, object]:
    params: dict[str, object] = {}
    for j in range(N_PARAMS):
        if j < 8:
            params[f"p{j}"] = round(rng.random(), 6)
        elif j < 14:
            params[f"p{j}"] = rng.randrange(1, 1000)
        else:
            params[f"p{j}"] = rng.choice(["a", "b", "c", "d"]) + str(j)
    return params


def populate_ours(ml: object, n_runs: int, seed: int = 0) -> None:
    """``n_runs`` finished runs through :class:`mlops_lab.Store` (three transactions a run)."""
    from mlops_lab.tracking.run import param_value

    rng = random.Random(seed)
    store = ml.Store(Path.cwd() / ".mlops")
    exp = store.experiment_id("bench")
    base = time.time() - n_runs
    host, pid = platform.node(), os.getpid()
    for i in range(n_runs):
        run_id = uuid.uuid4().hex
        start = base + i
        store.create_run(
            {
                "run_id": run_id,
                "name": f"run-{i}",
                "experiment_id": exp,
                "status": "running",
                "start_time": start,
                "heartbeat": start,
                "host": host,
                "pid": pid,
                "source_type": "script",
            },
            {"team": rng.choice(["x", "y"])},
        )
        store.log_params(
            run_id,
            [(k, *param_value(k, v)) for k, v in _param_values(rng).items()],
        )
        metrics = [(run_id, f"m{k}", rng.random(), 0, start + 0.5) for k in range(N_METRICS)]
        store.end_run(run_id, "finished", start + 0.9, metrics)


def populate_ours_bulk(ml: object, n_runs: int, seed: int = 0) -> None:
    """The runs of :func:`populate_ours`, written by ``Store.insert_runs`` in one transaction."""
    from mlops_lab.store import RunRows
    from mlops_lab.tracking.run import param_value

    rng = random.Random(seed)
    store = ml.Store(Path.cwd() / ".mlops")
    exp = store.experiment_id("bench")
    base = time.time() - n_runs
    host, pid = platform.node(), os.getpid()
    batch = []
    for i in range(n_runs):
        start = base + i
        tags = {"team": rng.choice(["x", "y"])}
        params = [(k, *param_value(k, v)) for k, v in _param_values(rng).items()]
        metrics = [(f"m{k}", rng.random(), 0, start + 0.5) for k in range(N_METRICS)]
        record = {
            "run_id": uuid.uuid4().hex,
            "name": f"run-{i}",
            "experiment_id": exp,
            "status": "finished",
            "start_time": start,
            "end_time": start + 0.9,
            "heartbeat": start + 0.9,
            "host": host,
            "pid": pid,
            "source_type": "script",
        }
        batch.append(RunRows(record, params, metrics, tags))
    store.insert_runs(batch)


def populate_mlflow(mlflow: object, n_runs: int, seed: int = 0) -> str:
    """``n_runs`` finished runs through ``MlflowClient`` (create_run, log_batch, set_terminated)."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    rng = random.Random(seed)
    client = MlflowClient()
    exp_id = client.create_experiment("runs-table")
    for i in range(n_runs):
        run = client.create_run(exp_id, run_name=f"run-{i}", tags={"team": rng.choice("xy")})
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[Metric(f"m{k}", rng.random(), now, 0) for k in range(N_METRICS)],
            params=[Param(k, str(v)) for k, v in _param_values(rng).items()],
        )
        client.set_terminated(run_id)
    return exp_id


FILTER = "metrics.m0 > 0.5 and params.p14 = 'a14'"
ORDER = "metrics.m1 desc"


def bench_runs(sizes: dict) -> list[Row]:
    n_big, n_small = sizes["table_runs_ours"], sizes["table_runs_mlflow"]
    reps = sizes["query_reps"]
    with fresh_dir("bench-mlflow-") as tmp, mlflow_store(tmp) as mlflow:
        pop = time.perf_counter()
        exp_id = populate_mlflow(mlflow, n_small)
        log(f"runs: MLflow populated {n_small} runs in {time.perf_counter() - pop:.1f} s")
        frame = mlflow.search_runs([exp_id], max_results=n_small + 10)
        assert len(frame) == n_small, len(frame)
        peer_shape = frame.shape
        peer_all = Stat(
            [
                timed(lambda: mlflow.search_runs([exp_id], max_results=n_small + 10))
                for _ in range(reps)
            ]
        )
        peer_filtered = Stat(
            [
                timed(
                    lambda: mlflow.search_runs(
                        [exp_id],
                        filter_string=FILTER,
                        order_by=["metrics.m1 DESC"],
                        max_results=n_small + 10,
                    )
                )
                for _ in range(reps)
            ]
        )
    log("runs: MLflow queried")
    results: dict[int, tuple[Stat, Stat, tuple]] = {}
    for n in (n_small, n_big):
        with fresh_dir("bench-ours-") as tmp, ours_store(tmp) as ml:
            pop = time.perf_counter()
            populate_ours(ml, n)
            log(f"runs: mlops-lab populated {n} runs in {time.perf_counter() - pop:.1f} s")
            frame = ml.runs()
            assert len(frame) == n, len(frame)
            shape = frame.shape
            all_runs = Stat([timed(ml.runs) for _ in range(reps + 2)])
            filtered = Stat(
                [timed(lambda: ml.runs(filter=FILTER, order_by=ORDER)) for _ in range(reps + 2)]
            )
            results[n] = (all_runs, filtered, shape)
    n_huge = sizes["table_runs_huge"]
    with fresh_dir("bench-ours-") as tmp, ours_store(tmp) as ml:
        pop = time.perf_counter()
        populate_ours_bulk(ml, n_huge)
        log(f"runs: mlops-lab bulk-populated {n_huge} runs in {time.perf_counter() - pop:.1f} s")
        frame = ml.runs()
        assert len(frame) == n_huge, len(frame)
        huge_shape = frame.shape
        del frame
        huge_all = Stat([timed(ml.runs) for _ in range(reps + 2)])
        huge_filtered = Stat(
            [timed(lambda: ml.runs(filter=FILTER, order_by=ORDER)) for _ in range(reps + 2)]
        )
    log("runs: mlops-lab queried")
    small_all, small_filtered, _ = results[n_small]
    big_all, big_filtered, big_shape = results[n_big]
    per_run_ratio = (peer_all.median / n_small) / (big_all.median / n_big)
    populated = (
        f"both populated with {N_PARAMS} params, {N_METRICS} metrics and 1 tag a run "
        f"(MLflow through MlflowClient, mlops-lab through ml.Store)"
    )
    return [
        Row(
            f"runs table, {n_small:,} runs (ml.runs() vs mlflow.search_runs)",
            peer_all,
            small_all,
            notes=[
                populated,
                f"frames: MLflow {peer_shape[0]}x{peer_shape[1]}, mlops-lab {n_big:,} runs "
                f"{big_shape[0]}x{big_shape[1]}",
            ],
        ),
        Row(
            f"runs table, per run: MLflow at {n_small:,} runs vs mlops-lab at {n_big:,}",
            peer_all.scaled(1 / n_small),
            big_all.scaled(1 / n_big),
            "runs_per_run",
            ">= 20x",
            ratio_of_medians=per_run_ratio,
        ),
        Row(f"ml.runs() over {n_big:,} runs", None, big_all, "runs_10k", "< 0.5 s"),
        Row(
            f"filter + order_by, {n_small:,} runs",
            peer_filtered,
            small_filtered,
            notes=[f'filter "{FILTER}", order by {ORDER}'],
        ),
        Row(f"filter + order_by, mlops-lab over {n_big:,} runs", None, big_filtered),
        Row(
            f"ml.runs() over {n_huge:,} runs",
            None,
            huge_all,
            "runs_100k",
            "< 1.5 s",
            notes=[
                f"written by Store.insert_runs in one transaction (not timed): the same "
                f"runs as above; frame {huge_shape[0]}x{huge_shape[1]}"
            ],
        ),
        Row(
            f"filter + order_by, mlops-lab over {n_huge:,} runs",
            None,
            huge_filtered,
            "filter_100k",
            "< 1.5 s",
        ),
    ]


# -- 4. autolog -----------------------------------------------------------------------


def _dataset(sizes: dict):
    from sklearn.datasets import make_classification

    return make_classification(
        n_samples=sizes["autolog_samples"], n_features=50, n_informative=25, random_state=0
    )


def _paired(fit: Callable[[], None], enable: Callable, disable: Callable, reps: int) -> tuple:
    """``reps`` pairs (bare fit, autologged fit) back to back: the overhead of each
    pair is robust to the machine's load drifting between pairs."""
    bare, logged = [], []
    for _ in range(reps):
        bare.append(timed(fit))
        enable()
        try:
            logged.append(timed(fit))
        finally:
            disable()
    return Stat([a - b for a, b in zip(logged, bare, strict=True)]), Stat(bare), Stat(logged)


def bench_autolog(sizes: dict) -> list[Row]:
    from sklearn.linear_model import LogisticRegression

    X, y = _dataset(sizes)

    def fit() -> None:
        LogisticRegression(max_iter=1000).fit(X, y)

    fit()  # warm-up
    reps_peer, reps_ours = sizes["autolog_reps_mlflow"], sizes["autolog_reps_ours"]
    with fresh_dir("bench-mlflow-") as tmp, mlflow_store(tmp) as mlflow:
        import mlflow.sklearn

        def peer_on() -> None:
            mlflow.sklearn.autolog(log_models=True, silent=True)

        def peer_off() -> None:
            mlflow.sklearn.autolog(disable=True)

        peer_on()
        fit()  # warm-up: the first autologged fit imports MLflow's model machinery
        peer_off()
        peer, peer_bare, peer_fit = _paired(fit, peer_on, peer_off, reps_peer)
    log("autolog: MLflow done")
    has_ours = importlib.util.find_spec("mlops_lab.tracking.autolog") is not None
    notes = [
        f"LogisticRegression(max_iter=1000) on make_classification("
        f"{sizes['autolog_samples']:,} x 50), one BLAS thread; overhead = autologged fit "
        "- bare fit, measured in back-to-back pairs",
        f"MLflow: mlflow.sklearn.autolog(log_models=True): fit {peer_fit.text()}, "
        f"bare {peer_bare.text()}",
    ]
    if not has_ours:
        notes.append("mlops-lab: mlops_lab.tracking.autolog does not exist yet; skipped")
        return [Row("sklearn autolog overhead, model logged", peer, None, notes=notes)]
    with fresh_dir("bench-ours-") as tmp, ours_store(tmp) as ml:
        ml.autolog(True)
        fit()  # warm-up
        ml.autolog(False)
        ours, ours_bare, ours_fit = _paired(
            fit, lambda: ml.autolog(True), lambda: ml.autolog(False), reps_ours
        )
        frame = ml.runs()
        models = sum(
            1 for a in ml.get_run(frame["run_id"].iloc[0]).artifacts if a.get("kind") == "model"
        )
    log("autolog: mlops-lab done")
    notes.append(
        f"mlops-lab: ml.autolog(True): fit {ours_fit.text()}, bare {ours_bare.text()}; "
        f"{len(frame)} runs logged, {models} model artifact(s) in the last"
    )
    return [
        Row(
            "sklearn autolog overhead, model logged",
            peer,
            ours,
            "autolog",
            "< 50 ms",
            notes=notes,
        )
    ]


# -- 5. imports -----------------------------------------------------------------------

_IMPORT_CODE = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"

_LOAD_EXT_CODE = r"""
import json, sys, time
from IPython.core.interactiveshell import InteractiveShell
ip = InteractiveShell.instance()
t = time.perf_counter()
import mlops_lab
ip.run_line_magic("load_ext", "mlops_lab")
elapsed = time.perf_counter() - t
print(json.dumps({"elapsed": elapsed, "modules": [m for m in MODULES if m in sys.modules]}))
"""


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, *args, "-c", code], capture_output=True, text=True, check=True, env=env
    )


def _import_time(mod: str, reps: int) -> Stat:
    _python(_IMPORT_CODE.format(mod=mod))  # warm the OS file cache
    return Stat([float(_python(_IMPORT_CODE.format(mod=mod)).stdout.strip()) for _ in range(reps)])


def top_imports(code: str, n: int = 8) -> list[tuple[float, str]]:
    """The ``n`` slowest top-level imports of ``code`` (``python -X importtime``)."""
    err = _python(code, "-X", "importtime").stderr
    out = []
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        parts = line.split("|")
        try:
            cumulative = int(parts[1].strip())
        except ValueError:
            continue
        name = parts[2].rstrip()
        if not name.startswith("  "):  # depth 1 only: " name"
            out.append((cumulative / 1e6, name.strip()))
    return sorted(out, reverse=True)[:n]


def _compile_bytecode() -> str:
    """Compile mlops-lab's modules to bytecode, as ``pip install`` does for both packages.

    An editable install under ``PYTHONDONTWRITEBYTECODE`` would otherwise compile
    every module from source on each import, which no installed copy does.
    """
    import compileall
    import importlib.util

    import mlops_lab

    folder = Path(mlops_lab.__file__).parent
    compileall.compile_dir(str(folder), quiet=1)
    spec = importlib.util.find_spec("mlflow")
    peer = Path(spec.origin if spec and spec.origin else ".").parent / "__pycache__"
    return f"bytecode compiled for mlops-lab; MLflow's from its install: {peer.is_dir()}"


def bench_imports(sizes: dict) -> tuple[list[Row], dict]:
    reps = sizes["import_reps"]
    compiled = _compile_bytecode()
    peer = _import_time("mlflow", reps)
    ours = _import_time("mlops_lab", reps)
    code = _LOAD_EXT_CODE.replace("MODULES", repr(REPORTED_MODULES))
    _python(code)
    runs = [json.loads(_python(code).stdout.strip().splitlines()[-1]) for _ in range(reps)]
    load_ext = Stat([r["elapsed"] for r in runs])
    loaded = sorted({m for r in runs for m in r["modules"]})
    heavy = [m for m in loaded if m in HEAVY_MODULES]
    log("imports done")
    rows = [
        Row("import mlflow vs import mlops_lab (fresh interpreter)", peer, ours, notes=[compiled]),
        Row(
            "import mlops_lab + %load_ext mlops_lab (IPython already loaded)",
            None,
            load_ext,
            "load_ext",
            "< 0.15 s",
            notes=[
                "modules loaded after %load_ext, of "
                + ", ".join(REPORTED_MODULES)
                + ": "
                + (", ".join(loaded) or "none")
            ],
        ),
    ]
    info = {"loaded": loaded, "heavy": heavy}
    if load_ext.median >= TARGETS["load_ext"][1]:
        info["top"] = top_imports(_LOAD_EXT_CODE.replace("MODULES", "()"))
    return rows, info


# -- report ---------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> float:
    """The 1-minute load average (how busy the shared machine is), or NaN."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "ram": ram,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "mlops-lab": _version("mlops-lab"),
        "mlflow": _version("mlflow"),
        "pandas": _version("pandas"),
        "numpy": _version("numpy"),
        "scikit-learn": _version("scikit-learn"),
        "skops": _version("skops"),
        "sqlalchemy": _version("sqlalchemy"),
    }


def _met_text(row: Row) -> str:
    if row.met is None:
        return ""
    return "yes" if row.met else "**no**"


def table(rows: list[Row]) -> str:
    lines = [
        "| figure | MLflow 3 (SQLite) median (min-max) | mlops-lab median (min-max) | ratio | target | met |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row.ratio:,.0f}x" if row.ratio is not None and row.ratio >= 10 else ""
        if row.ratio is not None and row.ratio < 10:
            ratio = f"{row.ratio:.2f}x"
        lines.append(
            f"| {row.figure} | {row.mlflow.text() if row.mlflow else '-'} | "
            f"{row.ours.text() if row.ours else '-'} | {ratio or '-'} | "
            f"{row.target_text or '-'} | {_met_text(row) or '-'} |"
        )
    return "\n".join(lines)


def report(rows: list[Row], info: dict, env: dict[str, str], args: argparse.Namespace) -> str:
    when = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    out = [
        "# Tracking benchmark: mlops-lab vs MLflow (SQLite backend)",
        "",
        f"`python benchmarks/bench_tracking.py{' --quick' if args.quick else ''}`, {when}. "
        "Both libraries run in the same process, each figure on fresh temporary stores. "
        "Ratio = MLflow median / mlops-lab median (how many times faster mlops-lab is). "
        "The machine is shared and noisy: compare ratios, not absolute times.",
        "",
        f"- machine: {env['cpus']} CPUs, {env['cpu']}, {env['ram']} RAM, {env['os']}",
        f"- Python {env['python']}, SQLite {env['sqlite']}",
        f"- load average {env.get('load', 'n/a')}",
        "- "
        + ", ".join(
            f"{k} {env[k]}"
            for k in (
                "mlops-lab",
                "mlflow",
                "sqlalchemy",
                "pandas",
                "numpy",
                "scikit-learn",
                "skops",
            )
        ),
        "",
        table(rows),
        "",
        "Notes:",
        "",
    ]
    for row in rows:
        for note in row.notes:
            out.append(f"- {row.figure}: {note}")
    heavy = info.get("heavy", [])
    out.append(
        "- heavy modules after `%load_ext mlops_lab` (plotly, sklearn, papermill, fastapi): "
        + (", ".join(heavy) if heavy else "none")
    )
    if "top" in info:
        out.append(
            "- slowest imports under `%load_ext`: "
            + ", ".join(f"{name} {fmt_time(t)}" for t, name in info["top"])
        )
    return "\n".join(out) + "\n"


SIZES = {
    "full": {
        "reps": 5,
        "metric_calls_mlflow": 200,
        "metric_calls_ours": 100_000,
        "runs_mlflow": 8,
        "runs_ours": 100,
        "runs_rounds": 6,
        "metric_calls_async": 500,
        "first_run_reps": 3,
        "table_runs_mlflow": 1_000,
        "table_runs_ours": 10_000,
        "table_runs_huge": 100_000,
        "query_reps": 3,
        "autolog_samples": 20_000,
        "autolog_reps_mlflow": 3,
        "autolog_reps_ours": 7,
        "import_reps": 5,
    },
    "quick": {
        "reps": 3,
        "metric_calls_mlflow": 50,
        "metric_calls_ours": 20_000,
        "runs_mlflow": 5,
        "runs_ours": 50,
        "runs_rounds": 2,
        "metric_calls_async": 200,
        "first_run_reps": 1,
        "table_runs_mlflow": 100,
        "table_runs_ours": 1_000,
        "table_runs_huge": 5_000,
        "query_reps": 2,
        "autolog_samples": 5_000,
        "autolog_reps_mlflow": 1,
        "autolog_reps_ours": 3,
        "import_reps": 2,
    },
}

FIGURES = ("log_metric", "start_end", "runs", "autolog", "imports")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    parser.add_argument(
        "--only", choices=FIGURES, action="append", help="run only these figures (repeatable)"
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=None,
        help="markdown file to write (default: benchmarks/RESULTS.md on a full run, "
        "nothing with --quick or --only)",
    )
    args = parser.parse_args(argv)
    sizes = SIZES["quick" if args.quick else "full"]
    only = set(args.only or FIGURES)

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")

    env = machine()
    print("mlops-lab tracking benchmark" + (" (--quick)" if args.quick else ""))
    print(f"machine: {env['cpus']} CPUs, {env['cpu']}, {env['ram']} RAM, {env['os']}")
    print(
        f"python {env['python']}, sqlite {env['sqlite']}, mlops-lab {env['mlops-lab']}, "
        f"mlflow {env['mlflow']}, sqlalchemy {env['sqlalchemy']}, pandas {env['pandas']}, "
        f"scikit-learn {env['scikit-learn']}"
    )
    print(flush=True)

    rows: list[Row] = []
    info: dict = {}
    started = time.perf_counter()
    loads = [load_average()]
    if "log_metric" in only:
        rows.extend(bench_log_metric(sizes))
        loads.append(load_average())
    if "start_end" in only:
        rows.extend(bench_start_end(sizes))
        loads.append(load_average())
    if "runs" in only:
        rows.extend(bench_runs(sizes))
        loads.append(load_average())
    if "autolog" in only:
        rows.extend(bench_autolog(sizes))
        loads.append(load_average())
    if "imports" in only:
        import_rows, info = bench_imports(sizes)
        rows.extend(import_rows)
        loads.append(load_average())
    env["load"] = (
        f"{min(loads):.2f}-{max(loads):.2f} (1-minute load average on the {env['cpus']} "
        f"CPUs, sampled before and after each figure: {', '.join(f'{x:.2f}' for x in loads)})"
    )
    print(f"load average: {env['load']}")

    text = report(rows, info, env, args)
    print(text[text.index("| figure") :])
    print(f"(took {time.perf_counter() - started:.0f} s)")
    results = args.results
    if results is None and not args.quick and args.only is None:
        results = HERE / "RESULTS.md"
    if results is not None:
        results.write_text(text)
        print(f"wrote {results}")
    if info.get("heavy"):
        print(f"FAIL: %load_ext mlops_lab imported {', '.join(info['heavy'])}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
