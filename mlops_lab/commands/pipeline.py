"""Pipeline and registry verbs: ``promote``, ``pipeline``, ``registry``, ``lineage`` (both),
``merge`` and ``reproduce`` (terminal).

A failing pipeline step, or a reproduction whose metrics differ, is a check that
failed: in a terminal it prints the failing cell and exits 1. Inside a pipeline
step (an adopted run) ``promote`` does nothing: the pipeline is already promoted.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InputChangedError, InvalidArgumentError, PipelineStepError
from .spec import TERMINAL_ONLY, Argument, Command, Invocation

_PIPELINES_DIR = Argument("--pipelines-dir", default="pipelines", help="where pipelines are kept")
_NO_PROGRESS = Argument("--no-progress", action="store_true", help="no progress bar")


def _evaluation(args: argparse.Namespace) -> dict[str, Any] | None:
    """The evaluate step's data from ``--target``, ``--holdout``/``--seed``, ``--eval-data``."""
    if args.target is None:
        return None
    out: dict[str, Any] = {"target": args.target}
    if args.eval_data:
        out["data"] = args.eval_data
    if args.holdout is not None:
        out["holdout"] = {"fraction": args.holdout, "seed": args.seed}
    return out


def _promote(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..pipeline.promote import promote
    from ..project import default_project

    if default_project().adopted:
        return None
    return promote(
        args.run,
        args.name,
        metric=args.metric,
        mode=args.mode,
        out_dir=args.out_dir,
        otherwise=args.otherwise,
        verify=not args.no_verify,
        evaluation=_evaluation(args),
    )


def _promoted(spec: Any, args: argparse.Namespace) -> None:
    if spec is None:
        print("promote: skipped inside a pipeline step (the pipeline is already promoted)")
        return
    params = ", ".join(f"{k}: {p.type} = {p.default!r}" for k, p in spec.params.items())
    gate = spec.gate
    print(
        f"wrote {spec.folder}\n  params: {params or 'none'}\n"
        f"  gate: {gate.get('metric')} ({gate.get('mode')}) vs {spec.name}@champion, "
        f"else {gate.get('otherwise')}\n  run it: mlops-lab pipeline run {spec.name} -p NAME VALUE"
    )
    verification = spec.source.get("verification")
    if verification:
        print(f"  verified: {verification['status']} in {verification['seconds']}s")


def _pipeline(args: argparse.Namespace, inv: Invocation) -> Any:
    if args.action == "list":
        from ..pipeline.spec import list_pipelines

        return list_pipelines(args.pipelines_dir)
    if not args.name:
        raise InvalidArgumentError(f"pipeline {args.action}: give the pipeline's NAME")
    if args.action == "sweep":
        from ..pipeline.sweep import parse_grid, sweep

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
    if args.action == "watch":
        from ..pipeline.watch import watch

        if inv.notebook and args.max_checks is None:
            raise InvalidArgumentError(
                "pipeline watch runs until stopped: run it in a terminal "
                f"(mlops-lab pipeline watch {args.name}), or give --max-checks N here"
            )
        return watch(
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
    from ..pipeline.run import run_pipeline

    return run_pipeline(
        args.name,
        {k: v for k, v in args.param or []},
        pipelines_dir=args.pipelines_dir,
        progress=not args.no_progress,
    )


def _pipeline_text(result: Any, args: argparse.Namespace) -> int:
    if args.action == "list":
        for name in result:
            print(name)
        return 0
    if args.action == "watch":
        return 0
    print(result)
    return 1 if args.action == "sweep" and result.failed else 0


def _registry(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..registry import model_versions, models

    return model_versions(args.name) if args.name else models()


def _registry_text(frame: Any, args: argparse.Namespace) -> int:
    print(frame.to_string(index=False) if not frame.empty else "no registered models")
    return 0


def _lineage(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..registry import lineage

    return lineage(args.ref)


def _merge(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..project import merge

    return merge(args.other)


def _reproduce(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..pipeline.reproduce import reproduce

    return reproduce(
        args.ref,
        tolerance=args.tolerance,
        pipelines_dir=args.pipelines_dir,
        progress=not args.no_progress,
    )


def _reproduced(outcome: Any, args: argparse.Namespace) -> int:
    print(outcome)
    return 0 if outcome.matches else 1


COMMANDS = (
    Command(
        "promote",
        "turn a run into a parameterised papermill pipeline (pipelines/NAME/)",
        _promote,
        arguments=(
            Argument("run", nargs="?", help="run id, id prefix or name (default: the latest run)"),
            Argument("--name", short="-n", required=True, help="the pipeline's (and model's) name"),
            Argument(
                "--metric", short="-m", help="the metric the gate compares (default: a known one)"
            ),
            Argument("--mode", choices=("max", "min"), default="max", help="higher or lower wins"),
            Argument("--out-dir", default="pipelines", help="where pipeline folders are written"),
            Argument(
                "--otherwise",
                choices=("challenger", "rejected"),
                default="challenger",
                help="what a model that does not beat the champion becomes",
            ),
            Argument(
                "--no-verify",
                action="store_true",
                help="do not run the new notebook once to check it reproduces the run's metrics",
            ),
            Argument(
                "--target",
                help="the library scores candidate and champion itself on this target column",
            ),
            Argument(
                "--holdout",
                type=float,
                metavar="FRACTION",
                help="with --target: hold out this share",
            ),
            Argument("--seed", type=int, default=0, help="with --holdout: the split's seed"),
            Argument(
                "--eval-data", metavar="PARAM_OR_PATH", help="with --target: the evaluation dataset"
            ),
        ),
        description="Write pipelines/NAME/: the run's cells as train.ipynb with a `parameters` "
        "cell, pipeline.json (typed params, steps, gate), the data schema and a README.\n\n"
        "  promote --name iris --metric acc",
        render_notebook=_promoted,
        render_terminal=_promoted,
    ),
    Command(
        "pipeline",
        "run, sweep, list or watch promoted pipelines",
        _pipeline,
        arguments=(
            Argument(
                "action",
                choices=("run", "sweep", "list", "watch"),
                help="run a pipeline, sweep a grid of parameters, list them, or watch its data "
                "and retrain when it changes",
            ),
            Argument("name", nargs="?", help="the pipeline's name (or folder)"),
            Argument(
                "--param",
                short="-p",
                nargs=2,
                action="append",
                metavar=("NAME", "VALUE"),
                help="override a parameter (repeatable); converted to its declared type",
            ),
            _PIPELINES_DIR,
            _NO_PROGRESS,
            Argument(
                "--grid",
                action="append",
                metavar="NAME=V1,V2",
                help="sweep: values of a parameter (repeatable); every combination runs",
            ),
            Argument("--workers", type=int, help="sweep: parallel runs (default: one per CPU)"),
            Argument("--dask", metavar="ADDRESS", help="sweep: on this Dask scheduler instead"),
            Argument("--interval", default="60s", help="watch: how often to look (e.g. 30s, 5m)"),
            Argument("--every", help="watch: a schedule, e.g. 1h (retrains only on new data)"),
            Argument("--data-param", help="watch: the parameter naming the training data file"),
            Argument(
                "--max-checks",
                type=int,
                help="watch: stop after N looks (needed in a notebook)",
            ),
            Argument(
                "--drift-share",
                type=float,
                help="watch: also signal when this share of the served inputs' columns drifted",
            ),
            Argument("--served-model", help="watch: the served model whose inputs to check"),
            Argument("--reference", help="watch: the reference data file for --drift-share"),
        ),
        description="Validate, train (papermill), evaluate, gate and register.\n\n"
        "  pipeline run iris -p C 0.5 -p train_path data/new.csv\n"
        "  pipeline sweep iris --grid C=0.1,1,10 --grid max_iter=100,200 --workers 2",
        render_terminal=_pipeline_text,
        failures=(PipelineStepError,),
    ),
    Command(
        "registry",
        "registered models, or the versions of NAME with aliases, metrics and source run",
        _registry,
        arguments=(Argument("name", nargs="?", help="a model name"),),
        render_terminal=_registry_text,
    ),
    Command(
        "lineage",
        "data -> run -> pipeline -> model version -> deployments, as a tree",
        _lineage,
        arguments=(Argument("ref", help="name@alias, name/VERSION, name or runs:/RUN_ID/model"),),
    ),
    Command(
        "merge",
        "merge another store into this one (idempotent)",
        _merge,
        arguments=(
            Argument("other", help="the other store's folder (holding mlops.db and blobs/)"),
        ),
        shells=TERMINAL_ONLY,
    ),
    Command(
        "reproduce",
        "re-run the pipeline of a model version and compare its metrics",
        _reproduce,
        arguments=(
            Argument("ref", help="name/VERSION or name@alias"),
            Argument(
                "--tolerance", type=float, default=1e-6, help="largest accepted metric difference"
            ),
            _PIPELINES_DIR,
            _NO_PROGRESS,
        ),
        render_terminal=_reproduced,
        shells=TERMINAL_ONLY,
        failures=(InputChangedError, PipelineStepError),
    ),
)
