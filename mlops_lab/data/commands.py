"""``mlops-lab validate`` and ``mlops-lab drift``: the data gate for CI.

Each command prints its report and exits 0 when everything passed, 1 when data
failed a check; the CLI turns a user mistake (a missing file, a bad schema)
into one line on stderr and exit code 2. The work is done by :mod:`.check`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .._args import key_value_pairs


def cmd_validate(args: argparse.Namespace) -> int:
    from .check import run_validate

    return run_validate(args.data, schema=args.schema, against=args.against)


def cmd_drift(args: argparse.Namespace) -> int:
    from .check import run_drift

    return run_drift(
        args.reference,
        args.current,
        drift_share=args.drift_share,
        tests=key_value_pairs(args.test, "--test"),
        thresholds=key_value_pairs(args.threshold, "--threshold", float),
    )


def add_subcommands(sub: Any) -> None:
    """Add ``validate`` and ``drift`` to the ``mlops-lab`` subparsers."""
    p = sub.add_parser("validate", help="validate a dataset against a schema (exit 1 on failures)")
    p.add_argument("data", help="a CSV or Parquet file")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--schema", "-s", help="a schema file (JSON or YAML)")
    group.add_argument("--against", "-a", metavar="RUN", help="the schema of a run's training data")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("drift", help="per-column drift of CUR against REF (exit 1 on drift)")
    p.add_argument("reference", metavar="REF", help="the reference CSV or Parquet file")
    p.add_argument("current", metavar="CUR", help="the current CSV or Parquet file")
    p.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        help="share of drifted columns that fails (default 0.5)",
    )
    p.add_argument(
        "--test",
        action="append",
        metavar="COLUMN=TEST",
        help="ks, wasserstein, psi, chisquare or jensenshannon",
    )
    p.add_argument(
        "--threshold",
        action="append",
        metavar="COLUMN_OR_TEST=VALUE",
        help="a threshold (repeatable)",
    )
    p.set_defaults(handler=cmd_drift)
