"""Argument parsing shared by the ``%mlops`` verbs and the ``mlops-lab`` commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .errors import InvalidArgumentError


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
