"""Terminal verbs of the integrations: ``deploy``, ``ci init``, ``mlflow``, ``status``,
and ``demo`` (the worked example end to end in a fresh store)."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidArgumentError
from .spec import TERMINAL_ONLY, Argument, Command, Invocation


def _deploy(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..integrations.deploy import deploy

    return deploy(
        args.bundle,
        args.target,
        args.out,
        storage_uri=args.storage_uri,
        name=args.name,
        overwrite=args.overwrite,
    )


def _ci(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..integrations.workflows import ci_init

    return ci_init(
        args.provider,
        pipelines=args.pipeline or None,
        python=args.python,
        extras=args.extras,
        schedule=args.schedule,
        overwrite=args.overwrite,
    )


def _mlflow(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..integrations.mlflow_sync import pull, push

    experiment = args.experiment or args.experiment_flag
    if args.action == "push":
        return push(
            args.uri,
            experiment=experiment,
            models=not args.no_models,
            progress=not args.no_progress,
        )
    if not experiment:
        raise InvalidArgumentError("pull needs the MLflow experiment's name")
    return pull(experiment, args.uri, progress=not args.no_progress)


def _status(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..integrations.status import project_status

    return project_status(args.root)


def _demo(args: argparse.Namespace, inv: Invocation) -> int:
    from ..demo import run_demo

    return run_demo(args.dir)


COMMANDS = (
    Command(
        "demo",
        "run the worked example end to end in a fresh store",
        _demo,
        arguments=(
            Argument(
                "--dir", default="mlops-lab-demo", help="folder for the demo's store and files"
            ),
        ),
        render_terminal=lambda code, args: code,
        shells=TERMINAL_ONLY,
    ),
    Command(
        "mlflow",
        "push runs and models to an MLflow server, or pull from it",
        _mlflow,
        arguments=(
            Argument("action", choices=("push", "pull")),
            Argument(
                "experiment",
                nargs="?",
                help="the experiment (push: default all; pull: needed)",
            ),
            Argument("--uri", help="the tracking server (default: MLFLOW_TRACKING_URI)"),
            Argument("--experiment", dest="experiment_flag", help=argparse.SUPPRESS),
            Argument("--no-models", action="store_true", help="push: runs only, no models"),
            Argument("--no-progress", action="store_true", help="no progress bar"),
        ),
        shells=TERMINAL_ONLY,
    ),
    Command(
        "status",
        "pipelines, champions, served versions, checks, MLOps level",
        _status,
        arguments=(Argument("--root", default=".", help="the project folder (default: here)"),),
        shells=TERMINAL_ONLY,
    ),
    Command(
        "deploy",
        "write what MLServer, KServe or Docker need to serve a bundle",
        _deploy,
        arguments=(
            Argument("bundle", help="a bundle folder or archive (from mlops-lab package)"),
            Argument(
                "--target", short="-t", required=True, choices=("mlserver", "kserve", "docker")
            ),
            Argument("--out", short="-o", required=True, help="the folder to write"),
            Argument("--storage-uri", help="kserve: where the model folder is uploaded"),
            Argument("--name", help="the model's name in the engine (default: the bundle's)"),
            Argument("--overwrite", action="store_true", help="replace a non-empty --out folder"),
        ),
        shells=TERMINAL_ONLY,
    ),
    Command(
        "ci",
        "generate a CI workflow: checks, pipeline runs, bundles",
        _ci,
        arguments=(
            Argument("action", choices=("init",), help="init: write the workflow file"),
            Argument("--provider", choices=("github", "gitlab"), default="github"),
            Argument(
                "--pipeline",
                action="append",
                metavar="NAME",
                help="pipelines to run (default: all)",
            ),
            Argument("--python", default="3.11", help="the Python version (default 3.11)"),
            Argument(
                "--extras", default="serve,onnx", help="extras to install (default serve,onnx)"
            ),
            Argument("--schedule", default="0 3 * * *", help="cron for scheduled retraining"),
            Argument("--overwrite", action="store_true", help="replace an existing workflow file"),
        ),
        render_terminal=lambda path, args: print(f"wrote {path}"),
        shells=TERMINAL_ONLY,
    ),
)
