"""The ``compare`` verb: linked views of several runs (``ml.compare``)."""

from __future__ import annotations

import argparse

from .verbs import Context, VerbParser, verb


def _compare_arguments(parser: VerbParser) -> None:
    parser.add_argument("runs", nargs="*", metavar="RUN", help="run ids, id prefixes or names")
    parser.add_argument("--last", "-n", type=int, help="the N newest runs (default 20)")
    parser.add_argument("--filter", "-f", help="e.g. \"params.model = 'rf'\"")
    parser.add_argument("--experiment", "-e", help="only this experiment")
    parser.add_argument("--metric", "-m", help="the metric to colour by and plot by step")
    parser.add_argument("--group-by", "-g", action="append", help="columns of repeated runs")
    parser.add_argument("--aggregate", "-a", action="store_true", help="mean ± std over repeats")
    parser.add_argument("--html", metavar="PATH", help="also write a self-contained HTML page")


@verb(
    "compare",
    "compare runs: parallel coordinates, curves, scatter, diff (--html out.html)",
    arguments=_compare_arguments,
    description=(
        "Compare runs: parallel coordinates coloured by a metric (brushing selects runs),\n"
        "metric curves by step, scatter of a param or metric against a metric, and the\n"
        "diff of params, metrics, packages, datasets and code. Interactive in a live\n"
        "notebook, static plotly HTML under papermill/nbconvert/CI.\n\n"
        "  %mlops compare rf-1 rf-2 --metric acc\n"
        "  %mlops compare --last 10 --filter \"params.model = 'rf'\" --html rf.html"
    ),
)
def compare(ctx: Context, args: argparse.Namespace) -> object:
    from ..comparison.api import compare as compare_runs

    if args.last is not None and args.last < 1:
        from ..errors import InvalidArgumentError

        raise InvalidArgumentError(f"--last: expected a positive integer, got {args.last}")
    comparison = compare_runs(
        args.runs or None,
        args.metric,
        last=args.last,
        filter=args.filter,
        experiment=args.experiment,
        group_by=args.group_by,
        aggregate=args.aggregate,
    )
    if args.html:
        comparison.to_html(args.html)
        print(f"wrote {args.html}")
    return comparison
