"""``mlops-lab``: the notebook's verbs from a shell, a pipeline or CI.

Built from the verb table (:mod:`mlops_lab.commands`): each subcommand's
arguments, help, API call and text rendering come from its spec. A user mistake
prints one line on stderr and exits 2; data or models failing their checks exit 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ._version import __version__
from .commands import TERMINAL, Command, Invocation, commands
from .errors import MlopsLabError


def build_parser() -> argparse.ArgumentParser:
    """The ``mlops-lab`` parser: one subcommand per terminal verb of the table."""
    parser = argparse.ArgumentParser(
        prog="mlops-lab",
        description="Track, compare, validate, promote and serve models from the notebook.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-lab {__version__}")
    parser.add_argument(
        "--store", help="the store folder (default: MLOPS_LAB_HOME or the nearest .mlops/)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in commands(TERMINAL).values():
        p = sub.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.add_arguments(p, TERMINAL)
        p.set_defaults(spec=command)
    return parser


def run(command: Command, args: argparse.Namespace) -> int:
    """Call ``command`` with ``args`` and render its result as text; the exit code."""
    try:
        result = command.call(args, Invocation(TERMINAL))
    except command.failures as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return int(command.render_terminal(result, args) or 0)


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
        return run(args.spec, args)
    except MlopsLabError as exc:
        print(f"mlops-lab {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
