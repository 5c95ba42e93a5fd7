"""Write the README's benchmark tables from the results files the benchmarks write.

Each table in README.md sits between ``<!-- bench:NAME -->`` and
``<!-- /bench:NAME -->``; ``python benchmarks/readme_table.py`` rewrites every
such block from its results file, and ``--check`` exits 1 when the README
differs, so the README's figures never come from a hand edit. Where a block's
text comes from:

- any ``benchmarks/RESULTS*.md`` holding a block between the same markers: the
  block is copied as it is. This is the generic way: ``bench_validate.py``
  writes ``bench:data`` into ``RESULTS_data.md``, and a pipeline benchmark
  writing ``bench:pipeline`` into ``RESULTS_pipeline.md`` fills the README's
  pipeline table the same way;
- ``bench:tracking``: the figure table of ``RESULTS.md`` (``bench_tracking.py``);
- ``bench:serve``: the server and figure tables of ``RESULTS_serve.md``
  (``bench_serve.py``);
- ``bench:pipeline``: the table of ``RESULTS_pipeline.md`` (``bench_pipeline.py``).

A README block with no results file yet says so in one line; a results block
with no place in the README is an error.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"<!-- bench:([a-z0-9_-]+) -->\n(.*?)<!-- /bench:\1 -->", re.S)
HEADER = "| figure | {peer} | mlops-lab | ratio |\n|---|---|---|---|"


class ResultsError(ValueError):
    """A results file or the README does not have what a block needs."""


def _median(cell: str) -> str:
    """``"49.8 ms (43.7 ms-61.5 ms, n=5)"`` -> ``"49.8 ms"``."""
    return cell.split(" (", 1)[0].strip()


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(text: str, first_header: str) -> list[list[str]]:
    """The rows (header first) of the markdown table whose first header cell is given."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("|") and _cells(line)[0] == first_header:
            rows = [_cells(line)]
            for row in lines[i + 2 :]:
                if not row.startswith("|"):
                    break
                rows.append(_cells(row))
            return rows
    raise ResultsError(f"no table headed {first_header!r}")


def tracking(results: str) -> str:
    """RESULTS.md's figures: peer median, mlops-lab median, ratio (and a missed target)."""
    out = []
    for cells in _table(results, "figure")[1:]:
        if len(cells) < 6:
            continue
        figure, peer, ours, ratio, target, met = cells[:6]
        if met.strip("*") == "no":
            figure = f"{figure} (target {target}: not met)"
        out.append(f"| {figure} | {_median(peer)} | {_median(ours)} | {ratio} |")
    return "\n".join([HEADER.format(peer="MLflow (SQLite)"), *out])


def _number(cell: str, unit: str) -> str:
    """A median as the results file wrote it, large numbers with thousands separators."""
    text = _median(cell)
    value = float(text)
    return (f"{value:,.0f}" if value >= 1000 else text) + unit


def serve(results: str) -> str:
    """RESULTS_serve.md's figures against ``mlflow models serve`` and a bare FastAPI app."""
    table = _table(results, "server")
    head, servers = table[0], {row[0]: row for row in table[1:]}
    ratios = {row[0]: row[1] for row in _table(results, "figure")[1:]}

    def cell(server: str, column: str) -> str:
        if server not in servers or column not in head:
            raise ResultsError(f"no {column!r} for {server!r} in the server table")
        return servers[server][head.index(column)]

    rows = [
        ("model server throughput, 8 keep-alive clients", "mlflow", "req/s, 8 clients",
         " req/s", "throughput mlops-lab / MLflow"),
        ("sequential latency p50, 1-row requests", "mlflow", "sequential p50 ms", " ms",
         "sequential p50 MLflow / mlops-lab"),
        ("ready after launch", "mlflow", "ready s", " s", "ready MLflow / mlops-lab"),
        ("throughput against a bare FastAPI app (the reference limit)", "bare FastAPI",
         "req/s, 8 clients", " req/s", "throughput mlops-lab / bare FastAPI"),
    ]  # fmt: skip
    out = []
    for figure, peer, column, unit, ratio in rows:
        if ratio not in ratios:
            raise ResultsError(f"no figure {ratio!r}")
        out.append(
            f"| {figure} | {_number(cell(peer, column), unit)} | "
            f"{_number(cell('mlops-lab', column), unit)} | {ratios[ratio]} |"
        )
    return "\n".join([HEADER.format(peer="`mlflow models serve` (bare FastAPI: last row)"), *out])


