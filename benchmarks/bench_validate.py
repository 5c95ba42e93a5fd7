"""Validation, side by side: pandera and mlops-lab, each with the schema it infers.

Three reference frames, each validated clean and with 1% bad rows:

- numeric: 1,000,000 rows x 20 (14 float, 6 int);
- text: 1,000,000 rows x 10 (4 ``str`` columns of 8 values, 3 categoricals,
  free text, a unique id, one float);
- wide: 100,000 rows x 200 (180 float, 20 int).

Each tool infers its schema from the clean frame (``pandera.infer_schema(df)``
and ``ml.infer_schema(df)``), then validates the clean frame and the bad one
lazily (every failure collected) and returns the failure cases as a DataFrame.
A bad row has one bad cell, in a random column: a float far out of range or
NaN, an int far out of range, a missing text or category value. Both schemas
check those cells, and the script checks that both tools find exactly them.

The inferred schemas do not check the same things (the results file lists
them): mlops-lab also checks duplicate rows, unique ids, allowed values of
text columns and string lengths, which pandera's inferred schema does not. So
mlops-lab is timed twice: with its own inferred schema (the headline ratio),
and with that schema cut down to the checks pandera's also makes (the
comparable ratio). "plain" is those comparable checks written directly in
numpy/pandas, the floor for any library. Repeats are interleaved; medians with
min-max. ``ml.fingerprint`` + ``ml.profile`` are timed on the numeric frame.

Usage::

    pip install -e ".[bench]"
    python benchmarks/bench_validate.py             # full size, writes benchmarks/RESULTS_data.md
    python benchmarks/bench_validate.py --quick     # 10x fewer rows, writes nothing

The machines are shared and noisy: compare the ratios, not the absolute times.
"""

from __future__ import annotations

import argparse
import dataclasses
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
from typing import Any

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CATEGORIES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
WORDS = np.array(
    [
        "the",
        "a",
        "model",
        "data",
        "drift",
        "run",
        "metric",
        "value",
        "train",
        "test",
        "score",
        "feature",
        "label",
        "batch",
        "error",
        "fast",
        "slow",
        "good",
        "bad",
        "new",
        "old",
    ]
)
BAD_SHARE = 0.01


# -- the frames ------------------------------------------------------------------------------


def numeric_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data: dict[str, Any] = {f"f{i}": rng.normal(0, 1.5, n) for i in range(14)}
    data |= {f"i{i}": rng.integers(0, 1001, n) for i in range(6)}
    return pd.DataFrame(data)


def text_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data: dict[str, Any] = {}
    for i in range(4):
        data[f"s{i}"] = pd.array(np.array(CATEGORIES)[rng.integers(0, 8, n)], dtype="str")
    for i in range(3):
        data[f"k{i}"] = pd.Categorical.from_codes(rng.integers(0, 8, n), CATEGORIES)
    w = WORDS[rng.integers(0, len(WORDS), (n, 3))]
    note = np.char.add(np.char.add(w[:, 0], " "), np.char.add(w[:, 1], np.char.add(" ", w[:, 2])))
    data["note"] = pd.array(note, dtype="str")
    data["user"] = pd.array(np.char.add("user-", rng.permutation(n).astype(str)), dtype="str")
    data["x"] = rng.normal(size=n)
    return pd.DataFrame(data)


def wide_frame(n: int, rng: np.random.Generator) -> pd.DataFrame:
    data: dict[str, Any] = {f"w{i}": rng.normal(size=n) for i in range(180)}
    data |= {f"j{i}": rng.integers(0, 100, n) for i in range(20)}
    return pd.DataFrame(data)


FRAMES: dict[str, tuple[Callable[[int, np.random.Generator], pd.DataFrame], int, str]] = {
    "numeric": (numeric_frame, 1_000_000, "14 float, 6 int"),
    "text": (
        text_frame,
        1_000_000,
        "4 str of 8 values, 3 categorical, free text, unique id, 1 float",
    ),
    "wide": (wide_frame, 100_000, "180 float, 20 int"),
}


