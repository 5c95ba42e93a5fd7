"""Write the README's tracking benchmark rows from ``benchmarks/RESULTS.md``.

``python benchmarks/readme_table.py`` replaces the table between
``<!-- tracking-results -->`` and ``<!-- /tracking-results -->`` in README.md with
one row per figure of the results table (its medians and ratio, as the
benchmark script wrote them); ``--check`` exits 1 when the README differs.
The README's figures therefore come from the results file, never by hand.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
README = ROOT / "README.md"
START, END = "<!-- tracking-results -->", "<!-- /tracking-results -->"


def _median(cell: str) -> str:
    """``"49.8 ms (43.7 ms-61.5 ms, n=5)"`` -> ``"49.8 ms"``."""
    return cell.split(" (", 1)[0].strip()


def rows(results: str) -> list[str]:
    """The README rows: figure, peer median, mlops-lab median, ratio (and a missed target)."""
    out = []
    lines = [line for line in results.splitlines() if line.startswith("| ")]
    for line in lines[1:]:  # the header row
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) < 6 or set(cells[0]) <= {"-"}:
            continue
        figure, peer, ours, ratio, target, met = cells[:6]
        if figure.startswith("---"):
            continue
        if met.strip("*") == "no":
            figure = f"{figure} (target {target}: not met)"
        out.append(f"| {figure} | {_median(peer)} | {_median(ours)} | {ratio} |")
    return out


def render(readme: str, results: str) -> str:
    pattern = re.compile(re.escape(START) + r"\n.*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise SystemExit(f"README.md has no {START} ... {END} block")
    header = ["| figure | MLflow (SQLite) | mlops-lab | ratio |", "|---|---|---|---|"]
    block = "\n".join([START, *header, *rows(results), END])
    return pattern.sub(lambda _: block, readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if README.md differs")
    args = parser.parse_args(argv)
    readme, results = README.read_text(), RESULTS.read_text()
    updated = render(readme, results)
    if args.check:
        if updated != readme:
            print("README.md's tracking figures differ from benchmarks/RESULTS.md", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
