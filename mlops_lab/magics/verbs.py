"""The one table of ``%mlops`` verbs, their parsers and their help.

A verb is a small function registered with :func:`verb`; its module adds the
verb's arguments to an ``argparse`` parser whose errors raise IPython's
``UsageError`` (one readable line, never a traceback). The same table
produces ``%mlops --help`` and the "unknown verb" message, so they cannot
drift apart. Verb modules are listed in :data:`VERB_MODULES`; they must stay
light to import (the API is imported inside each handler).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .arguments import expand_variables

VERB_MODULES = [
    "mlops_lab.magics.tracking",
    "mlops_lab.magics.views",
    "mlops_lab.magics.data",
    "mlops_lab.magics.evaluation",
    "mlops_lab.magics.compare",
    "mlops_lab.magics.pipeline",
    "mlops_lab.magics.serve",
]


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


@dataclass
class Context:
    """What a verb handler receives besides its parsed arguments."""

    shell: Any
    magics: Any
    cell: str | None = None
    line: str = ""

    @property
    def user_ns(self) -> dict[str, Any]:
        return self.shell.user_ns if self.shell is not None else {}


@dataclass
class Verb:
    name: str
    help: str
    handler: Callable[[Context, Any], Any]
    arguments: Callable[[VerbParser], object]
    cell: bool = False
    description: str = ""
    raw: bool = False
    aliases: tuple[str, ...] = field(default_factory=tuple)

    def parser(self) -> VerbParser:
        parser = VerbParser(
            prog=f"%mlops {self.name}",
            description=self.description or self.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        self.arguments(parser)
        return parser


_VERBS: dict[str, Verb] = {}
_loaded = False


def verb(
    name: str,
    help: str,
    *,
    arguments: Callable[[VerbParser], object] | None = None,
    cell: bool = False,
    description: str = "",
    raw: bool = False,
) -> Callable[[Callable], Callable]:
    """Register ``fn(ctx, args)`` as the handler of ``%mlops NAME``.

    A ``raw`` verb parses its own arguments from ``ctx.line`` (it gets
    ``args=None``): ``param`` and ``log`` keep Python expressions intact.
    """

    def register(fn: Callable) -> Callable:
        _VERBS[name] = Verb(
            name,
            help,
            fn,
            arguments or (lambda p: None),
            cell=cell,
            description=description,
            raw=raw,
        )
        return fn

    return register


def verbs() -> dict[str, Verb]:
    """Every registered verb, importing the verb modules on first use."""
    global _loaded
    if not _loaded:
        from importlib import import_module

        for module in VERB_MODULES:
            import_module(module)
        _loaded = True
    return _VERBS


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


def dispatch(ctx: Context, line: str) -> Any:
    """Parse ``line`` (``VERB ARGS...``) and run the verb's handler."""
    from IPython.core.error import UsageError

    table = verbs()
    head = line.split(None, 1)
    if not head or head[0] in ("-h", "--help", "help"):
        print(overview())
        return None
    name = head[0]
    entry = table.get(name)
    if entry is None:
        raise UsageError(
            f"%mlops: unknown verb {name!r}; valid verbs are: {', '.join(sorted(table))}"
        )
    if ctx.cell is not None and not entry.cell:
        raise UsageError(f"%%mlops {name} is a line magic: use %mlops {name} ...")
    if entry.raw:
        rest_text = head[1].strip() if len(head) > 1 else ""
        if rest_text in ("-h", "--help"):
            entry.parser().print_help()
            return None
        return entry.handler(ctx, None)
    try:
        rest = shlex.split(head[1] if len(head) > 1 else "", posix=True)
    except ValueError as exc:
        raise UsageError(f"%mlops {name}: cannot parse the arguments: {exc}") from None
    rest = [expand_variables(argument, ctx.user_ns) for argument in rest]
    try:
        args = entry.parser().parse_args(rest)
    except HelpShown:
        return None
    return entry.handler(ctx, args)
