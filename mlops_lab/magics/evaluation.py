"""``%mlops evaluate``: the library's own evaluation of a model, as in ``mlops-lab evaluate``.

The arguments are the CLI's (one definition in :mod:`mlops_lab.evaluation.commands`);
the dataset may also be a notebook variable. The report displays as HTML, and a
failed ``--threshold`` is printed under it.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._args import key_value_pairs
from .data import _dataset
from .verbs import Context, VerbParser, verb


def _arguments(parser: VerbParser) -> None:
    from ..evaluation.commands import add_evaluate_arguments

    add_evaluate_arguments(parser)


@verb(
    "evaluate",
    "score a model on a dataset with the library's own metrics",
    arguments=_arguments,
    description="Score a model on a DataFrame or a CSV/Parquet file: metrics, slices, "
    "fairness, a baseline on the same rows.\n\n"
    "  %mlops evaluate iris@champion test_df --target species --slice region\n"
    "  %mlops evaluate churn/4 data/holdout.csv -t churned --baseline churn@champion "
    "--threshold accuracy=0.85",
)
def evaluate_verb(ctx: Context, args: argparse.Namespace) -> Any:
    from ..evaluation.api import evaluate

    report = evaluate(
        args.model,
        _dataset(ctx, args.data),
        target=args.target,
        task=args.task,
        slices=args.slice or None,
        sensitive=args.sensitive or None,
        baseline=args.baseline,
        log=not args.no_log,
    )
    for result in report.check(key_value_pairs(args.threshold, "--threshold", float)):
        print(result)
    return report
