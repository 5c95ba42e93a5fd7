"""Data verbs: ``data`` (log a dataset), ``profile``, ``validate`` and ``drift``.

A dataset argument is a variable of the notebook (a DataFrame) or a path to a
CSV or Parquet file; a name that is both means the variable.
"""

from __future__ import annotations

import argparse
from typing import Any

from IPython.core.error import UsageError

from .._args import key_value_pairs
from .verbs import Context, VerbParser, verb


def _dataset(ctx: Context, ref: str) -> Any:
    """The notebook variable ``ref``, else ``ref`` as a file path."""
    if ref in ctx.user_ns:
        return ctx.user_ns[ref]
    if ref.isidentifier() and "." not in ref:
        from pathlib import Path

        if not Path(ref).exists():
            raise UsageError(f"{ref!r} is neither a variable of the notebook nor a file")
    return ref


def _data_arguments(parser: VerbParser) -> None:
    parser.add_argument(
        "dataset", metavar="NAME=VAR_OR_PATH", help="e.g. train=df or train=data/train.csv"
    )
    parser.add_argument(
        "--role", default="train", help="train, test, validation, ... (default: train)"
    )


@verb(
    "data",
    "fingerprint, profile and link a dataset to the open run",
    arguments=_data_arguments,
    description="Fingerprint a DataFrame or a CSV/Parquet file, keep its profile and schema "
    "once per digest, and link it to the open run.\n\n"
    "  %mlops data train=df_train\n  %mlops data holdout=data/test.parquet --role test",
)
def data(ctx: Context, args: argparse.Namespace) -> Any:
    from ..data.api import log_dataset
    from ..data.profile import profile
    from ..tracking.session import session

    name, eq, ref = args.dataset.partition("=")
    if not eq or not name or not ref:
        raise UsageError(f"%mlops data: expected NAME=VAR_OR_PATH, got {args.dataset!r}")
    value = _dataset(ctx, ref)
    digest = log_dataset(value, name, role=args.role)
    run = session().active
    where = (
        f"linked to run {run.run_id[:8]} as {args.role}" if run else "no run is open: not linked"
    )
    print(f"dataset {name}: {digest[:12]} ({where})")
    return profile(value) if not isinstance(value, str) else None


@verb(
    "profile",
    "a dataset's profile: types, missing, ranges, categories",
    arguments=lambda p: p.add_argument("dataset", metavar="VAR_OR_PATH"),
)
def profile_verb(ctx: Context, args: argparse.Namespace) -> Any:
    from ..data.profile import profile

    return profile(_dataset(ctx, args.dataset))


def _validate_arguments(parser: VerbParser) -> None:
    parser.add_argument("dataset", metavar="VAR_OR_PATH")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--schema", "-s", metavar="FILE", help="a schema file (JSON or YAML)")
    group.add_argument("--against", "-a", metavar="RUN", help="the schema of a run's training data")
    parser.add_argument(
        "--save-schema", metavar="FILE", help="infer a schema from the dataset and save it"
    )


@verb(
    "validate",
    "validate a dataset against a schema file or a run's training data",
    arguments=_validate_arguments,
    description="Check a dataset against a schema; the report lists every failed check "
    "with its rows. With --save-schema, infer the schema from this dataset instead.\n\n"
    "  %mlops validate train --save-schema schemas/train.json\n"
    "  %mlops validate new_batch --schema schemas/train.json\n"
    "  %mlops validate data/new.csv --against baseline",
)
def validate_verb(ctx: Context, args: argparse.Namespace) -> Any:
    from ..data.schema import infer_schema
    from ..data.validate import validate

    value = _dataset(ctx, args.dataset)
    if args.save_schema:
        if args.schema or args.against:
            raise UsageError(
                "%mlops validate: --save-schema infers a schema; drop --schema/--against"
            )
        schema = infer_schema(value)
        path = schema.save(args.save_schema)
        print(f"schema of {args.dataset} saved to {path}")
        return schema
    if not args.schema and not args.against:
        from ..tracking.session import session

        active = session().active
        if active is None:
            raise UsageError("%mlops validate: give --schema FILE or --against RUN")
        args.against = active.run_id
    return validate(value, args.schema, against=args.against)


def _drift_arguments(parser: VerbParser) -> None:
    parser.add_argument("reference", metavar="REF", help="variable or path of the reference data")
    parser.add_argument("current", metavar="CUR", help="variable or path of the current data")
    parser.add_argument("--columns", "-c", help="comma-separated columns (default: all)")
    parser.add_argument(
        "--test",
        action="append",
        metavar="COLUMN=TEST",
        help="ks, wasserstein, psi, chisquare or jensenshannon (repeatable)",
    )
    parser.add_argument(
        "--threshold",
        action="append",
        metavar="COLUMN_OR_TEST=VALUE",
        help="a threshold (repeatable)",
    )
    parser.add_argument(
        "--drift-share",
        type=float,
        default=0.5,
        help="share of drifted columns that means dataset drift (default 0.5)",
    )


@verb(
    "drift",
    "per-column drift between a reference and a current dataset",
    arguments=_drift_arguments,
    description="Compare each column with a test suited to its type and size; scores are "
    "stored with the open run.\n\n"
    "  %mlops drift train new_batch\n"
    "  %mlops drift data/train.parquet data/new.csv --test age=psi --threshold psi=0.25",
)
def drift_verb(ctx: Context, args: argparse.Namespace) -> Any:
    from ..data.drift import drift

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    return drift(
        _dataset(ctx, args.reference),
        _dataset(ctx, args.current),
        columns=columns,
        tests=key_value_pairs(args.test, "--test"),
        thresholds=key_value_pairs(args.threshold, "--threshold", float),
        drift_share=args.drift_share,
    )
