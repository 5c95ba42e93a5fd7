"""Deployment verbs: ``package`` (write a bundle), ``serve`` (start a server), ``monitor``."""

from __future__ import annotations

import argparse

from .verbs import Context, VerbParser, verb


def _package_arguments(p: VerbParser) -> None:
    p.add_argument("model", help="name@alias, name/VERSION, runs:/RUN_ID/model, or a run id")
    p.add_argument("--out", "-o", required=True, help="the bundle folder to write")
    p.add_argument("--archive", action="store_true", help="also write OUT.tar.gz")
    p.add_argument("--no-onnx", action="store_true", help="do not try an ONNX export")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty OUT")


@verb(
    "package",
    "write a model bundle (skops, ONNX, schema, Dockerfile)",
    arguments=_package_arguments,
)
def package(ctx: Context, args: argparse.Namespace) -> object:
    from ..packaging import package as build

    return build(
        args.model, args.out, archive=args.archive, onnx=not args.no_onnx, overwrite=args.overwrite
    )


def _serve_arguments(p: VerbParser) -> None:
    p.add_argument("model", help="a bundle folder or .tar.gz, or a model: name@alias, run id")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: a free one)")
    p.add_argument("--workers", type=int, default=1, help="worker processes")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    p.add_argument(
        "--follow", action="store_true", help="swap to each new version of the alias, checked"
    )


@verb(
    "serve",
    "start a model server in the background; returns a handle (.url, .predict, .logs, .stop)",
    arguments=_serve_arguments,
)
def serve(ctx: Context, args: argparse.Namespace) -> object:
    from ..serve.server import start_server

    return start_server(
        args.model,
        host=args.host,
        port=args.port,
        workers=args.workers,
        token=args.token,
        extra_args=["--follow"] if args.follow else None,
    )


def _monitor_arguments(p: VerbParser) -> None:
    p.add_argument("name", help="the served model's name")
    p.add_argument("--since", help="only requests after this: 1h, 30m, 2d, or an ISO date")
    p.add_argument(
        "--reference", help="a variable holding the training frame, to compute input drift"
    )


@verb(
    "monitor",
    "latency, errors, prediction distribution, live accuracy and drift of a served model",
    arguments=_monitor_arguments,
)
def monitor(ctx: Context, args: argparse.Namespace) -> object:
    from IPython.core.error import UsageError

    from ..monitoring import monitor as report

    reference = None
    if args.reference:
        if args.reference not in ctx.user_ns:
            raise UsageError(f"%mlops monitor: no variable {args.reference!r} in the namespace")
        reference = ctx.user_ns[args.reference]
    result = report(args.name, since=args.since, reference=reference)
    if reference is None and result.drift_note and "reference=" in result.drift_note:
        # the API's hint names its Python keyword; here the flag is the way to pass it
        result.drift_note = (
            "no reference data: pass --reference VAR (a variable holding the training frame)"
        )
    return result
