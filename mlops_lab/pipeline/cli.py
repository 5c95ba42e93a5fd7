"""``mlops-lab promote``, ``pipeline run|sweep|list``, ``registry``, ``lineage``,
``merge`` and ``reproduce``.

``add_subcommands(subparsers)`` adds them to the ``mlops-lab`` parser. A
failing pipeline step prints the failing cell and exits 1; a user mistake
(unknown pipeline, bad parameter) raises and is reported by the CLI (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_promote_arguments(p: Any) -> None:
    p.add_argument("run", nargs="?", help="run id, id prefix or name (default: the latest run)")
    p.add_argument("--name", "-n", required=True, help="the pipeline's (and model's) name")
    p.add_argument("--metric", "-m", help="the metric the gate compares (default: a known one)")
    p.add_argument("--mode", choices=["max", "min"], default="max", help="higher or lower wins")
    p.add_argument("--out-dir", default="pipelines", help="where pipeline folders are written")
    p.add_argument(
        "--otherwise",
        choices=["challenger", "rejected"],
        default="challenger",
        help="what a model that does not beat the champion becomes",
    )
    p.add_argument(
        "--no-verify",
        action="store_true",
        help="do not run the new notebook once to check it reproduces the run's metrics",
    )
    p.add_argument(
        "--target", help="the library scores candidate and champion itself on this target column"
    )
    p.add_argument(
        "--holdout", type=float, metavar="FRACTION", help="with --target: hold out this share"
    )
    p.add_argument("--seed", type=int, default=0, help="with --holdout: the split's seed")
    p.add_argument(
        "--eval-data", metavar="PARAM_OR_PATH", help="with --target: the evaluation dataset"
    )


def add_pipeline_arguments(p: Any) -> None:
    p.add_argument(
        "action",
        choices=["run", "sweep", "list", "watch"],
        help="run a pipeline, sweep a grid of parameters, list them, or watch its data "
        "and retrain when it changes",
    )
    p.add_argument("name", nargs="?", help="the pipeline's name (or folder)")
    p.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="override a parameter (repeatable); converted to its declared type",
    )
    p.add_argument("--pipelines-dir", default="pipelines", help="where pipelines are kept")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--grid",
        action="append",
        metavar="NAME=V1,V2",
        help="sweep: values of a parameter (repeatable); every combination runs",
    )
    p.add_argument("--workers", type=int, help="sweep: parallel runs (default: one per CPU)")
    p.add_argument("--dask", metavar="ADDRESS", help="sweep: on this Dask scheduler instead")
    p.add_argument("--interval", default="60s", help="watch: how often to look (e.g. 30s, 5m)")
    p.add_argument("--every", help="watch: a schedule, e.g. 1h (retrains only on new data)")
    p.add_argument("--data-param", help="watch: the parameter naming the training data file")
    p.add_argument("--max-checks", type=int, help="watch: stop after N looks")
    p.add_argument(
        "--drift-share",
        type=float,
        help="watch: also signal when this share of the served inputs' columns drifted",
    )
    p.add_argument("--served-model", help="watch: the served model whose inputs to check")
    p.add_argument("--reference", help="watch: the reference data file for --drift-share")


def params_of(pairs: list[list[str]] | None) -> dict[str, str]:
    return {k: v for k, v in pairs or []}


def cmd_promote(args: argparse.Namespace) -> int:
    from .promote import promote

    spec = promote(
        args.run,
        args.name,
        metric=args.metric,
        mode=args.mode,
        out_dir=args.out_dir,
        otherwise=args.otherwise,
        verify=not args.no_verify,
        evaluation=evaluation_of(args),
    )
    print(describe(spec))
    verification = spec.source.get("verification")
    if verification:
        print(f"  verified: {verification['status']} in {verification['seconds']}s")
    return 0


def evaluation_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The evaluate step's data from ``--target``, ``--holdout``/``--seed``, ``--eval-data``."""
    if args.target is None:
        return None
    out: dict[str, Any] = {"target": args.target}
    if args.eval_data:
        out["data"] = args.eval_data
    if args.holdout is not None:
        out["holdout"] = {"fraction": args.holdout, "seed": args.seed}
    return out


def describe(spec: Any) -> str:
    params = ", ".join(f"{k}: {p.type} = {p.default!r}" for k, p in spec.params.items())
    gate = spec.gate
    return (
        f"wrote {spec.folder}\n  params: {params or 'none'}\n"
        f"  gate: {gate.get('metric')} ({gate.get('mode')}) vs {spec.name}@champion, "
        f"else {gate.get('otherwise')}\n  run it: mlops-lab pipeline run {spec.name} -p NAME VALUE"
    )


