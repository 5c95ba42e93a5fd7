"""The notebook's reading of ``%mlops param`` and ``%mlops log`` lines.

Their values are Python expressions, evaluated in the user's namespace (the only
verbs that evaluate anything): :func:`mlops_lab._args.split_assignments` splits the
``NAME=EXPR`` pairs with Python's tokenizer, and the verb's flags declared in its
spec (``--step N``) are taken out of the line first.
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from IPython.core.error import UsageError

from .._args import split_assignments
from ..commands import NOTEBOOK, Command
from ..errors import InvalidArgumentError

__all__ = ["read_raw", "split_assignments"]


def _evaluate(namespace: dict[str, Any], name: str, expr: str) -> Any:
    try:
        return eval(expr, namespace)  # the user's own expression, in their namespace
    except Exception as exc:
        raise UsageError(f"cannot evaluate {name}={expr}: {type(exc).__name__}: {exc}") from None


def read_raw(command: Command, text: str, namespace: dict[str, Any]) -> argparse.Namespace:
    """``args`` of a raw verb: its flags, and ``assignments`` (NAME -> evaluated value)."""
    values: dict[str, Any] = {}
    for argument in command.arguments_in(NOTEBOOK):
        if argument.positional:
            continue
        values[argument.key] = argument.default
        match = re.search(rf"(?:^|\s){re.escape(argument.name)}(?:\s+|=)(\S+)", text)
        if match is None:
            continue
        raw = match.group(1)
        try:
            values[argument.key] = argument.type(raw) if argument.type else raw
        except ValueError:
            kind = getattr(argument.type, "__name__", "value")
            kind = "an integer" if kind == "int" else f"a {kind}"
            raise UsageError(
                f"%mlops {command.name}: {argument.name} expects {kind}, got {raw!r}"
            ) from None
        text = text[: match.start()] + " " + text[match.end() :]
    try:
        pairs = split_assignments(text)
    except InvalidArgumentError as exc:
        raise UsageError(str(exc)) from None
    if not pairs:
        raise UsageError(f"%mlops {command.name}: give at least one NAME=VALUE")
    values["assignments"] = {name: _evaluate(namespace, name, expr) for name, expr in pairs}
    return argparse.Namespace(**values)
