"""Pipeline and registry verbs: ``promote``, ``pipeline``, ``registry``, ``lineage``."""

from __future__ import annotations

import argparse

from .verbs import Context, VerbParser, verb


def _promote_arguments(parser: VerbParser) -> None:
    from ..pipeline.cli import add_promote_arguments

    add_promote_arguments(parser)


@verb(
    "promote",
    "turn a run into a parameterised papermill pipeline (pipelines/NAME/)",
    arguments=_promote_arguments,
    description="Write pipelines/NAME/: the run's cells as train.ipynb with a `parameters` "
    "cell, pipeline.json (typed params, steps, gate), the data schema and a README.\n\n"
    "  %mlops promote --name iris --metric acc",
)
def promote(ctx: Context, args: argparse.Namespace) -> None:
    from ..pipeline.cli import cmd_promote
    from ..tracking.session import session

    if session().adopted:
        print("promote: skipped inside a pipeline step (the pipeline is already promoted)")
        return
    cmd_promote(args)


def _pipeline_arguments(parser: VerbParser) -> None:
    from ..pipeline.cli import add_pipeline_arguments

    add_pipeline_arguments(parser)


@verb(
    "pipeline",
    "run a promoted pipeline: pipeline run NAME [-p NAME VALUE ...]; "
    "pipeline sweep NAME --grid NAME=V1,V2 [--workers N] [--dask ADDRESS]; pipeline list",
    arguments=_pipeline_arguments,
    description="Validate, train (papermill), evaluate, gate and register.\n\n"
    "  %mlops pipeline run iris -p C 0.5 -p train_path data/new.csv\n"
    "  %mlops pipeline sweep iris --grid C=0.1,1,10 --grid max_iter=100,200 --workers 2",
)
def pipeline(ctx: Context, args: argparse.Namespace) -> object:
    from IPython.core.error import UsageError

    from ..pipeline.cli import params_of
    from ..pipeline.run import run_pipeline
    from ..pipeline.spec import list_pipelines

    if args.action == "list":
        return list_pipelines(args.pipelines_dir)
    if not args.name:
        raise UsageError(f"%mlops pipeline {args.action}: give the pipeline's NAME")
    if args.action == "sweep":
        from ..pipeline.cli import sweep_of

        return sweep_of(args)
    if args.action == "watch":
        if args.max_checks is None:
            raise UsageError(
                "%mlops pipeline watch runs until stopped: run it in a terminal "
                f"(mlops-lab pipeline watch {args.name}), or give --max-checks N here"
            )
        from ..pipeline.watch import watch

        return watch(
            args.name,
            data_param=args.data_param,
            interval=args.interval,
            every=args.every,
            pipelines_dir=args.pipelines_dir,
            max_checks=args.max_checks,
        )
    return run_pipeline(
        args.name,
        params_of(args.param),
        pipelines_dir=args.pipelines_dir,
        progress=not args.no_progress,
    )


@verb(
    "registry",
    "registered models, or the versions of NAME with aliases, metrics and source run",
    arguments=lambda p: p.add_argument("name", nargs="?", help="a model name"),
)
def registry(ctx: Context, args: argparse.Namespace) -> object:
    from ..registry import model_versions, models

    return model_versions(args.name) if args.name else models()


@verb(
    "lineage",
    "data -> run -> pipeline -> model version -> deployments, as a tree",
    arguments=lambda p: p.add_argument(
        "ref", help="name@alias, name/VERSION, name or runs:/RUN_ID/model"
    ),
)
def lineage(ctx: Context, args: argparse.Namespace) -> object:
    from ..registry import lineage as model_lineage

    return model_lineage(args.ref)
