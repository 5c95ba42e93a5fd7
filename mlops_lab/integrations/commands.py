"""``mlops-lab deploy`` and ``mlops-lab ci init``: the integrations from a shell."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_deploy(args: argparse.Namespace) -> int:
    from .deploy import deploy

    print(
        deploy(
            args.bundle,
            args.target,
            args.out,
            storage_uri=args.storage_uri,
            name=args.name,
            overwrite=args.overwrite,
        )
    )
    return 0


def cmd_ci(args: argparse.Namespace) -> int:
    from .workflows import ci_init

    path = ci_init(
        args.provider,
        pipelines=args.pipeline or None,
        python=args.python,
        extras=args.extras,
        schedule=args.schedule,
        overwrite=args.overwrite,
    )
    print(f"wrote {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from .status import project_status

    print(project_status(args.root))
    return 0


def add_subcommands(sub: Any) -> None:
    """Add ``deploy``, ``ci`` and ``status`` to the ``mlops-lab`` subparsers."""
    add_mlflow_subcommand(sub)
    p = sub.add_parser("status", help="pipelines, champions, served versions, checks, MLOps level")
    p.add_argument("--root", default=".", help="the project folder (default: here)")
    p.set_defaults(handler=cmd_status)

    p = sub.add_parser(
        "deploy", help="write what MLServer, KServe or Docker need to serve a bundle"
    )
    p.add_argument("bundle", help="a bundle folder or archive (from mlops-lab package)")
    p.add_argument("--target", "-t", required=True, choices=["mlserver", "kserve", "docker"])
    p.add_argument("--out", "-o", required=True, help="the folder to write")
    p.add_argument("--storage-uri", help="kserve: where the model folder is uploaded")
    p.add_argument("--name", help="the model's name in the engine (default: the bundle's)")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")
    p.set_defaults(handler=cmd_deploy)

    p = sub.add_parser("ci", help="generate a CI workflow: checks, pipeline runs, bundles")
    p.add_argument("action", choices=["init"], help="init: write the workflow file")
    p.add_argument("--provider", choices=["github", "gitlab"], default="github")
    p.add_argument(
        "--pipeline", action="append", metavar="NAME", help="pipelines to run (default: all)"
    )
    p.add_argument("--python", default="3.11", help="the Python version (default 3.11)")
    p.add_argument("--extras", default="serve,onnx", help="extras to install (default serve,onnx)")
    p.add_argument("--schedule", default="0 3 * * *", help="cron for scheduled retraining")
    p.add_argument("--overwrite", action="store_true", help="replace an existing workflow file")
    p.set_defaults(handler=cmd_ci)


def cmd_mlflow(args: argparse.Namespace) -> int:
    from .mlflow_sync import pull, push

    if args.action == "push":
        result = push(
            args.uri,
            experiment=args.experiment,
            models=not args.no_models,
            progress=not args.no_progress,
        )
    else:
        if not args.experiment:
            from ..errors import InvalidArgumentError

            raise InvalidArgumentError("pull needs the MLflow experiment's name")
        result = pull(args.experiment, args.uri, progress=not args.no_progress)
    print(result)
    return 0


def add_mlflow_subcommand(sub: Any) -> None:
    p = sub.add_parser("mlflow", help="push runs and models to an MLflow server, or pull from it")
    p.add_argument("action", choices=["push", "pull"])
    p.add_argument("experiment", nargs="?", help="the experiment (push: default all; pull: needed)")
    p.add_argument("--uri", help="the tracking server (default: MLFLOW_TRACKING_URI)")
    p.add_argument("--experiment", dest="experiment_flag", help=argparse.SUPPRESS)
    p.add_argument("--no-models", action="store_true", help="push: runs only, no models")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_mlflow_handler)


def _mlflow_handler(args: argparse.Namespace) -> int:
    args.experiment = args.experiment or args.experiment_flag
    return cmd_mlflow(args)
