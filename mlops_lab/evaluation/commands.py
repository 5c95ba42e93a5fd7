"""``mlops-lab evaluate`` and ``mlops-lab check``: model scores and the CI gate.

``evaluate`` prints the library's own evaluation of a model on a dataset (and
exits 1 when a ``--threshold`` fails); ``check`` runs every data and model check
declared in ``mlops-lab.toml``. The work is done by :mod:`.api` and :mod:`.ci`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._args import key_value_pairs


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .api import evaluate

    report = evaluate(
        args.model,
        args.data,
        target=args.target,
        task=args.task,
        slices=args.slice or None,
        sensitive=args.sensitive or None,
        baseline=args.baseline,
        log=not args.no_log,
    )
    if args.format == "json":
        print(report.to_json())
    else:
        print(report)
    thresholds = key_value_pairs(args.threshold, "--threshold", float)
    results = report.check(thresholds or {})
    for result in results:
        print(f"  {result}")
    return 1 if any(not r.passed for r in results) else 0


def cmd_check(args: argparse.Namespace) -> int:
    from .ci import run_check

    return run_check(args.config)


def add_evaluate_arguments(p: Any) -> None:
    p.add_argument("model", help="a model reference: name@alias, name/3, runs:/ID/model or a run")
    p.add_argument("data", help="a CSV or Parquet file with the model's inputs and the target")
    p.add_argument("--target", "-t", required=True, help="the column holding the true values")
    p.add_argument("--task", choices=["classification", "regression"], help="default: inferred")
    p.add_argument(
        "--slice", action="append", metavar="COLUMN", help="metrics per value (repeatable)"
    )
    p.add_argument(
        "--sensitive", action="append", metavar="COLUMN", help="fairness metrics over (repeatable)"
    )
    p.add_argument("--baseline", metavar="MODEL", help="another model scored on the same rows")
    p.add_argument(
        "--threshold",
        action="append",
        metavar="METRIC=LIMIT",
        help="fail (exit 1) when METRIC is worse than LIMIT: below it for accuracy or r2, "
        "above it for rmse or log_loss (repeatable)",
    )
    p.add_argument("--no-log", action="store_true", help="do not record an evaluation run")


def add_subcommands(sub: Any) -> None:
    """Add ``evaluate`` and ``check`` to the ``mlops-lab`` subparsers."""
    p = sub.add_parser("evaluate", help="score a model on a dataset (the library's own metrics)")
    add_evaluate_arguments(p)
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_evaluate)

    p = sub.add_parser(
        "check",
        help="run the data and model checks declared in mlops-lab.toml (exit 1 if any fails)",
        description="Run every [[check.validate]], [[check.drift]] and [[check.model]] entry "
        "of the nearest mlops-lab.toml. Example:\n\n"
        '  [[check.validate]]\n  data = "data/new.csv"\n  schema = "schemas/train.json"\n\n'
        '  [[check.drift]]\n  reference = "data/train.parquet"\n  current = "data/new.csv"\n\n'
        '  [[check.model]]\n  model = "churn@champion"\n  data = "data/holdout.csv"\n'
        '  target = "churned"\n  thresholds = { accuracy = { min_value = 0.85 } }\n',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", "-c", help="the checks file (default: the nearest mlops-lab.toml)")
    p.set_defaults(handler=cmd_check)
