"""``evaluate`` (both shells) and ``check`` (terminal): model scores and the CI gate.

``evaluate`` is the library's own evaluation of a model on a dataset; a failed
``--threshold`` is printed under the report, and in a terminal exits 1.
``check`` runs every data and model check declared in ``mlops-lab.toml``.
"""

from __future__ import annotations

import argparse
from typing import Any

from .spec import TERMINAL_ONLY, Argument, Command, Invocation
from .spec import key_value_pairs as _pairs


def _evaluate(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..evaluation.api import evaluate

    report = evaluate(
        args.model,
        inv.value(args.data),
        target=args.target,
        task=args.task,
        slices=args.slice or None,
        sensitive=args.sensitive or None,
        baseline=args.baseline,
        log=not args.no_log,
    )
    return report, report.check(_pairs(args.threshold, "--threshold", float))


def _evaluated(result: tuple[Any, list[Any]], args: argparse.Namespace) -> Any:
    report, checks = result
    for check in checks:
        print(check)
    return report


def _evaluated_text(result: tuple[Any, list[Any]], args: argparse.Namespace) -> int:
    report, checks = result
    print(report.to_json() if args.format == "json" else report)
    for check in checks:
        print(f"  {check}")
    return 1 if any(not c.passed for c in checks) else 0


def _check(args: argparse.Namespace, inv: Invocation) -> int:
    from ..evaluation.ci import run_check

    return run_check(args.config)


COMMANDS = (
    Command(
        "evaluate",
        "score a model on a dataset with the library's own metrics (exit 1 on a failed threshold)",
        _evaluate,
        arguments=(
            Argument(
                "model", help="a model reference: name@alias, name/3, runs:/ID/model or a run"
            ),
            Argument(
                "data",
                help="a CSV or Parquet file (or, in a notebook, a DataFrame variable) with the "
                "model's inputs and the target",
            ),
            Argument(
                "--target", short="-t", required=True, help="the column holding the true values"
            ),
            Argument("--task", choices=("classification", "regression"), help="default: inferred"),
            Argument(
                "--slice", action="append", metavar="COLUMN", help="metrics per value (repeatable)"
            ),
            Argument(
                "--sensitive",
                action="append",
                metavar="COLUMN",
                help="fairness metrics over (repeatable)",
            ),
            Argument("--baseline", metavar="MODEL", help="another model scored on the same rows"),
            Argument(
                "--threshold",
                action="append",
                metavar="METRIC=LIMIT",
                help="fail when METRIC is worse than LIMIT: below it for accuracy or r2, "
                "above it for rmse or log_loss (repeatable)",
            ),
            Argument("--no-log", action="store_true", help="do not record an evaluation run"),
            Argument("--format", choices=("text", "json"), default="text", shells=TERMINAL_ONLY),
        ),
        description="Score a model on a DataFrame or a CSV/Parquet file: metrics, slices, "
        "fairness, a baseline on the same rows.\n\n"
        "  evaluate iris@champion test.csv --target species --slice region\n"
        "  evaluate churn/4 data/holdout.csv -t churned --baseline churn@champion "
        "--threshold accuracy=0.85",
        render_notebook=_evaluated,
        render_terminal=_evaluated_text,
    ),
    Command(
        "check",
        "run the data and model checks declared in mlops-lab.toml (exit 1 if any fails)",
        _check,
        arguments=(
            Argument(
                "--config", short="-c", help="the checks file (default: the nearest mlops-lab.toml)"
            ),
        ),
        description="Run every [[check.validate]], [[check.drift]] and [[check.model]] entry "
        "of the nearest mlops-lab.toml. Example:\n\n"
        '  [[check.validate]]\n  data = "data/new.csv"\n  schema = "schemas/train.json"\n\n'
        '  [[check.drift]]\n  reference = "data/train.parquet"\n  current = "data/new.csv"\n\n'
        '  [[check.model]]\n  model = "churn@champion"\n  data = "data/holdout.csv"\n'
        '  target = "churned"\n  thresholds = { accuracy = { min_value = 0.85 } }\n',
        render_terminal=lambda code, args: code,
        shells=TERMINAL_ONLY,
    ),
)
