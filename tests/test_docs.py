"""Every %mlops verb and CLI command has help text and a row in the README's tables.

The tables are parsed and compared as sets with the verb table and the CLI's
subcommands, so deleting a row (or documenting a verb that does not exist)
fails; ``test_a_deleted_row_is_caught`` shows it on a doctored copy.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from mlops_lab.cli import build_parser
from mlops_lab.magics.verbs import verbs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
MAGIC_TABLE = "| `%mlops` verb |"
CLI_TABLE = "| `mlops-lab` command |"


def _cli_commands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def table_names(readme: str, header: str) -> set[str]:
    """The command names in the first column of the markdown table under ``header``."""
    if header not in readme:
        raise AssertionError(f"README.md has no table headed {header!r}")
    lines = readme.split(header, 1)[1].splitlines()[2:]  # skip the header's rest and |---|
    names = set()
    for line in lines:
        if not line.startswith("|"):
            break
        cell = line.split("|")[1].strip()
        match = re.match(r"`(?:%%mlops )?([a-z][a-z-]*)", cell)
        if match is None:
            raise AssertionError(f"unreadable row in {header!r}: {line!r}")
        names.add(match.group(1))
    return names


@pytest.mark.parametrize("name", sorted(verbs()))
def test_verb_has_help(name: str) -> None:
    entry = verbs()[name]
    assert entry.help
    assert f"%mlops {name}" in entry.parser().format_help()


@pytest.mark.parametrize("name", sorted(_cli_commands()))
def test_cli_command_has_help(name: str) -> None:
    assert _cli_commands()[name].format_help()


def test_readme_verb_table_equals_the_verbs() -> None:
    assert table_names(README, MAGIC_TABLE) == set(verbs())


def test_readme_command_table_equals_the_cli() -> None:
    assert table_names(README, CLI_TABLE) == set(_cli_commands())


def test_a_deleted_row_is_caught() -> None:
    doctored = "\n".join(
        line for line in README.splitlines() if not line.startswith("| `promote [RUN]")
    )
    assert "promote" not in table_names(doctored, MAGIC_TABLE)
    assert "promote" not in table_names(doctored, CLI_TABLE)
    assert table_names(doctored, MAGIC_TABLE) != set(verbs())


def test_readme_starts_with_the_two_commands() -> None:
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("mlops-lab demo")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci


def test_readme_tracking_figures_come_from_the_results_file() -> None:
    """The README's tracking table is what ``benchmarks/readme_table.py`` writes from RESULTS.md."""
    import importlib.util

    path = ROOT / "benchmarks" / "readme_table.py"
    spec = importlib.util.spec_from_file_location("readme_table", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    results = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    assert module.render(README, results) == README
    block_end = "<!-- /tracking-results -->"
    doctored = README.replace(block_end, "| hand-written | 1 s | 1 ms | 1,000x |\n" + block_end, 1)
    assert doctored != README
    assert module.render(doctored, results) != doctored  # a hand edit is caught