def _cmd_pipeline(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgumentError, PipelineStepError
    from .run import run_pipeline
    from .spec import list_pipelines

    if args.action == "list":
        for name in list_pipelines(args.pipelines_dir):
            print(name)
        return 0
    if not args.name:
        raise InvalidArgumentError(f"pipeline {args.action}: give the pipeline's NAME")
    if args.action == "sweep":
        return _sweep(args)
    if args.action == "watch":
        from .watch import watch

        watch(
            args.name,
            data_param=args.data_param,
            interval=args.interval,
            every=args.every,
            pipelines_dir=args.pipelines_dir,
            max_checks=args.max_checks,
            drift_share=args.drift_share,
            served_model=args.served_model,
            reference=args.reference,
        )
        return 0
    try:
        result = run_pipeline(
            args.name,
            params_of(args.param),
            pipelines_dir=args.pipelines_dir,
            progress=not args.no_progress,
        )
    except PipelineStepError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(result)
    return 0


def sweep_of(args: argparse.Namespace) -> Any:
    """Run ``pipeline sweep`` from parsed arguments (the CLI and ``%mlops`` share it)."""
    from ..errors import InvalidArgumentError
    from .sweep import parse_grid, sweep

    if not args.grid:
        raise InvalidArgumentError("pipeline sweep: give at least one --grid NAME=V1,V2,...")
    if args.param:
        raise InvalidArgumentError("pipeline sweep: use --grid NAME=VALUE for a fixed value")
    return sweep(
        args.name,
        parse_grid(args.grid),
        workers=args.workers,
        address=args.dask,
        pipelines_dir=args.pipelines_dir,
        progress=not args.no_progress,
    )


def _sweep(args: argparse.Namespace) -> int:
    result = sweep_of(args)
    print(result)
    return 1 if result.failed else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from ..project import merge

    print(merge(args.other))
    return 0


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from ..errors import InputChangedError, PipelineStepError
    from .reproduce import reproduce

    try:
        outcome = reproduce(
            args.ref,
            tolerance=args.tolerance,
            pipelines_dir=args.pipelines_dir,
            progress=not args.no_progress,
        )
    except (InputChangedError, PipelineStepError) as exc:
        print(str(exc), file=sys.stderr)
        return 1
    print(outcome)
    return 0 if outcome.matches else 1


def _cmd_registry(args: argparse.Namespace) -> int:
    from ..registry import model_versions, models

    frame = model_versions(args.name) if args.name else models()
    print(frame.to_string(index=False) if not frame.empty else "no registered models")
    return 0


def _cmd_lineage(args: argparse.Namespace) -> int:
    from ..registry import lineage

    print(lineage(args.ref))
    return 0


def add_subcommands(subparsers: Any) -> None:
    """Add ``promote``, ``pipeline``, ``registry``, ``lineage``, ``merge`` and ``reproduce``."""
    p = subparsers.add_parser("promote", help="turn a run into a parameterised pipeline folder")
    add_promote_arguments(p)
    p.set_defaults(handler=cmd_promote)
    p = subparsers.add_parser("pipeline", help="run a promoted pipeline (or list them)")
    add_pipeline_arguments(p)
    p.set_defaults(handler=_cmd_pipeline)
    p = subparsers.add_parser("registry", help="registered models, or the versions of one")
    p.add_argument("name", nargs="?", help="a model name")
    p.set_defaults(handler=_cmd_registry)
    p = subparsers.add_parser("lineage", help="where a model version came from, as a tree")
    p.add_argument("ref", help="name@alias, name/VERSION, name or runs:/RUN_ID/model")
    p.set_defaults(handler=_cmd_lineage)
    p = subparsers.add_parser("merge", help="merge another store into this one (idempotent)")
    p.add_argument("other", help="the other store's folder (holding mlops.db and blobs/)")
    p.set_defaults(handler=_cmd_merge)
    p = subparsers.add_parser(
        "reproduce", help="re-run the pipeline of a model version and compare its metrics"
    )
    p.add_argument("ref", help="name/VERSION or name@alias")
    p.add_argument(
        "--tolerance", type=float, default=1e-6, help="largest accepted metric difference"
    )
    p.add_argument("--pipelines-dir", default="pipelines", help="where pipelines are kept")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_cmd_reproduce)