def corrupt(frame: pd.DataFrame, rng: np.random.Generator) -> tuple[pd.DataFrame, set]:
    """A copy with ``BAD_SHARE`` of the rows given one bad cell; and those (row, column)."""
    bad_frame = frame.copy()
    n = len(frame)
    rows = rng.choice(n, int(n * BAD_SHARE), replace=False)
    cols = rng.integers(0, frame.shape[1], len(rows))
    cells: set = set()
    for j, name in enumerate(frame.columns):
        picked = rows[cols == j]
        if not len(picked):
            continue
        column = bad_frame[name]
        kind = column.dtype.kind if isinstance(column.dtype, np.dtype) else "O"
        if kind == "f":
            values = column.to_numpy(copy=True)
            values[picked] = np.where(rng.random(len(picked)) < 0.5, 1e6, np.nan)
            bad_frame[name] = values
        elif kind in "iu":
            values = column.to_numpy(copy=True)
            values[picked] = 10**7
            bad_frame[name] = values
        else:  # text or categorical: a missing value
            mask = np.zeros(n, dtype=bool)
            mask[picked] = True
            bad_frame[name] = column.mask(mask)
        cells |= {(int(r), str(name)) for r in picked}
    return bad_frame, cells


# -- the validators ---------------------------------------------------------------------------


def run_pandera(schema: Any, frame: pd.DataFrame) -> pd.DataFrame | None:
    import pandera.errors

    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        return exc.failure_cases
    return None


def run_mlops(schema: Any, frame: pd.DataFrame) -> pd.DataFrame | None:
    from mlops_lab.data.validate import validate

    report = validate(frame, schema, record=False)
    return None if report.passed else report.failure_cases


def comparable(schema: Any) -> Any:
    """mlops-lab's inferred schema cut down to what pandera's inferred schema checks:
    dtype, nulls, numeric range, categories of categorical columns."""
    columns = []
    for col in schema.columns:
        keep = col.categories if col.kind == "category" else None
        columns.append(
            dataclasses.replace(
                col,
                max_missing=None,
                categories=keep,
                unique=False,
                min_length=None,
                max_length=None,
                pattern=None,
            )
        )
    return dataclasses.replace(schema, columns=columns, allow_duplicate_rows=True)


def plain_checks(reference: pd.DataFrame) -> list[tuple[str, str, Any]]:
    """The comparable checks as (column, what, argument), from the reference frame."""
    checks = []
    for name, col in reference.items():
        nullable = bool(col.isna().any())
        if isinstance(col.dtype, pd.CategoricalDtype):
            checks.append((str(name), "category", (nullable, col.cat.categories)))
        elif isinstance(col.dtype, np.dtype) and col.dtype.kind in "iuf":
            checks.append((str(name), "range", (nullable, col.min(), col.max())))
        else:
            checks.append((str(name), "null", (nullable,)))
    return checks


def run_plain(checks: list[tuple[str, str, Any]], frame: pd.DataFrame) -> pd.DataFrame | None:
    parts = []
    for name, what, arg in checks:
        col = frame[name]
        if what == "range":
            values = col.to_numpy()
            bad = ~((values >= arg[1]) & (values <= arg[2]))
            if arg[0]:
                bad &= ~np.isnan(values) if values.dtype.kind == "f" else True
        elif what == "category":
            codes = col.cat.codes.to_numpy()
            bad = ~np.append(col.cat.categories.isin(arg[1]), arg[0])[codes]
        else:
            bad = col.isna().to_numpy() if not arg[0] else np.zeros(len(col), dtype=bool)
        rows = np.flatnonzero(bad)
        if len(rows):
            parts.append(
                pd.DataFrame({"row": rows, "column": name, "value": col.iloc[rows].to_numpy()})
            )
    return pd.concat(parts, ignore_index=True) if parts else None


def found_cells(name: str, cases: pd.DataFrame | None) -> tuple[set, int]:
    """The (row, column) pairs a tool reported; and how many case rows had no row."""
    if cases is None:
        return set(), 0
    row = "index" if name == "pandera" else "row"
    located = cases[cases[row].notna()]
    cells = {(int(r), str(c)) for r, c in zip(located[row], located["column"], strict=True)}
    return cells, len(cases) - len(located)


