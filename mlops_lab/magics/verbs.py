"""``%mlops VERB``, built from the verb table (:mod:`mlops_lab.commands`).

Each notebook verb's parser comes from its spec; its errors raise IPython's
``UsageError`` (one readable line, never a traceback). The same table produces
``%mlops --help`` and the "unknown verb" message, so they cannot drift apart.
Arguments are read as :mod:`.arguments` says: notebook variables looked up,
never evaluated; ``param`` and ``log`` (raw verbs) evaluate their ``NAME=EXPR``
values in the namespace (:mod:`.tracking`).
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from ..commands import NOTEBOOK, Command, Invocation, commands
from .arguments import expand_variables


class HelpShown(Exception):
    """``--help`` was asked for; the help text has been printed."""


class VerbParser(argparse.ArgumentParser):
    """An argparse parser whose mistakes raise ``UsageError`` instead of exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from IPython.core.error import UsageError

        raise UsageError(f"%mlops {self.prog.split()[-1]}: {message} (see --help)")

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            print(message)
        raise HelpShown

    def print_help(self, file: Any = None) -> None:
        print(self.format_help())


def verbs() -> dict[str, Command]:
    """The notebook's verbs, by name."""
    return commands(NOTEBOOK)


def parser(command: Command, settings: Any = None) -> VerbParser:
    """The ``%mlops VERB`` parser of ``command`` (notebook defaults read from ``settings``)."""
    p = VerbParser(
        prog=f"%mlops {command.name}",
        description=command.description or command.help,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_arguments(p, NOTEBOOK, settings)
    return p


def overview() -> str:
    table = verbs()
    width = max(len(n) for n in table)
    lines = [
        "usage: %mlops VERB [ARGS ...]   (or %%mlops VERB in a cell; %mlops VERB --help)",
        "",
        "verbs:",
    ]
    lines += [f"  {name.ljust(width)}  {v.help}" for name, v in sorted(table.items())]
    lines += [
        "",
        "log and param evaluate their NAME=EXPR values as Python. In other verbs' arguments",
        "{name}, {name.attr} and $name are notebook variables, looked up, never evaluated;",
        "{{, }} and $$ stand for {, } and $.",
    ]
    return "\n".join(lines)


def dispatch(magics: Any, line: str, cell: str | None = None) -> Any:
    """Parse ``line`` (``VERB ARGS...``), make the verb's call, return what it displays."""
    from IPython.core.error import UsageError

    from .tracking import read_raw

    table = verbs()
    head = line.split(None, 1)
    if not head or head[0] in ("-h", "--help", "help"):
        print(overview())
        return None
    name = head[0]
    command = table.get(name)
    if command is None:
        raise UsageError(
            f"%mlops: unknown verb {name!r}; valid verbs are: {', '.join(sorted(table))}"
        )
    if cell is not None and not command.cell:
        raise UsageError(f"%%mlops {name} is a line magic: use %mlops {name} ...")
    rest = head[1] if len(head) > 1 else ""
    shell = magics.shell
    namespace = shell.user_ns if shell is not None else {}
    verb_parser = parser(command, magics)
    if command.raw:
        if rest.strip() in ("-h", "--help"):
            verb_parser.print_help()
            return None
        args = read_raw(command, rest, namespace)
    else:
        try:
            words = shlex.split(rest, posix=True)
        except ValueError as exc:
            raise UsageError(f"%mlops {name}: cannot parse the arguments: {exc}") from None
        words = [expand_variables(word, namespace) for word in words]
        try:
            args = verb_parser.parse_args(words)
        except HelpShown:
            return None
    invocation = Invocation(
        NOTEBOOK, namespace, cell=cell, ipython=shell, capture=getattr(magics, "cell_capture", None)
    )
    result = (command.notebook_call or command.call)(args, invocation)
    return command.render_notebook(result, args)
