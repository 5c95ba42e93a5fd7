"""Both shells are built from the verb table, and a shared verb is the same verb in both.

The ``%mlops`` parser and the ``mlops-lab`` subparser of every verb the two shells
share are built, and their arguments compared action by action: same flags, types,
choices, defaults and help, except the differences the spec declares (an argument
of one shell only, a notebook default).
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any

import pytest

from mlops_lab.cli import build_parser
from mlops_lab.commands import NOTEBOOK, TERMINAL, Command, Setting, commands
from mlops_lab.magics.verbs import parser as magic_parser


class Settings:
    display_limit = 17


def _cli_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _actions(parser: argparse.ArgumentParser) -> dict[str, dict[str, Any]]:
    out = {}
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        out[action.dest] = {
            "flags": tuple(action.option_strings),
            "type": action.type,
            "choices": action.choices,
            "nargs": action.nargs,
            "required": action.required,
            "default": action.default,
            "help": action.help,
            "kind": type(action).__name__,
        }
    return out


SHARED = sorted(set(commands(NOTEBOOK)) & set(commands(TERMINAL)))


def test_the_shells_share_the_verbs_they_should() -> None:
    assert (
        sorted(
            [
                "compare",
                "drift",
                "evaluate",
                "lineage",
                "monitor",
                "package",
                "pipeline",
                "promote",
                "registry",
                "runs",
                "serve",
                "show",
                "validate",
            ]
        )
        == SHARED
    )
    assert set(_cli_parsers()) == set(commands(TERMINAL))


def differences(
    command: Command, notebook_parser: argparse.ArgumentParser, terminal_parser: Any
) -> list[str]:
    """How the two built parsers of ``command`` differ, beyond what its spec declares."""
    notebook, terminal = _actions(notebook_parser), _actions(terminal_parser)
    only_notebook = {a.key for a in command.arguments if a.shells == {NOTEBOOK}}
    only_terminal = {a.key for a in command.arguments if a.shells == {TERMINAL}}
    out = [f"{k}: notebook only" for k in set(notebook) - set(terminal) - only_notebook]
    out += [f"{k}: terminal only" for k in set(terminal) - set(notebook) - only_terminal]
    for key in sorted(set(notebook) & set(terminal)):
        nb, term = dict(notebook[key]), dict(terminal[key])
        if key in command.notebook_defaults:
            declared = command.notebook_defaults[key]
            expected = (
                getattr(Settings, declared.name) if isinstance(declared, Setting) else declared
            )
            if nb.pop("default") != expected:
                out.append(f"{key}: notebook default is not the declared one")
            term.pop("default")
        out += [
            f"{key}.{field}: {nb[field]!r} != {term[field]!r}"
            for field in nb
            if nb[field] != term[field]
        ]
    return out


@pytest.mark.parametrize("name", SHARED)
def test_a_shared_verb_has_the_same_arguments_in_both_shells(name: str) -> None:
    command: Command = commands()[name]
    notebook = magic_parser(command, Settings())
    assert set(_actions(notebook)) == {a.key for a in command.arguments_in(NOTEBOOK)}
    assert set(_actions(_cli_parsers()[name])) == {a.key for a in command.arguments_in(TERMINAL)}
    assert differences(command, notebook, _cli_parsers()[name]) == []


def test_an_undeclared_difference_is_caught() -> None:
    serve = commands()["serve"]
    drifted = magic_parser(serve, Settings())
    drifted.add_argument("--extra")
    assert differences(serve, drifted, _cli_parsers()["serve"]) == ["extra: notebook only"]
    runs = commands()["runs"]
    terminal = _cli_parsers()["runs"]
    terminal.set_defaults(limit=20)
    assert differences(runs, magic_parser(runs, Settings()), terminal) == []  # declared
    undeclared = replace(runs, notebook_defaults={})
    assert differences(undeclared, magic_parser(undeclared, Settings()), terminal) == [
        "limit.default: 50 != 20"
    ]


def test_the_declared_differences() -> None:
    serve = commands()["serve"]
    assert magic_parser(serve).parse_args(["m"]).port is None  # a free port
    assert _cli_parsers()["serve"].parse_args(["m"]).port == 8080
    runs = commands()["runs"]
    assert magic_parser(runs, Settings()).parse_args([]).limit == 17
    assert _cli_parsers()["runs"].parse_args([]).limit == 50
    for flag in ("--max-body-bytes", "--max-rows", "--runtime", "--unseen-categories"):
        assert flag in magic_parser(serve).format_help()
    for flag in ("--group-by", "--aggregate"):
        assert flag in _cli_parsers()["compare"].format_help()


def test_an_argument_a_shell_lacks_still_has_its_default() -> None:
    args = _cli_parsers()["monitor"].parse_args(["iris"])
    assert args.reference is None and args.format == "text"
    args = magic_parser(commands()["monitor"]).parse_args(["iris"])
    assert args.format == "text"


def test_the_background_server_gets_every_flag_given() -> None:
    serve = commands()["serve"]
    args = magic_parser(serve).parse_args(
        ["m", "--max-rows", "5", "--runtime", "sklearn", "--follow", "--canary", "m@c:10%"]
    )
    from mlops_lab.commands.serving import _SERVER_FLAGS

    assert serve.argv(args, _SERVER_FLAGS) == [
        "--max-rows",
        "5",
        "--runtime",
        "sklearn",
        "--follow",
        "--canary",
        "m@c:10%",
    ]
    cli_args = _cli_parsers()["serve"].parse_args([*serve.argv(args, _SERVER_FLAGS), "m"])
    assert (cli_args.max_rows, cli_args.runtime, cli_args.follow) == (5, "sklearn", True)
