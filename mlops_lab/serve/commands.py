"""``mlops-lab package``, ``mlops-lab serve`` and ``mlops-lab monitor``.

:func:`add_subcommands` adds them to the ``mlops-lab`` parser; each handler
calls the API and returns an exit code. ``python -m mlops_lab.serve`` runs
the serve command on its own.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def add_serve_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a bundle folder or .tar.gz, or a model: name@alias, run id")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument(
        "--token",
        default=os.environ.get("MLOPS_LAB_SERVE_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' (default: $MLOPS_LAB_SERVE_TOKEN)",
    )
    p.add_argument("--max-body-bytes", type=int, default=5_000_000, help="largest request body")
    p.add_argument("--max-rows", type=int, default=10_000, help="most rows in one request")
    p.add_argument(
        "--unseen-categories",
        choices=["reject", "allow"],
        default="reject",
        help="answer 422 for a category not seen in training (default), or let the model decide",
    )
    p.add_argument("--runtime", choices=["auto", "onnx", "sklearn"], default="auto")
    p.add_argument("--log-level", default="warning", help="uvicorn's log level")
    p.add_argument(
        "--follow",
        action="store_true",
        help="follow the alias (or bundle folder): swap to each new version once it is checked",
    )
    p.add_argument(
        "--follow-interval", type=float, default=2.0, help="seconds between --follow checks"
    )
    p.add_argument(
        "--shadow", metavar="MODEL", help="also run MODEL on every input, logged, never answered"
    )
    p.add_argument(
        "--canary",
        metavar="MODEL:SHARE",
        help="answer SHARE of requests with MODEL, e.g. iris@challenger:10%%",
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from .server import serve

    serve(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=args.token,
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
    return 0


def cmd_package(args: argparse.Namespace) -> int:
    import warnings

    from ..errors import OnnxExportWarning
    from ..packaging import package

    with warnings.catch_warnings():
        # the "onnx:" line below gives the reason; say it once
        warnings.simplefilter("ignore", OnnxExportWarning)
        bundle = package(
            args.model,
            args.out,
            archive=args.archive,
            onnx=not args.no_onnx,
            overwrite=args.overwrite,
        )
    onnx = bundle.onnx
    print(f"bundle {bundle.name} version {bundle.version} written to {bundle.path}")
    print(f"  onnx: {onnx.get('status')}" + (f" ({onnx['reason']})" if onnx.get("reason") else ""))
    if bundle.archive:
        print(f"  archive: {bundle.archive}")
    return 0


def cmd_monitor(args: argparse.Namespace) -> int:
    from ..monitoring import monitor

    report = monitor(args.name, since=args.since)
    if args.format == "json":
        import json

        sys.stdout.write(json.dumps(report.to_dict(), default=str, indent=2) + "\n")
    else:
        print(report.to_text())
    return 0


def add_subcommands(sub: Any) -> None:
    """Add ``package``, ``serve`` and ``monitor`` to the ``mlops-lab`` subparsers."""
    p = sub.add_parser("package", help="write a model bundle (skops, ONNX, schema, Dockerfile)")
    p.add_argument("model", help="name@alias, name/VERSION, runs:/RUN_ID/model, or a run id")
    p.add_argument("--out", "-o", required=True, help="the bundle folder to write")
    p.add_argument("--archive", action="store_true", help="also write OUT.tar.gz")
    p.add_argument("--no-onnx", action="store_true", help="do not try an ONNX export")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")
    p.set_defaults(handler=cmd_package)

    p = sub.add_parser("serve", help="serve a model over HTTP (Open Inference Protocol, MLflow)")
    add_serve_arguments(p)
    p.set_defaults(handler=cmd_serve)

    p = sub.add_parser("monitor", help="latency, errors, prediction distribution and drift")
    p.add_argument("name", help="the served model's name")
    p.add_argument("--since", help="only requests after this: 1h, 30m, 2d, or an ISO date")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.set_defaults(handler=cmd_monitor)
