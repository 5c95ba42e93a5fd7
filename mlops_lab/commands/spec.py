"""The spec of one verb: its arguments, its API call and its two renderers.

A :class:`Command` says everything both shells need: the arguments (names, types,
defaults, help), the one library call, how the result shows in a notebook (an
object Jupyter displays) and in a terminal (text and an exit code). Where the
shells sensibly differ, the spec declares it (``notebook_defaults``, an
argument's ``shells``, ``notebook_call``), so no shell holds code of its own::

    Command(
        "show",
        "one run: params, metrics, tags, datasets, artifacts, environment, code",
        arguments=(Argument("run", nargs="?", help="run id, id prefix or name"),),
        call=lambda args, inv: api.get_run(args.run),
        render_notebook=lambda run, args: run_view(run),
        render_terminal=lambda run, args: print(repr(run_view(run))),
    )

This module imports nothing heavy: a verb's API is imported inside its ``call``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InvalidArgumentError

NOTEBOOK = "notebook"
TERMINAL = "terminal"
BOTH: frozenset[str] = frozenset({NOTEBOOK, TERMINAL})
NOTEBOOK_ONLY: frozenset[str] = frozenset({NOTEBOOK})
TERMINAL_ONLY: frozenset[str] = frozenset({TERMINAL})


@dataclass(frozen=True)
class Setting:
    """A notebook default read from a ``%config MlopsMagics.<name>`` setting."""

    name: str


@dataclass(frozen=True)
class Argument:
    """One positional argument or ``--flag`` of a verb, in argparse's terms."""

    name: str
    help: str = ""
    short: str | None = None
    type: Callable[[str], Any] | None = None
    default: Any = None
    action: str | None = None
    choices: Sequence[str] | None = None
    nargs: str | int | None = None
    metavar: str | tuple[str, ...] | None = None
    required: bool = False
    dest: str | None = None
    group: str | None = None
    shells: frozenset[str] = BOTH

    @property
    def positional(self) -> bool:
        return not self.name.startswith("-")

    @property
    def key(self) -> str:
        """The attribute of the parsed arguments that holds the value."""
        return self.dest or self.name.lstrip("-").replace("-", "_")

    def add_to(self, parser: Any, default: Any) -> None:
        """Add this argument to an argparse parser (or group), with ``default``."""
        names = [self.name] if self.positional else [n for n in (self.short, self.name) if n]
        kwargs: dict[str, Any] = {"help": self.help}
        for key in ("type", "action", "choices", "nargs", "metavar"):
            value = getattr(self, key)
            if value is not None:
                kwargs[key] = list(value) if key == "choices" else value
        if default is not None or self.action not in ("store_true", "append"):
            kwargs["default"] = default
        if self.action == "store_true":
            kwargs.pop("default", None)
        if not self.positional:
            if self.required:
                kwargs["required"] = True
            if self.dest:
                kwargs["dest"] = self.dest
        parser.add_argument(*names, **kwargs)


@dataclass
class Invocation:
    """Where a verb runs: the shell, and in a notebook its namespace, cell and capture."""

    shell: str
    namespace: dict[str, Any] = field(default_factory=dict)
    cell: str | None = None
    ipython: Any = None
    capture: Any = None

    @property
    def notebook(self) -> bool:
        return self.shell == NOTEBOOK

    def value(self, ref: str) -> Any:
        """The notebook variable ``ref`` if there is one, else ``ref`` (a file path).

        In a notebook, a bare name that is neither a variable nor a file is refused
        by name, rather than read as a missing file.
        """
        if ref in self.namespace:
            return self.namespace[ref]
        if self.notebook and ref.isidentifier() and not Path(ref).exists():
            raise InvalidArgumentError(f"{ref!r} is neither a variable of the notebook nor a file")
        return ref


def _identity(result: Any, args: argparse.Namespace) -> Any:
    return result


def _print(result: Any, args: argparse.Namespace) -> int:
    if result is not None:
        print(result)
    return 0


Call = Callable[[argparse.Namespace, Invocation], Any]