def schema_checks(tool: str, schema: Any) -> dict[str, int]:
    """How many columns each kind of check covers."""
    counts: dict[str, int] = {}

    def add(key: str) -> None:
        counts[key] = counts.get(key, 0) + 1

    if tool == "pandera":
        for col in schema.columns.values():
            add("dtype")
            if not col.nullable:
                add("not null")
            for check in col.checks:
                add({"isin": "categories (categorical)"}.get(check.name, "range"))
        counts["range"] = counts.get("range", 0) // 2  # one check each side
        if schema.index is not None:
            add("index dtype and range")
        return counts
    for col in schema.columns:
        add("dtype")
        if not col.nullable:
            add("not null")
        elif col.max_missing is not None:
            add("missing share")
        if col.min is not None or col.max is not None:
            add("range")
        if col.categories is not None:
            add("categories (categorical)" if col.kind == "category" else "categories (text)")
        if col.unique:
            add("unique")
        if col.min_length is not None or col.max_length is not None:
            add("string length")
    if not schema.allow_duplicate_rows:
        add("no duplicate rows (table)")
    return counts


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


def seconds(t: float) -> str:
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.2f} s"


def spread(ts: list[float]) -> str:
    return f"{seconds(statistics.median(ts))} ({seconds(min(ts))}-{seconds(max(ts))})"


def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "-"


def header(loads: list[float]) -> list[str]:
    cpu = platform.processor() or platform.machine()
    return [
        f"- date: {_dt.datetime.now(_dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs (shared)",
        f"- 1-minute load average before each frame and at the end: "
        f"{', '.join(f'{x:.2f}' for x in loads)}",
        f"- python {platform.python_version()}; pandas {version('pandas')}, "
        f"numpy {version('numpy')}, pyarrow {version('pyarrow')}, "
        f"pandera {version('pandera')}, mlops-lab {version('mlops-lab')}",
    ]


@dataclasses.dataclass
class Row:
    frame: str
    data: str
    times: dict[str, list[float]]
    n: int
    cells: int
    same: bool
    extra: str

    def ratio(self, key: str) -> float:
        return statistics.median(self.times["pandera"]) / statistics.median(self.times[key])


def bench_frame(name: str, n: int, repeats: int, seed: int) -> tuple[list[Row], list[str]]:
    import pandera.pandas as pa

    import mlops_lab as ml

    build, _, _ = FRAMES[name]
    rng = np.random.default_rng(seed)
    reference = build(n, rng)
    bad, cells = corrupt(reference, rng)
    schemas = {
        "pandera": pa.infer_schema(reference),
        "mlops-lab": ml.infer_schema(reference),
    }
    schemas["mlops-lab, comparable checks"] = comparable(schemas["mlops-lab"])
    checks = plain_checks(reference)
    runners: dict[str, Callable[[pd.DataFrame], pd.DataFrame | None]] = {
        "pandera": lambda f: run_pandera(schemas["pandera"], f),
        "mlops-lab": lambda f: run_mlops(schemas["mlops-lab"], f),
        "mlops-lab, comparable checks": lambda f: run_mlops(
            schemas["mlops-lab, comparable checks"], f
        ),
        "plain": lambda f: run_plain(checks, f),
    }
    notes = [
        f"- {name}: pandera checks "
        + ", ".join(f"{k} ({v})" for k, v in schema_checks("pandera", schemas["pandera"]).items())
        + "; mlops-lab checks "
        + ", ".join(
            f"{k} ({v})" for k, v in schema_checks("mlops-lab", schemas["mlops-lab"]).items()
        )
    ]
    rows = []
    for label, frame, expected in (("clean", reference, set()), ("1% bad rows", bad, cells)):
        found = {}
        extras = []
        for key, run in runners.items():
            got, unlocated = found_cells("pandera" if key == "pandera" else key, run(frame))
            found[key] = got
            if got != expected or unlocated:
                extras.append(
                    f"{key}: {len(got & expected):,} of {len(expected):,} found, "
                    f"{len(got - expected):,} others, {unlocated} without a row"
                )
        same = all(f == expected for f in found.values())
        times = measure({k: (lambda r=r, f=frame: r(f)) for k, r in runners.items()}, repeats)
        row = Row(name, label, times, n, len(expected), same, "; ".join(extras))
        rows.append(row)
        print(
            f"{name:8s} {label:12s} "
            + "  ".join(f"{k} {seconds(statistics.median(v))}" for k, v in times.items())
            + f"  ratio {row.ratio('mlops-lab'):.2f}x / comparable "
            f"{row.ratio('mlops-lab, comparable checks'):.2f}x  same={same} {row.extra}",
            flush=True,
        )
    return rows, notes


