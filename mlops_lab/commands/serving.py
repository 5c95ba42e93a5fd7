"""Deployment verbs: ``package`` (write a bundle), ``serve`` and ``monitor``.

``serve`` takes the same flags in both shells. A terminal serves in the foreground
on port 8080 until interrupted; a notebook starts the server in the background on
a free port and returns a handle (``.url``, ``.predict``, ``.logs``, ``.stop``).
``python -m mlops_lab serve`` (what the handle starts) is ``mlops-lab serve``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .spec import TERMINAL_ONLY, Argument, Command, Invocation


def _package(args: argparse.Namespace, inv: Invocation) -> Any:
    import warnings

    from ..errors import OnnxExportWarning
    from ..packaging import package

    with warnings.catch_warnings():
        if not inv.notebook:  # the "onnx:" line of the terminal gives the reason; say it once
            warnings.simplefilter("ignore", OnnxExportWarning)
        return package(
            args.model,
            args.out,
            archive=args.archive,
            onnx=not args.no_onnx,
            overwrite=args.overwrite,
        )


def _packaged(bundle: Any, args: argparse.Namespace) -> int:
    onnx = bundle.onnx
    print(f"bundle {bundle.name} version {bundle.version} written to {bundle.path}")
    print(f"  onnx: {onnx.get('status')}" + (f" ({onnx['reason']})" if onnx.get("reason") else ""))
    if bundle.archive:
        print(f"  archive: {bundle.archive}")
    return 0


# Flags passed through to the background server as they were given.
_SERVER_FLAGS = (
    "max_body_bytes",
    "max_rows",
    "unseen_categories",
    "runtime",
    "log_level",
    "follow",
    "follow_interval",
    "shadow",
    "canary",
)


def _token(args: argparse.Namespace) -> str | None:
    return args.token or os.environ.get("MLOPS_LAB_SERVE_TOKEN") or None


def _serve(args: argparse.Namespace, inv: Invocation) -> None:
    from ..serve.server import serve

    serve(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=_token(args),
        max_body_bytes=args.max_body_bytes,
        max_rows=args.max_rows,
        unseen_categories=args.unseen_categories,
        runtime=args.runtime,
        log_level=args.log_level,
        follow=args.follow,
        follow_interval=args.follow_interval,
        shadow=args.shadow,
        canary=args.canary,
    )


def _start_server(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..serve.server import start_server

    return start_server(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=_token(args),
        extra_args=SERVE.argv(args, _SERVER_FLAGS),
    )


def _monitor(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..monitoring import monitor

    reference = inv.value(args.reference) if args.reference else None
    return monitor(args.name, since=args.since, reference=reference)


def _flag_hint(report: Any, args: argparse.Namespace, how: str) -> Any:
    if args.reference is None and report.drift_note and "reference=" in report.drift_note:
        # the API's hint names its Python keyword; in a shell the flag is the way to pass it
        report.drift_note = f"no reference data: pass --reference {how}"
    return report


def _monitored(report: Any, args: argparse.Namespace) -> Any:
    return _flag_hint(report, args, "VAR (a variable holding the training frame)")


def _monitor_text(report: Any, args: argparse.Namespace) -> int:
    _flag_hint(report, args, "FILE (the training data, CSV or Parquet)")
    if args.format == "json":
        import json
        import sys

        sys.stdout.write(json.dumps(report.to_dict(), default=str, indent=2) + "\n")
    else:
        print(report.to_text())
    return 0


SERVE = Command(
    "serve",
    "serve a model over HTTP (Open Inference Protocol, MLflow); "
    "in a notebook in the background, with a handle",
    _serve,
    arguments=(
        Argument("model", help="a bundle folder or .tar.gz, or a model: name@alias, run id"),
        Argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)"),
        Argument(
            "--port", type=int, default=8080, help="port (default 8080; in a notebook a free one)"
        ),
        Argument("--workers", type=int, default=1, help="worker processes (default 1)"),
        Argument(
            "--token",
            help="require 'Authorization: Bearer TOKEN' (default: $MLOPS_LAB_SERVE_TOKEN)",
        ),
        Argument("--max-body-bytes", type=int, default=5_000_000, help="largest request body"),
        Argument("--max-rows", type=int, default=10_000, help="most rows in one request"),
        Argument(
            "--unseen-categories",
            choices=("reject", "allow"),
            default="reject",
            help="answer 422 for a category not seen in training (default), or let the model "
            "decide",
        ),
        Argument(
            "--runtime",
            choices=("auto", "onnx", "sklearn"),
            default="auto",
            help="auto: ONNX Runtime when the bundle's ONNX model is verified, else scikit-learn",
        ),
        Argument("--log-level", default="warning", help="uvicorn's log level"),
        Argument(
            "--follow",
            action="store_true",
            help="follow the alias (or bundle folder): swap to each new version once it is checked",
        ),
        Argument(
            "--follow-interval", type=float, default=2.0, help="seconds between --follow checks"
        ),
        Argument(
            "--shadow",
            metavar="MODEL",
            help="also run MODEL on every input, logged, never answered",
        ),
        Argument(
            "--canary",
            metavar="MODEL:SHARE",
            help="answer SHARE of requests with MODEL, e.g. iris@challenger:10%%",
        ),
    ),
    notebook_defaults={"port": None},
    notebook_call=_start_server,
    render_terminal=lambda result, args: 0,
)

COMMANDS = (
    Command(
        "package",
        "write a model bundle (skops, ONNX, schema, Dockerfile)",
        _package,
        arguments=(
            Argument("model", help="name@alias, name/VERSION, runs:/RUN_ID/model, or a run id"),
            Argument("--out", short="-o", required=True, help="the bundle folder to write"),
            Argument("--archive", action="store_true", help="also write OUT.tar.gz"),
            Argument("--no-onnx", action="store_true", help="do not try an ONNX export"),
            Argument("--overwrite", action="store_true", help="replace a non-empty OUT"),
        ),
        render_terminal=_packaged,
    ),
    SERVE,
    Command(
        "monitor",
        "latency, errors, prediction distribution, live accuracy and drift of a served model",
        _monitor,
        arguments=(
            Argument("name", help="the served model's name"),
            Argument("--since", help="only requests after this: 1h, 30m, 2d, or an ISO date"),
            Argument(
                "--reference",
                metavar="VAR_OR_PATH",
                help="the training data, to compute input drift: a CSV or Parquet file, "
                "or in a notebook a variable holding the frame",
            ),
            Argument("--format", choices=("text", "json"), default="text", shells=TERMINAL_ONLY),
        ),
        render_notebook=_monitored,
        render_terminal=_monitor_text,
    ),
)
