"""The ``compare`` verb: linked views of several runs (``ml.compare``).

The same arguments in both shells; ``--html`` writes a self-contained page in both.
A notebook displays the views (interactive where a live front-end exists); a
terminal prints the text diff.
"""

from __future__ import annotations

import argparse
from typing import Any

from .spec import Argument, Command, Invocation


def _compare(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..comparison.api import compare

    comparison = compare(
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
    return comparison


def _shown(comparison: Any, args: argparse.Namespace) -> Any:
    if args.html:
        print(f"wrote {args.html}")
    return comparison


def _text(comparison: Any, args: argparse.Namespace) -> int:
    print(comparison.to_text())
    if args.html:
        print(f"wrote the comparison of {len(comparison.runs)} runs to {args.html}")
    return 0


COMMANDS = (
    Command(
        "compare",
        "compare runs: parallel coordinates, curves, scatter, diff (--html out.html)",
        _compare,
        arguments=(
            Argument(
                "runs",
                nargs="*",
                metavar="RUN",
                help="run ids, id prefixes or names (default: the newest)",
            ),
            Argument(
                "--last", short="-n", type=int, help="the N newest runs matching --filter (20)"
            ),
            Argument("--filter", short="-f", help="e.g. \"params.model = 'rf'\""),
            Argument("--experiment", short="-e", help="only this experiment"),
            Argument("--metric", short="-m", help="the metric to colour by and plot by step"),
            Argument(
                "--group-by",
                short="-g",
                action="append",
                help="columns that make runs repeats of one configuration (repeatable)",
            ),
            Argument(
                "--aggregate", short="-a", action="store_true", help="mean ± std over repeats"
            ),
            Argument("--html", metavar="PATH", help="also write a self-contained HTML page"),
        ),
        description=(
            "Compare runs: parallel coordinates coloured by a metric (brushing selects runs),\n"
            "metric curves by step, scatter of a param or metric against a metric, and the\n"
            "diff of params, metrics, packages, datasets and code. Interactive in a live\n"
            "notebook, static plotly HTML under papermill/nbconvert/CI, text in a terminal.\n\n"
            "  compare rf-1 rf-2 --metric acc\n"
            "  compare --last 10 --filter \"params.model = 'rf'\" --html rf.html"
        ),
        render_notebook=_shown,
        render_terminal=_text,
    ),
)