@dataclass(frozen=True)
class Command:
    """One verb of ``%mlops`` and ``mlops-lab``, built into both from this spec.

    Parameters
    ----------
    name, help
        The verb and its one-line help (``%mlops --help``, ``mlops-lab --help``).
    call
        ``call(args, invocation)``: the one library API call; returns its result.
    arguments
        The verb's arguments; an argument whose ``shells`` leaves a shell out is
        absent there (``--format`` in a terminal).
    render_notebook
        ``render_notebook(result, args)``: what the cell displays (may print a line).
    render_terminal
        ``render_terminal(result, args)``: prints text; returns the exit code
        (``None`` means 0).
    notebook_defaults
        Defaults that differ in a notebook, by argument key: a value, or a
        :class:`Setting` read from the magics' configuration.
    notebook_call
        A call used in a notebook instead of ``call`` (``serve``: a background
        server with a handle instead of a server in the foreground).
    shells
        Which shells have the verb.
    cell
        ``%%mlops VERB``: the cell's body is the verb's input.
    raw
        The notebook reads the line itself: ``NAME=EXPR`` pairs evaluated as Python
        (``param``, ``log``) into ``args.assignments``, and the verb's flags.
    failures
        Exceptions that mean "checked, and it failed" rather than a mistake: in a
        terminal, their message goes to stderr and the exit code is 1 (not 2).
    """

    name: str
    help: str
    call: Call
    arguments: tuple[Argument, ...] = ()
    description: str = ""
    render_notebook: Callable[[Any, argparse.Namespace], Any] = _identity
    render_terminal: Callable[[Any, argparse.Namespace], int | None] = _print
    notebook_defaults: Mapping[str, Any] = field(default_factory=dict)
    notebook_call: Call | None = None
    shells: frozenset[str] = BOTH
    cell: bool = False
    raw: bool = False
    failures: tuple[type[BaseException], ...] = ()

    def arguments_in(self, shell: str) -> list[Argument]:
        """The arguments the verb has in ``shell``."""
        return [a for a in self.arguments if shell in a.shells]

    def default(self, argument: Argument, shell: str, settings: Any = None) -> Any:
        """``argument``'s default in ``shell`` (a notebook setting read from ``settings``)."""
        if shell == NOTEBOOK and argument.key in self.notebook_defaults:
            value = self.notebook_defaults[argument.key]
            if isinstance(value, Setting):
                return getattr(settings, value.name) if settings is not None else None
            return value
        return argument.default

    def add_arguments(
        self, parser: argparse.ArgumentParser, shell: str, settings: Any = None
    ) -> None:
        """Add the verb's arguments in ``shell`` to ``parser``.

        The arguments the shell lacks get their default, so a call reads every key.
        """
        absent = {a.key: a.default for a in self.arguments if shell not in a.shells}
        if absent:
            parser.set_defaults(**absent)
        groups: dict[str, Any] = {}
        for argument in self.arguments_in(shell):
            target: Any = parser
            if argument.group is not None:
                if argument.group not in groups:
                    groups[argument.group] = parser.add_mutually_exclusive_group()
                target = groups[argument.group]
            argument.add_to(target, self.default(argument, shell, settings))

    def argv(self, args: argparse.Namespace, keys: Sequence[str]) -> list[str]:
        """The command-line form of the flags ``keys`` that differ from their default."""
        out: list[str] = []
        for argument in self.arguments:
            if argument.key not in keys or argument.positional:
                continue
            value = getattr(args, argument.key, None)
            if value is None or value == argument.default or value is False:
                continue
            if value is True:
                out.append(argument.name)
            elif isinstance(value, list):
                for item in value:
                    out += [argument.name, str(item)]
            else:
                out += [argument.name, str(value)]
        return out


def key_value_pairs(
    values: list[str] | None, flag: str, convert: Callable[[str], Any] = str
) -> dict[str, Any]:
    """``["a=1", "b=2"]`` (a repeated ``--flag KEY=VALUE``) as a dict; a bad item names the flag."""
    out: dict[str, Any] = {}
    for item in values or []:
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InvalidArgumentError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            out[key] = convert(value)
        except ValueError:
            raise InvalidArgumentError(f"{flag} {item!r}: {value!r} is not a number") from None
    return out