def readme_block(rows: list[Row]) -> list[str]:
    """The machine-readable table ``benchmarks/readme_table.py`` copies into the README."""
    out = [
        "<!-- bench:data -->",
        "| figure | pandera | mlops-lab | ratio | ratio, only the checks pandera's schema makes |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        size_cols = {"numeric": 20, "text": 10, "wide": 200}[row.frame]
        pandera = statistics.median(row.times["pandera"])
        ours = statistics.median(row.times["mlops-lab"])
        same = "" if row.same else " (failures differ)"
        out.append(
            f"| validate {row.frame} {row.n:,} x {size_cols}, {row.data}, "
            f"each tool's inferred schema{same} | {seconds(pandera)} | {seconds(ours)} | "
            f"{pandera / ours:.1f}x | {row.ratio('mlops-lab, comparable checks'):.1f}x |"
        )
    out.append("<!-- /bench:data -->")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x fewer rows, write nothing")
    parser.add_argument("--repeats", type=int, default=None, help="interleaved repeats (5)")
    parser.add_argument("--only", action="append", choices=sorted(FRAMES), help="some frames")
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 5)
    warnings.filterwarnings("ignore")
    import mlops_lab as ml

    loads: list[float] = []
    rows: list[Row] = []
    notes: list[str] = []
    for i, name in enumerate(args.only or FRAMES):
        n = FRAMES[name][1] // (10 if args.quick else 1)
        loads.append(os.getloadavg()[0])
        frame_rows, frame_notes = bench_frame(name, n, repeats, seed=i)
        rows += frame_rows
        notes += frame_notes

    frame = numeric_frame(
        FRAMES["numeric"][1] // (10 if args.quick else 1), np.random.default_rng(9)
    )
    times = measure(
        {"fingerprint": lambda: ml.fingerprint(frame), "profile": lambda: ml.profile(frame)},
        repeats,
    )
    loads.append(os.getloadavg()[0])
    both = [a + b for a, b in zip(times["fingerprint"], times["profile"], strict=True)]

    scale = 10 if args.quick else 1
    keys = ["pandera", "mlops-lab", "mlops-lab, comparable checks", "plain"]
    lines = [
        "# Data validation benchmark",
        "",
        "Written by `python benchmarks/bench_validate.py`.",
        "",
    ]
    lines += [*header(loads), ""]
    lines += [
        "Frames: "
        + "; ".join(f"{k} {v[1] // scale:,} rows ({v[2]})" for k, v in FRAMES.items())
        + f". Each tool infers its schema from the clean frame; lazy validation; failure "
        f"cases as a DataFrame. Median of {repeats} interleaved repeats (min-max). Ratio: "
        'pandera median / mlops-lab median. "comparable checks": mlops-lab\'s inferred '
        'schema cut down to what pandera\'s inferred schema checks; "plain": those checks '
        "written directly in numpy/pandas.",
        "",
        "| frame | data | " + " | ".join(keys) + " | ratio | ratio, comparable | same failures |",
        "|---|---|" + "---|" * len(keys) + "---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.frame} | {row.data} | "
            + " | ".join(spread(row.times[k]) for k in keys)
            + f" | {row.ratio('mlops-lab'):.1f}x | {row.ratio('mlops-lab, comparable checks'):.1f}x"
            f" | {'yes' if row.same else 'NO'} ({row.cells:,} bad cells) |"
        )
    lines += [
        "",
        "What each inferred schema checks (number of columns). pandera's inferred schema "
        "also coerces every column to its dtype (`coerce=True`) and checks the index; "
        "mlops-lab's widens numeric ranges by 10% of the span and adds the checks pandera's "
        "has no counterpart for, which the comparable run leaves out:",
        "",
        *notes,
    ]
    differing = [f"- {r.frame}, {r.data}: {r.extra}" for r in rows if r.extra]
    if differing:
        lines += ["", "Where the failures found differ from the cells made bad:", "", *differing]
    lines += [
        "",
        "| numeric frame, clean | time |",
        "|---|---|",
        f"| `ml.fingerprint` (SHA-256 of every cell) | {spread(times['fingerprint'])} |",
        f"| `ml.profile` | {spread(times['profile'])} |",
        f"| fingerprint + profile (target < 2 s) | {spread(both)} |",
        "",
        "For the README (`python benchmarks/readme_table.py` copies this block):",
        "",
        *readme_block(rows),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if not args.quick:
        (HERE / "RESULTS_data.md").write_text(text)
        print(f"wrote {HERE / 'RESULTS_data.md'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
