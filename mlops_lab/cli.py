"""``mlops-lab``: the notebook's verbs from a shell, a pipeline or CI.

Each subcommand is one small function calling the package's API. Commands
of other capabilities are added by modules listed in :data:`COMMAND_MODULES`,
each exposing ``add_subcommands(subparsers)``; their handlers receive the
parsed arguments and return an exit code. A user mistake prints one line on
stderr and exits 2; data or models failing their checks exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import import_module

from . import __version__
from .errors import MlopsLabError

# Modules adding subcommands of their own: add_subcommands(subparsers).
COMMAND_MODULES: list[str] = [
    "mlops_lab.data.commands",
    "mlops_lab.evaluation.commands",
    "mlops_lab.integrations.commands",
    "mlops_lab.pipeline.cli",
    "mlops_lab.serve.commands",
]


def _cmd_runs(args: argparse.Namespace) -> int:
    from .comparison.tables import runs_table
    from .tracking import api

    frame = api.runs(
        experiment=args.experiment,
        filter=args.filter,
        order_by=args.sort,
        limit=None if args.group_by else args.limit,
        group_by=args.group_by,
    )
    if args.format == "csv":
        frame.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        sys.stdout.write(frame.to_json(orient="records", date_format="iso") + "\n")
    else:
        print(repr(runs_table(frame, grouped=bool(args.group_by))))
    return 0


def _cmd_show(args: argparse.Namespace) -> int:
    from .comparison.tables import run_view
    from .tracking import api

    print(repr(run_view(api.get_run(args.run))))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .comparison.api import compare

    comparison = compare(
        args.runs or None,
        args.metric,
        last=args.last,
        filter=args.filter,
        experiment=args.experiment,
    )
    comparison.to_html(args.html)
    print(comparison.to_text())
    print(f"wrote the comparison of {len(comparison.runs)} runs to {args.html}")
    return 0


def _cmd_experiments(args: argparse.Namespace) -> int:
    from .project import default_project

    for exp in default_project().store.experiments():
        print(f"{exp['name']}\t{exp['n_runs']} runs")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(args.dir)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlops-lab",
        description="Track, compare, validate, promote and serve models from the notebook.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-lab {__version__}")
    parser.add_argument(
        "--store", help="the store folder (default: MLOPS_LAB_HOME or the nearest .mlops/)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("demo", help="run the worked example end to end in a fresh store")
    p.add_argument("--dir", default="mlops-lab-demo", help="folder for the demo's store and files")
    p.set_defaults(handler=_cmd_demo)

    p = sub.add_parser("runs", help="the runs table (filter, sort, limit, group)")
    p.add_argument("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.C = '1.0'\"")
    p.add_argument("--sort", "-s", help='e.g. "metrics.acc desc"')
    p.add_argument("--limit", "-n", type=int, default=50, help="at most N runs (default 50)")
    p.add_argument("--experiment", "-e", help="only this experiment")
    p.add_argument("--group-by", "-g", help="aggregate metrics per group, e.g. params.model")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.set_defaults(handler=_cmd_runs)

    p = sub.add_parser("show", help="one run: params, metrics, tags, datasets, artifacts, code")
    p.add_argument("run", nargs="?", help="run id, id prefix or name (default: the latest)")
    p.set_defaults(handler=_cmd_show)

    p = sub.add_parser("compare", help="compare runs in one self-contained HTML page")
    p.add_argument("runs", nargs="*", help="run ids, id prefixes or names (default: the latest)")
    p.add_argument("--last", type=int, help="the N newest runs (matching --filter)")
    p.add_argument("--filter", "-f", help="choose the runs with the filter language")
    p.add_argument("--experiment", "-e", help="only this experiment")
    p.add_argument("--metric", "-m", help="the metric to colour by and plot")
    p.add_argument("--html", required=True, help="the page to write, e.g. comparison.html")
    p.set_defaults(handler=_cmd_compare)

    p = sub.add_parser("experiments", help="the experiments and their number of runs")
    p.set_defaults(handler=_cmd_experiments)

    for module in COMMAND_MODULES:
        import_module(module).add_subcommands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.store:
        from .project import set_default_root

        set_default_root(args.store)
    try:
        return int(args.handler(args) or 0)
    except MlopsLabError as exc:
        print(f"mlops-lab {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
