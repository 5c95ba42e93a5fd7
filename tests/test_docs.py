"""Every %mlops verb and CLI command has help text and is documented in the README."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from mlops_lab.cli import build_parser
from mlops_lab.magics.verbs import verbs

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def _cli_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("name", sorted(verbs()))
def test_verb_has_help_and_is_documented(name: str) -> None:
    entry = verbs()[name]
    assert entry.help
    assert entry.parser().format_help()
    assert f"`{name}" in README or f"`%%mlops {name}" in README, (
        f"%mlops {name} is not in README.md"
    )


@pytest.mark.parametrize("name", sorted(_cli_commands()))
def test_cli_command_has_help_and_is_documented(name: str) -> None:
    parser = _cli_commands()[name]
    assert parser.format_help()
    assert f"| `{name}" in README, f"mlops-lab {name} is not in README.md's command table"


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("mlops-lab demo")
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert commands[1] in ci