def _seconds(cell: str) -> float:
    return float(_median(cell).split()[0])


def pipeline(results: str) -> str:
    """RESULTS_pipeline.md's figures: wall time (overhead beyond the cells' own time)."""
    rows = {cells[0]: cells for cells in _table(results, "what")[1:] if len(cells) >= 4}
    out = []
    for what, label, target in [
        ("single run", "pipeline run, wall (overhead beyond the cells)", None),
        ("sweep 16 on 2 workers", "sweep of 16 on 2 workers, wall (overhead per combination)", 0.5),
    ]:
        bare = next((r for k, r in rows.items() if k.startswith(what) and "bare" in k), None)
        ours = next((r for k, r in rows.items() if k.startswith(what) and "bare" not in k), None)
        if bare is None or ours is None:
            raise ResultsError(f"no {what!r} rows in the table")
        overhead = _seconds(ours[2])
        if target is not None and overhead > target:
            label = f"{label} (target <= {target:.2f} s overhead: not met)"
        ratio = ours[3].split(" (", 1)[0]
        out.append(
            f"| {label} | {_seconds(bare[1]):.2f} s ({_seconds(bare[2]):.2f} s) "
            f"| {_seconds(ours[1]):.2f} s ({overhead:.2f} s) | {ratio} |"
        )
    demo = next((r for k, r in rows.items() if "demo" in k), None)
    if demo is not None:
        wall = _seconds(demo[1])
        label = "`mlops-lab demo`, wall" + (" (target <= 30 s: not met)" if wall > 30 else "")
        out.append(f"| {label} | - | {wall:.1f} s | - |")
    return "\n".join([HEADER.format(peer="bare `papermill.execute_notebook`"), *out])


# name -> (results file, how its README block is made when the file holds none)
DERIVED: dict[str, tuple[str, Callable[[str], str]]] = {
    "tracking": ("RESULTS.md", tracking),
    "serve": ("RESULTS_serve.md", serve),
    "pipeline": ("RESULTS_pipeline.md", pipeline),
}


def sources(root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Every block the results files give: name -> (text, the file it came from)."""
    found: dict[str, tuple[str, str]] = {}
    bench = root / "benchmarks"
    for path in sorted(bench.glob("RESULTS*.md")):
        for name, body in BLOCK.findall(path.read_text()):
            if name in found:
                raise ResultsError(f"block bench:{name} is in {found[name][1]} and {path.name}")
            found[name] = (body.rstrip("\n"), path.name)
    for name, (filename, derive) in DERIVED.items():
        path = bench / filename
        if name not in found and path.is_file():
            try:
                found[name] = (derive(path.read_text()), filename)
            except ResultsError as exc:
                raise ResultsError(f"{filename}: {exc}") from None
    return found


def missing(name: str, root: Path = ROOT) -> str:
    """The line a README block shows while its results file gives nothing."""
    filename = DERIVED[name][0] if name in DERIVED else f"RESULTS_{name}.md"
    state = (
        "holds no such table" if (root / "benchmarks" / filename).is_file() else "is not written"
    )
    return f"*No figures yet: `benchmarks/{filename}` {state}; run its benchmark.*"


def render(readme: str, given: dict[str, tuple[str, str]], root: Path = ROOT) -> str:
    """``readme`` with every ``bench:NAME`` block rewritten from ``given``."""
    names = [name for name, _ in BLOCK.findall(readme)]
    unplaced = sorted(set(given) - set(names))
    if unplaced:
        where = ", ".join(f"bench:{n} (from {given[n][1]})" for n in unplaced)
        raise ResultsError(f"README.md has no block for {where}")

    def block(match: re.Match[str]) -> str:
        name = match.group(1)
        body = given[name][0] if name in given else missing(name, root)
        return f"<!-- bench:{name} -->\n{body}\n<!-- /bench:{name} -->"

    return BLOCK.sub(block, readme)


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    args = parser.parse_args(argv)
    readme_path = root / "README.md"
    readme = readme_path.read_text()
    try:
        updated = render(readme, sources(root), root)
    except ResultsError as exc:
        print(f"readme_table: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print(
                "README.md's benchmark figures differ from the results files: "
                "run python benchmarks/readme_table.py",
                file=sys.stderr,
            )
            return 1
        return 0
    readme_path.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
