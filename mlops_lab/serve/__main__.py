"""``python -m mlops_lab.serve MODEL [--host ...] [--port ...]``: the model server on its own."""

from __future__ import annotations

import argparse
import sys

from ..errors import MlopsLabError
from .commands import add_serve_arguments, cmd_serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mlops-lab serve", description="Serve a model over HTTP.")
    add_serve_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_serve(args)
    except MlopsLabError as exc:
        print(f"mlops-lab serve: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
