"""Tracking verbs: ``start``, ``end``, ``run``, ``param``, ``log``, ``autolog`` (notebook),
``runs``, ``show`` (both) and ``experiments`` (terminal).

``%mlops start`` behaves as ``ml.start_run``: with a run open it refuses, naming
that run (end it with ``%mlops end``, or open a child run with ``--nested``), as
MLflow's ``start_run`` does. Inside a pipeline step it adopts the step's run.
``%mlops end`` behaves as ``ml.end_run`` (and MLflow's ``end_run``): with no run
open it only says so.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import RunAlreadyActiveError
from .spec import NOTEBOOK_ONLY, TERMINAL_ONLY, Argument, Command, Invocation, Setting
from .spec import key_value_pairs as _pairs

_RUN_ARGUMENTS = (
    Argument("name", nargs="?", help="a readable run name"),
    Argument("--experiment", short="-e", help="experiment to file the run under"),
    Argument("--tag", short="-t", action="append", metavar="KEY=VALUE", help="a tag (repeatable)"),
)


def _open(args: argparse.Namespace, parent: bool | None) -> Any:
    from ..tracking import api

    try:
        return api.start_run(
            args.name, experiment=args.experiment, tags=_pairs(args.tag, "--tag"), parent=parent
        )
    except RunAlreadyActiveError as exc:
        open_run = api.active_run()
        label = f"{open_run.run_id[:8]} ({open_run.name})" if open_run else str(exc.run_id)[:8]
        raise RunAlreadyActiveError(
            f"run {label} is still open: end it with %mlops end, "
            "or open a child run with %mlops start --nested",
            run_id=exc.run_id,
        ) from None


def _start(args: argparse.Namespace, inv: Invocation) -> Any:
    return _open(args, True if args.nested else None)


def _started(run: Any, args: argparse.Namespace) -> None:
    from ..project import default_project

    if default_project().is_adopted(run):
        print(f"using run {run.run_id[:8]} ({run.name}), the pipeline step's run")
    else:
        print(f"started run {run.run_id[:8]} ({run.name}) in {run.store.root}")


def _end(args: argparse.Namespace, inv: Invocation) -> tuple[Any, bool]:
    from ..project import default_project
    from ..tracking import api

    run = api.active_run()
    if run is None:
        return None, False  # as ml.end_run: nothing to end is not an error
    adopted = default_project().is_adopted(run)
    api.end_run(args.status)
    return run, adopted


def _ended(result: tuple[Any, bool], args: argparse.Namespace) -> None:
    run, adopted = result
    if run is None:
        print("no run is open: nothing to end")
    elif adopted:
        print(f"run {run.run_id[:8]} ({run.name}) is the pipeline step's run: the pipeline ends it")
    else:
        print(f"ended run {run.run_id[:8]} ({run.name}): {args.status}")


def _run_cell(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..errors import MlopsLabError

    if inv.cell is None:
        raise MlopsLabError("%mlops run is a cell magic: put %%mlops run [NAME] atop a cell")
    if inv.capture is None:
        raise MlopsLabError("%%mlops run needs the extension: %load_ext mlops_lab")
    return inv.capture.run_as_run(
        inv.cell, name=args.name, experiment=args.experiment, tags=_pairs(args.tag, "--tag")
    )


def _ran(result: tuple[Any, BaseException | None], args: argparse.Namespace) -> None:
    from ..errors import RunError

    run, error = result
    if error is not None:
        raise RunError(
            f"run {run.run_id[:8]} ({run.name}) failed: {type(error).__name__}: {error}",
            run_id=run.run_id,
        )


def _param(args: argparse.Namespace, inv: Invocation) -> bool:
    from ..tracking import api

    inv.namespace.update(args.assignments)
    if api.active_run() is None:
        return False
    api.log_params(args.assignments)
    return True


def _param_logged(logged: bool, args: argparse.Namespace) -> None:
    if not logged:
        print("no run is open: the variables are set, not logged (%mlops start opens a run)")


def _log(args: argparse.Namespace, inv: Invocation) -> None:
    from ..tracking import api

    api.log_metrics(args.assignments, step=args.step)


def _autolog(args: argparse.Namespace, inv: Invocation) -> str:
    from ..tracking.autolog import autolog

    autolog(args.state == "on")
    return f"scikit-learn autolog {args.state}"


def _runs(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..tracking import api

    return api.runs(
        experiment=args.experiment,
        filter=args.filter,
        order_by=args.sort,
        limit=None if args.group_by else args.limit,
        group_by=args.group_by,
    )


def _runs_in_a_notebook(args: argparse.Namespace, inv: Invocation) -> Any:
    """The interactive table in a live front-end (not grouped); the static one elsewhere."""
    from ..comparison.static import live_frontend

    if live_frontend() and not args.group_by:
        from ..comparison.api import runs_widget

        return runs_widget(
            filter=args.filter, order_by=args.sort, experiment=args.experiment, limit=args.limit
        )
    return _runs(args, inv)


def _runs_view(result: Any, args: argparse.Namespace) -> Any:
    import pandas as pd

    from ..comparison.tables import runs_table

    if not isinstance(result, pd.DataFrame):
        return result  # the widget
    return runs_table(result, grouped=bool(args.group_by))


def _runs_text(frame: Any, args: argparse.Namespace) -> int:
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        print(repr(_runs_view(frame, args)))
    return 0


def _show(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..tracking import api

    return api.get_run(args.run)


def _run_view(run: Any, args: argparse.Namespace) -> Any:
    from ..comparison.tables import run_view

    return run_view(run)


def _experiments(args: argparse.Namespace, inv: Invocation) -> Any:
    from ..tracking.experiments import experiments

    return experiments()


def _experiments_text(frame: Any, args: argparse.Namespace) -> int:
    for row in frame.itertuples():
        print(f"{row.name}\t{row.n_runs} runs")
    return 0


COMMANDS = (
    Command(
        "start",
        "open a run (refused while another is open; --nested opens a child run)",
        _start,
        arguments=(
            *_RUN_ARGUMENTS,
            Argument("--nested", action="store_true", help="a child run of the open run"),
        ),
        description="Open a run, as ml.start_run does. While a run is open this is refused "
        "(end it with %mlops end), unless --nested opens a child run of it.\n\n"
        "  %mlops start baseline --experiment churn --tag owner=me",
        render_notebook=_started,
        shells=NOTEBOOK_ONLY,
    ),
    Command(
        "end",
        "end the open run; with none open, only says so (as ml.end_run)",
        _end,
        arguments=(
            Argument("--status", default="finished", choices=("finished", "failed", "killed")),
        ),
        render_notebook=_ended,
        shells=NOTEBOOK_ONLY,
    ),
    Command(
        "run",
        "%%mlops run [NAME]: the cell is one run",
        _run_cell,
        arguments=_RUN_ARGUMENTS,
        render_notebook=_ran,
        shells=NOTEBOOK_ONLY,
        cell=True,
    ),
    Command(
        "param",
        "set NAME=VALUE variables and log them as params",
        _param,
        arguments=(Argument("assignments", nargs="*", metavar="NAME=VALUE"),),
        description="Evaluate each VALUE in the notebook, assign NAME, and log it as a param "
        "of the open run. These lines become the pipeline's parameters on promotion.\n\n"
        "  %mlops param C=1.0 model='rf' layers=[64, 32]",
        render_notebook=_param_logged,
        shells=NOTEBOOK_ONLY,
        raw=True,
    ),
    Command(
        "log",
        "log NAME=VALUE metrics [--step N]",
        _log,
        arguments=(
            Argument("assignments", nargs="*", metavar="NAME=VALUE"),
            Argument("--step", type=int, help="the step of every metric on the line"),
        ),
        description="Evaluate each VALUE in the notebook and log it as a metric.\n\n"
        "  %mlops log acc=accuracy_score(y, pred) loss=history[-1] --step 3",
        render_notebook=lambda result, args: None,
        shells=NOTEBOOK_ONLY,
        raw=True,
    ),
    Command(
        "autolog",
        "scikit-learn autologging on or off",
        _autolog,
        arguments=(Argument("state", nargs="?", choices=("on", "off"), default="on"),),
        render_notebook=lambda text, args: print(text),
        shells=NOTEBOOK_ONLY,
    ),
    Command(
        "runs",
        "the runs table (filter, sort, limit, group; a widget in a live notebook)",
        _runs,
        arguments=(
            Argument(
                "--filter", short="-f", help="e.g. \"metrics.acc > 0.9 and params.C = '1.0'\""
            ),
            Argument("--sort", short="-s", help='e.g. "metrics.acc desc"'),
            Argument(
                "--limit",
                short="-n",
                type=int,
                default=50,
                help="at most N runs (default 50; in a notebook MlopsMagics.display_limit)",
            ),
            Argument("--experiment", short="-e", help="only this experiment"),
            Argument(
                "--group-by", short="-g", help="aggregate metrics per group, e.g. params.model"
            ),
            Argument(
                "--format", choices=("table", "csv", "json"), default="table", shells=TERMINAL_ONLY
            ),
        ),
        notebook_defaults={"limit": Setting("display_limit")},
        notebook_call=_runs_in_a_notebook,
        render_notebook=_runs_view,
        render_terminal=_runs_text,
    ),
    Command(
        "show",
        "one run: params, metrics, tags, datasets, artifacts, environment, code",
        _show,
        arguments=(
            Argument(
                "run",
                nargs="?",
                help="run id, id prefix or name (default: the open run, else the latest)",
            ),
        ),
        render_notebook=_run_view,
        render_terminal=lambda run, args: print(repr(_run_view(run, args))),
    ),
    Command(
        "experiments",
        "the experiments and their number of runs",
        _experiments,
        render_terminal=_experiments_text,
        shells=TERMINAL_ONLY,
    ),
)
