"""The verb table: one :class:`~.spec.Command` per verb, from which both shells are built.

``%mlops VERB`` (:mod:`mlops_lab.magics`) and ``mlops-lab VERB`` (:mod:`mlops_lab.cli`)
take their arguments, defaults, help, API call and rendering from here, so the two
cannot drift apart. Each module of :data:`COMMAND_MODULES` lists its verbs in
``COMMANDS``; the modules are light to import (the API is imported by each call).
"""

from __future__ import annotations

from importlib import import_module

from .spec import BOTH, NOTEBOOK, TERMINAL, Argument, Command, Invocation, Setting

__all__ = [
    "BOTH",
    "COMMAND_MODULES",
    "NOTEBOOK",
    "TERMINAL",
    "Argument",
    "Command",
    "Invocation",
    "Setting",
    "commands",
]

COMMAND_MODULES = (
    "mlops_lab.commands.tracking",
    "mlops_lab.commands.comparison",
    "mlops_lab.commands.data",
    "mlops_lab.commands.evaluation",
    "mlops_lab.commands.pipeline",
    "mlops_lab.commands.serving",
    "mlops_lab.commands.integrations",
)


def commands(shell: str | None = None) -> dict[str, Command]:
    """The verbs by name, in table order; with ``shell``, only those that shell has."""
    table: dict[str, Command] = {}
    for module in COMMAND_MODULES:
        for command in import_module(module).COMMANDS:
            if command.name in table:
                raise RuntimeError(f"verb {command.name!r} is declared twice")
            table[command.name] = command
    return {n: c for n, c in table.items() if shell is None or shell in c.shells}
