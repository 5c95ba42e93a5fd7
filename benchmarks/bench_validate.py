"""Validation, side by side: pandera and mlops-lab (and plain numpy/pandas) in the same run.

The frame is 1,000,000 rows x 20 columns (10 float, 5 int, 5 text columns of
few categories). The checks are the same for all three: every column not
null, floats and ints within a range, text columns within a set of allowed
categories; validation is lazy (every failure is collected), and the result
is the failure cases as a DataFrame (row, column, value). The "plain" column
is the same checks written directly as vectorised numpy/pandas: the limit a
validation library can approach. Each variant runs on clean data and on data
with 1% bad rows (one bad cell per bad row, in a random column), repeats are
interleaved, and the script checks that all three find the same failing
(row, column) pairs. It also times ``ml.fingerprint`` + ``ml.profile``.

Usage::

    pip install -e ".[bench]"
    python benchmarks/bench_validate.py             # full size, writes benchmarks/RESULTS_data.md
    python benchmarks/bench_validate.py --quick     # 100,000 rows, writes nothing

The machines are shared and noisy: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
FLOAT_RANGE = (-10.0, 10.0)
INT_RANGE = (0, 1000)


def make_frame(n: int, *, bad_share: float, seed: int = 0) -> tuple[pd.DataFrame, set]:
    """The frame, and the (row, column) pairs made bad."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {}
    for i in range(10):
        data[f"f{i}"] = rng.normal(0, 1.5, n)  # |x| > 10 is 6.7 sd: none in 10M draws
    for i in range(5):
        data[f"i{i}"] = rng.integers(INT_RANGE[0], INT_RANGE[1] + 1, n)
    for i in range(5):
        data[f"c{i}"] = pd.array(
            np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)], dtype="str"
        )
    frame = pd.DataFrame(data)
    bad: set = set()
    n_bad = int(n * bad_share)
    if n_bad:
        rows = rng.choice(n, n_bad, replace=False)
        cols = rng.integers(0, 20, n_bad)
        for j, name in enumerate(frame.columns):
            picked = rows[cols == j]
            if not len(picked):
                continue
            if name.startswith("f"):
                values = np.where(rng.random(len(picked)) < 0.5, 1e6, np.nan)
            elif name.startswith("i"):
                values = np.full(len(picked), -5)
            else:
                values = np.where(rng.random(len(picked)) < 0.5, "unknown", None)
            column = frame[name].to_numpy(copy=True)
            column[picked] = values
            frame[name] = pd.array(column, dtype=frame[name].dtype)
            bad |= {(int(r), name) for r in picked}
    return frame, bad


# -- the three validators -----------------------------------------------------------------


def pandera_schema():
    import pandera.pandas as pa

    columns = {}
    for i in range(10):
        columns[f"f{i}"] = pa.Column(float, pa.Check.in_range(*FLOAT_RANGE), nullable=False)
    for i in range(5):
        columns[f"i{i}"] = pa.Column(int, pa.Check.in_range(*INT_RANGE), nullable=False)
    for i in range(5):
        columns[f"c{i}"] = pa.Column(str, pa.Check.isin(CATEGORIES), nullable=False)
    return pa.DataFrameSchema(columns)


def run_pandera(schema, frame: pd.DataFrame) -> pd.DataFrame | None:
    import pandera.errors

    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None


def mlops_schema():
    from mlops_lab.data.schema import ColumnSchema, Schema

    columns = []
    for i in range(10):
        columns.append(
            ColumnSchema(
                f"f{i}", "float", "float64", nullable=False, min=FLOAT_RANGE[0], max=FLOAT_RANGE[1]
            )
        )
    for i in range(5):
        columns.append(
            ColumnSchema(
                f"i{i}", "integer", "int64", nullable=False, min=INT_RANGE[0], max=INT_RANGE[1]
            )
        )
    for i in range(5):
        columns.append(
            ColumnSchema(f"c{i}", "string", "str", nullable=False, categories=list(CATEGORIES))
        )
    return Schema(columns, min_rows=None, allow_duplicate_rows=True)


def run_mlops(schema, frame: pd.DataFrame) -> pd.DataFrame | None:
    from mlops_lab.data.validate import validate

    report = validate(frame, schema, record=False)
    return None if report.passed else report.failure_cases


def run_plain(_schema, frame: pd.DataFrame) -> pd.DataFrame | None:
    parts = []
    for name in frame.columns:
        col = frame[name]
        if name.startswith("c"):
            bad = ~col.isin(CATEGORIES).to_numpy() | col.isna().to_numpy()
        else:
            values = col.to_numpy()
            lo, hi = FLOAT_RANGE if name.startswith("f") else INT_RANGE
            bad = ~((values >= lo) & (values <= hi))  # NaN fails too
        rows = np.flatnonzero(bad)
        if len(rows):
            parts.append(
                pd.DataFrame({"row": rows, "column": name, "value": col.iloc[rows].to_numpy()})
            )
    return pd.concat(parts, ignore_index=True) if parts else None


def found_pairs(name: str, cases: pd.DataFrame | None) -> set:
    if cases is None:
        return set()
    if name == "pandera":
        cases = cases[cases["index"].notna()]
        return {(int(r), c) for r, c in zip(cases["index"], cases["column"], strict=True)}
    cases = cases[cases["row"].notna()]
    return {(int(r), c) for r, c in zip(cases["row"], cases["column"], strict=True)}


# -- measuring ------------------------------------------------------------------------------


def measure(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for fn in fns.values():  # warm-up: imports, first-call caches
        fn()
    for _ in range(repeats):
        for key, fn in fns.items():  # interleaved, so noise hits all alike
            t0 = time.perf_counter()
            fn()
            times[key].append(time.perf_counter() - t0)
    return times


def spread(ts: list[float]) -> str:
    return f"{statistics.median(ts):.3f} s ({min(ts):.3f}-{max(ts):.3f})"


def header() -> list[str]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "-"

    cpu = platform.processor() or platform.machine()
    return [
        f"- date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, "
        f"load average at start {os.getloadavg()[0]:.1f} (shared machine)",
        f"- python {platform.python_version()}; pandas {version('pandas')}, numpy {version('numpy')}, "
        f"pyarrow {version('pyarrow')}, pandera {version('pandera')}, mlops-lab {version('mlops-lab')}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="100,000 rows, 3 repeats, write nothing"
    )
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    repeats = args.repeats or (3 if args.quick else 7)
    warnings.filterwarnings("ignore")

    import mlops_lab as ml

    schemas = {"pandera": pandera_schema(), "mlops-lab": mlops_schema(), "plain": None}
    runners = {"pandera": run_pandera, "mlops-lab": run_mlops, "plain": run_plain}
    lines = ["# Data validation benchmark", "", *header(), ""]
    lines += [
        f"{n:,} rows x 20 columns (10 float, 5 int, 5 text of {len(CATEGORIES)} categories); "
        f"checks: not null, in range, in categories; lazy; failure cases as a DataFrame. "
        f"Median of {repeats} interleaved repeats (min-max in brackets).",
        "",
        "| data | pandera | mlops-lab | plain numpy/pandas | pandera / mlops-lab | mlops-lab / plain | same failures |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, share in (("clean", 0.0), ("1% bad rows", 0.01)):
        frame, bad = make_frame(n, bad_share=share)
        results = {k: runners[k](schemas[k], frame) for k in runners}
        found = {k: found_pairs(k, v) for k, v in results.items()}
        same = all(f == bad for f in found.values())
        times = measure(
            {k: (lambda k=k, frame=frame: runners[k](schemas[k], frame)) for k in runners}, repeats
        )
        med = {k: statistics.median(v) for k, v in times.items()}
        row = (
            f"| {label} | {spread(times['pandera'])} | {spread(times['mlops-lab'])} | "
            f"{spread(times['plain'])} | {med['pandera'] / med['mlops-lab']:.1f}x faster | "
            f"{med['mlops-lab'] / med['plain']:.2f}x | {'yes' if same else 'NO'} ({len(bad):,} bad cells) |"
        )
        lines.append(row)
        print(row, flush=True)
        if not same:
            for k, f in found.items():
                print(f"  {k}: {len(f)} found, missed {len(bad - f)}, extra {len(f - bad)}")

    frame, _ = make_frame(n, bad_share=0.0)
    times = measure(
        {"fingerprint": lambda: ml.fingerprint(frame), "profile": lambda: ml.profile(frame)},
        repeats,
    )
    both = [a + b for a, b in zip(times["fingerprint"], times["profile"], strict=True)]
    lines += [
        "",
        "| same clean frame | time |",
        "|---|---|",
        f"| `ml.fingerprint` (SHA-256 of every cell) | {spread(times['fingerprint'])} |",
        f"| `ml.profile` | {spread(times['profile'])} |",
        f"| fingerprint + profile (target < 2 s) | {spread(both)} |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        (HERE / "RESULTS_data.md").write_text(text)
        print(f"wrote {HERE / 'RESULTS_data.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
