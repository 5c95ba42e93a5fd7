"""Read-only verbs: ``runs`` (the runs table) and ``show`` (one run).

In a live notebook ``runs`` returns the interactive table (``ml.runs_widget``);
elsewhere, and with ``--group-by``, the static table.
"""

from __future__ import annotations

import argparse

from .verbs import Context, VerbParser, verb


def _runs_arguments(parser: VerbParser) -> None:
    parser.add_argument("--filter", "-f", help="e.g. \"metrics.acc > 0.9 and params.C = '1.0'\"")
    parser.add_argument("--sort", "-s", help='e.g. "metrics.acc desc"')
    parser.add_argument("--limit", "-n", type=int, help="at most N runs")
    parser.add_argument("--experiment", "-e", help="only this experiment")
    parser.add_argument("--group-by", "-g", help="aggregate metrics per group, e.g. params.model")


@verb("runs", "the runs table (filter, sort, limit, group)", arguments=_runs_arguments)
def runs(ctx: Context, args: argparse.Namespace) -> object:
    from ..comparison.static import live_frontend
    from ..comparison.tables import runs_table
    from ..tracking import api

    if live_frontend() and not args.group_by:
        from ..comparison.api import runs_widget

        return runs_widget(filter=args.filter, order_by=args.sort, experiment=args.experiment)

    limit = args.limit if args.limit is not None else ctx.magics.display_limit
    frame = api.runs(
        experiment=args.experiment,
        filter=args.filter,
        order_by=args.sort,
        limit=None if args.group_by else limit,
        group_by=args.group_by,
    )
    return runs_table(frame, grouped=bool(args.group_by))


@verb(
    "show",
    "one run: params, metrics, tags, datasets, artifacts, environment, code",
    arguments=lambda p: p.add_argument("run", nargs="?", help="run id, id prefix or name"),
)
def show(ctx: Context, args: argparse.Namespace) -> object:
    from ..comparison.tables import run_view
    from ..tracking import api

    return run_view(api.get_run(args.run))
