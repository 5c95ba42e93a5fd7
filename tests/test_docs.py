"""Every %mlops verb and CLI command has help text and a row in the README's tables.

The README's two verb tables are parsed (markdown rows: the verb, then its
synopsis) and compared with the verb table of :mod:`mlops_lab.commands`, as
sqlite-utils' ``test_docs.py`` does: each verb of a shell is documented in that
shell's table, each documented verb exists there, and each flag a row names is a
flag of that verb in that shell. ``test_a_deleted_row_is_caught`` and
``test_a_wrong_flag_is_caught`` show the checks failing on doctored copies.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_lab.commands import NOTEBOOK, TERMINAL, commands

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
TABLES = {NOTEBOOK: "| `%mlops` verb |", TERMINAL: "| `mlops-lab` command |"}
_FLAG = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)")


def verb_rows(readme: str, header: str) -> dict[str, set[str]]:
    """The verbs of the markdown table under ``header``, each with the flags its row names."""
    if header not in readme:
        raise AssertionError(f"README.md has no table headed {header!r}")
    lines = readme.split(header, 1)[1].splitlines()[2:]  # skip the header's rest and |---|
    rows: dict[str, set[str]] = {}
    for line in lines:
        if not line.startswith("|"):
            break
        cell = re.split(r"(?<!\\)\|", line)[1].strip()
        match = re.fullmatch(r"`(?:%%mlops )?([a-z][a-z-]*)(.*)`", cell)
        if match is None:
            raise AssertionError(f"unreadable row in {header!r}: {line!r}")
        name, synopsis = match.groups()
        if name in rows:
            raise AssertionError(f"{name!r} has two rows in {header!r}")
        rows[name] = set(_FLAG.findall(synopsis))
    return rows


def flags_of(name: str, shell: str) -> set[str]:
    command = commands(shell)[name]
    out: set[str] = set()
    for argument in command.arguments_in(shell):
        if not argument.positional:
            out |= {argument.name, *([argument.short] if argument.short else [])}
    return out


CASES = [(shell, name) for shell in TABLES for name in commands(shell)]


@pytest.mark.parametrize(("shell", "name"), CASES)
def test_verb_has_help_and_a_readme_row(shell: str, name: str) -> None:
    assert commands(shell)[name].help
    assert name in verb_rows(README, TABLES[shell]), f"{name} is not in the {shell} table"


@pytest.mark.parametrize(
    ("shell", "name"), [(shell, n) for shell in TABLES for n in verb_rows(README, TABLES[shell])]
)
def test_each_documented_verb_exists_with_its_flags(shell: str, name: str) -> None:
    assert name in commands(shell), f"README documents {name!r}, which {shell} lacks"
    documented = verb_rows(README, TABLES[shell])[name]
    assert documented <= flags_of(name, shell), documented - flags_of(name, shell)


@pytest.mark.parametrize("shell", list(TABLES))
def test_readme_table_equals_the_verbs(shell: str) -> None:
    assert set(verb_rows(README, TABLES[shell])) == set(commands(shell))


def test_help_comes_from_the_spec() -> None:
    from mlops_lab.cli import build_parser
    from mlops_lab.magics.verbs import overview, parser

    cli_help = build_parser().format_help()
    assert all(
        " ".join(c.help.split()[:3]) in " ".join(cli_help.split())
        for c in commands(TERMINAL).values()
    )
    notebook = overview()
    for name, command in commands(NOTEBOOK).items():
        assert command.help in notebook
        assert f"%mlops {name}" in parser(command).format_help()


def test_a_deleted_row_is_caught() -> None:
    doctored = "\n".join(
        line for line in README.splitlines() if not line.startswith("| `promote [RUN]")
    )
    for shell, header in TABLES.items():
        assert "promote" not in verb_rows(doctored, header)
        assert set(verb_rows(doctored, header)) != set(commands(shell))


def test_a_wrong_flag_is_caught() -> None:
    doctored = README.replace("`serve MODEL [--port P]", "`serve MODEL [--prot P]")
    assert doctored != README
    rows = verb_rows(doctored, TABLES[NOTEBOOK])
    assert not rows["serve"] <= flags_of("serve", NOTEBOOK)


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("mlops-lab demo")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci
