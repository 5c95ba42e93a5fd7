"""Data verbs: ``data`` and ``profile`` (notebook), ``validate`` and ``drift`` (both).

A dataset argument is a CSV or Parquet path; in a notebook it may also name a
variable holding a DataFrame (a name that is both means the variable). In a
terminal ``validate`` and ``drift`` are the data gate for CI: they print the report
and exit 1 when the data fails a check or drifts.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidArgumentError
from .spec import NOTEBOOK_ONLY, Argument, Command, Invocation
from .spec import key_value_pairs as _pairs

_DATASET = "VAR_OR_PATH"


def _data(args: argparse.Namespace, inv: Invocation) -> tuple[str, str]:
    from ..data.api import log_dataset

    name, eq, ref = args.dataset.partition("=")
    if not eq or not name or not ref:
        raise InvalidArgumentError(f"%mlops data: expected NAME=VAR_OR_PATH, got {args.dataset!r}")
    return name, log_dataset(inv.value(ref), name, role=args.role)


def _data_shown(result: tuple[str, str], args: argparse.Namespace) -> Any:
    from ..data.api import dataset_profile
    from ..tracking.api import active_run

    name, digest = result
    run = active_run()
    where = (
        f"linked to run {run.run_id[:8]} as {args.role}" if run else "no run is open: not linked"
    )
    print(f"dataset {name}: {digest[:12]} ({where})")
    return dataset_profile(digest)  # the profile log_dataset stored: not computed again


def _profile(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..data.profile import profile

    return profile(inv.value(args.dataset))


def _validate(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..data.validate import validate

    value = inv.value(args.dataset)
    if args.save_schema:
        from ..data.schema import infer_schema

        if args.schema or args.against:
            raise InvalidArgumentError("--save-schema infers a schema; drop --schema/--against")
        schema = infer_schema(value)
        schema.save(args.save_schema)
        return schema
    if not args.schema and not args.against:
        raise InvalidArgumentError(
            "give --schema FILE or --against RUN (or --save-schema FILE to infer one)"
        )
    return validate(value, args.schema, against=args.against)


def _validated(result: Any, args: argparse.Namespace) -> Any:
    if args.save_schema:
        print(f"schema of {args.dataset} saved to {args.save_schema}")
    return result


def _validated_text(result: Any, args: argparse.Namespace) -> int:
    if args.save_schema:
        print(f"schema of {args.dataset} saved to {args.save_schema}")
        return 0
    print(result)
    return 0 if result.passed else 1


def _drift(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..data.drift import drift

    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    return drift(
        inv.value(args.reference),
        inv.value(args.current),
        columns=columns,
        tests=_pairs(args.test, "--test"),
        thresholds=_pairs(args.threshold, "--threshold", float),
        drift_share=args.drift_share,
    )


def _drift_text(report: Any, args: argparse.Namespace) -> int:
    print(report)
    return 0 if report.passed else 1


COMMANDS = (
    Command(
        "data",
        "fingerprint, profile and link a dataset to the open run",
        _data,
        arguments=(
            Argument(
                "dataset", metavar="NAME=VAR_OR_PATH", help="e.g. train=df or train=data/train.csv"
            ),
            Argument(
                "--role", default="train", help="train, test, validation, ... (default: train)"
            ),
        ),
        description="Fingerprint a DataFrame or a CSV/Parquet file, keep its profile and schema "
        "once per digest, and link it to the open run.\n\n"
        "  %mlops data train=df_train\n  %mlops data holdout=data/test.parquet --role test",
        render_notebook=_data_shown,
        shells=NOTEBOOK_ONLY,
    ),
    Command(
        "profile",
        "a dataset's profile: types, missing, ranges, categories",
        _profile,
        arguments=(Argument("dataset", metavar=_DATASET),),
        shells=NOTEBOOK_ONLY,
    ),
    Command(
        "validate",
        "validate a dataset against a schema file or a run's training data (exit 1 on failures)",
        _validate,
        arguments=(
            Argument("dataset", metavar=_DATASET, help="the data to check"),
            Argument("--schema", short="-s", metavar="FILE", group="schema", help="a schema file"),
            Argument(
                "--against",
                short="-a",
                metavar="RUN",
                group="schema",
                help="the schema of a run's training data",
            ),
            Argument(
                "--save-schema", metavar="FILE", help="infer a schema from the dataset and save it"
            ),
        ),
        description="Check a dataset against a schema (JSON or YAML) or a run's training data; "
        "the report lists every failed check with its rows. With --save-schema, infer the "
        "schema from this dataset instead.\n\n"
        "  validate train.csv --save-schema schemas/train.json\n"
        "  validate new_batch.csv --schema schemas/train.json\n"
        "  validate data/new.csv --against baseline",
        render_notebook=_validated,
        render_terminal=_validated_text,
    ),
    Command(
        "drift",
        "per-column drift of CUR against REF (exit 1 on dataset drift)",
        _drift,
        arguments=(
            Argument("reference", metavar="REF", help="the reference data"),
            Argument("current", metavar="CUR", help="the current data"),
            Argument("--columns", short="-c", help="comma-separated columns (default: all)"),
            Argument(
                "--test",
                action="append",
                metavar="COLUMN=TEST",
                help="ks, wasserstein, psi, chisquare or jensenshannon (repeatable)",
            ),
            Argument(
                "--threshold",
                action="append",
                metavar="COLUMN_OR_TEST=VALUE",
                help="a threshold (repeatable)",
            ),
            Argument(
                "--drift-share",
                type=float,
                default=0.5,
                help="share of drifted columns that means dataset drift (default 0.5)",
            ),
        ),
        description="Compare each column with a test suited to its type and size; scores are "
        "stored with the open run.\n\n"
        "  drift train new_batch\n"
        "  drift data/train.parquet data/new.csv --test age=psi --threshold psi=0.25",
        render_terminal=_drift_text,
    ),
)
