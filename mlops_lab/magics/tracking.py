"""Run verbs: ``start``, ``end``, ``run`` (cell), ``param``, ``log``, ``autolog``."""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError

from .._args import key_value_pairs, split_assignments
from .verbs import Context, VerbParser, verb


def _evaluate(ctx: Context, name: str, expr: str) -> Any:
    try:
        return eval(expr, ctx.user_ns)  # the user's own expression, in their namespace
    except Exception as exc:
        raise UsageError(f"cannot evaluate {name}={expr}: {type(exc).__name__}: {exc}") from None


def _run_arguments(parser: VerbParser) -> None:
    parser.add_argument("name", nargs="?", help="a readable run name")
    parser.add_argument("--experiment", "-e", help="experiment to file the run under")
    parser.add_argument(
        "--tag", "-t", action="append", metavar="KEY=VALUE", help="a tag (repeatable)"
    )


@verb("start", "open a run (ends the open one first)", arguments=_run_arguments)
def start(ctx: Context, args: argparse.Namespace) -> None:
    from ..tracking import api
    from ..tracking.session import session

    previous = api.active_run()
    if previous is not None and not session().is_adopted(previous):
        api.end_run()
        print(f"ended run {previous.run_id[:8]} ({previous.name})")
    run = api.start_run(
        args.name, experiment=args.experiment, tags=key_value_pairs(args.tag, "--tag")
    )
    if session().is_adopted(run):
        print(f"using run {run.run_id[:8]} ({run.name}), the pipeline step's run")
        return
    print(f"started run {run.run_id[:8]} ({run.name}) in {run.store.root}")


def _end_arguments(parser: VerbParser) -> None:
    parser.add_argument("--status", default="finished", choices=["finished", "failed", "killed"])


@verb("end", "end the open run", arguments=_end_arguments)
def end(ctx: Context, args: argparse.Namespace) -> None:
    from ..tracking import api
    from ..tracking.session import session

    run = api.active_run()
    if run is None:
        raise UsageError("%mlops end: no run is open")
    if session().is_adopted(run):
        print(f"run {run.run_id[:8]} ({run.name}) is the pipeline step's run: the pipeline ends it")
        return
    api.end_run(args.status)
    print(f"ended run {run.run_id[:8]} ({run.name}): {args.status}")


@verb(
    "run",
    "%%mlops run [NAME]: the cell is one run",
    arguments=_run_arguments,
    cell=True,
)
def run_cell(ctx: Context, args: argparse.Namespace) -> None:
    import time

    from ..tracking import api
    from ..tracking.session import session

    if ctx.cell is None:
        raise UsageError("%mlops run is a cell magic: put %%mlops run [NAME] atop a cell")
    from . import capture

    sess = session()
    if sess.active is not None and not sess.is_adopted(sess.active):
        previous = sess.active
        api.end_run()
        print(f"ended run {previous.run_id[:8]} ({previous.name})")
    run = api.start_run(
        args.name, experiment=args.experiment, tags=key_value_pairs(args.tag, "--tag")
    )
    cap = capture()
    started = time.time()
    if cap is not None:
        cap.exclude(run)
        with cap.suppress():
            result = ctx.shell.run_cell(ctx.cell, store_history=False)
    else:
        result = ctx.shell.run_cell(ctx.cell, store_history=False)
    error = result.error_in_exec or result.error_before_exec
    run.store.add_cell(
        run.run_id,
        {
            "source": ctx.cell,
            "cell_id": cap.current_cell_id() if cap is not None else None,
            "execution_count": getattr(ctx.shell, "execution_count", None),
            "status": "error" if error else "ok",
            "error_name": type(error).__name__ if error else None,
            "error_value": str(error)[:2000] if error else None,
            "started": started,
            "duration_s": time.time() - started,
            "kind": "cell",
        },
    )
    if sess.active is run:
        api.end_run("failed" if error else "finished")
    if error:
        raise UsageError(
            f"run {run.run_id[:8]} ({run.name}) failed: {type(error).__name__}: {error}"
        )


@verb(
    "param",
    "set NAME=VALUE variables and log them as params",
    arguments=lambda p: p.add_argument("assignments", nargs="*", metavar="NAME=VALUE"),
    raw=True,
    description="Evaluate each VALUE in the notebook, assign NAME, and log it as a param "
    "of the open run. These lines become the pipeline's parameters on promotion.\n\n"
    "  %mlops param C=1.0 model='rf' layers=[64, 32]",
)
def param(ctx: Context, args: None) -> None:
    from ..tracking import api

    pairs = split_assignments(_raw_rest(ctx.line))
    if not pairs:
        raise UsageError("%mlops param: give at least one NAME=VALUE")
    values = {name: _evaluate(ctx, name, expr) for name, expr in pairs}
    ctx.user_ns.update(values)
    if api.active_run() is None:
        print("no run is open: the variables are set, not logged (%mlops start opens a run)")
        return
    api.log_params(values)


_STEP = re.compile(r"(?:^|\s)--step(?:\s+|=)(\S+)")


@verb(
    "log",
    "log NAME=VALUE metrics [--step N]",
    arguments=lambda p: (
        p.add_argument("assignments", nargs="*", metavar="NAME=VALUE"),
        p.add_argument("--step", type=int, help="the step of every metric on the line"),
    ),
    raw=True,
    description="Evaluate each VALUE in the notebook and log it as a metric.\n\n"
    "  %mlops log acc=accuracy_score(y, pred) loss=history[-1] --step 3",
)
def log(ctx: Context, args: None) -> None:
    from ..tracking import api

    text = _raw_rest(ctx.line)
    step = None
    match = _STEP.search(text)
    if match:
        try:
            step = int(match.group(1))
        except ValueError:
            raise UsageError(
                f"%mlops log: --step expects an integer, got {match.group(1)!r}"
            ) from None
        text = text[: match.start()] + " " + text[match.end() :]
    pairs = split_assignments(text)
    if not pairs:
        raise UsageError("%mlops log: give at least one NAME=VALUE")
    metrics = {name: _evaluate(ctx, name, expr) for name, expr in pairs}
    api.log_metrics(metrics, step=step)


def _raw_rest(line: str) -> str:
    """The line after the verb, untouched by shell-style unquoting."""
    return line.strip().split(None, 1)[1] if len(line.split(None, 1)) > 1 else ""


@verb(
    "autolog",
    "scikit-learn autologging on or off",
    arguments=lambda p: p.add_argument("state", nargs="?", choices=["on", "off"], default="on"),
)
def autolog(ctx: Context, args: argparse.Namespace) -> None:
    from ..tracking.autolog import autolog as set_autolog

    set_autolog(args.state == "on")
    print(f"scikit-learn autolog {args.state}")
