"""Reading a ``%mlops`` line: ``NAME=EXPR`` pairs and notebook variables in arguments.

IPython's own expansion of ``{expr}`` and ``$name`` is switched off for
``%mlops`` (it evaluates any expression, so a run name such as
``{__import__('os').system(...)}`` pasted into a line would run). Instead:

- ``param`` and ``log`` take Python expressions and evaluate them themselves;
  :func:`mlops_lab._args.split_assignments` splits their ``NAME=EXPR`` pairs with Python's
  tokenizer, so any expression works.
- every other verb's arguments may name a notebook variable, ``{name}``,
  ``{name.attr}`` or ``$name``, which :func:`expand_variables` looks up (it
  never evaluates) inside one argument; ``{{``, ``}}`` and ``$$`` stand for
  ``{``, ``}`` and ``$``, and any other expression in braces is refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from IPython.core.error import UsageError

_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_PLACEHOLDER = re.compile(
    rf"\{{\{{|\}}\}}|\$\$|\{{(?P<brace>[^{{}}]*)\}}|\$(?P<dollar>{_DOTTED.pattern})"
)
_ESCAPES = MappingProxyType({"{{": "{", "}}": "}", "$$": "$"})
_MISSING = object()


def _lookup(ns: Mapping[str, Any], dotted: str) -> Any:
    first, *attrs = dotted.split(".")
    if first not in ns or any(a.startswith("__") for a in attrs):
        return _MISSING
    value = ns[first]
    for attr in attrs:
        try:
            value = getattr(value, attr)
        except Exception:
            return _MISSING
    return value


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return bool(text.strip())


def expand_variables(argument: str, ns: Mapping[str, Any]) -> str:
    """``argument`` with ``{name}``, ``{name.attr}`` and ``$name`` replaced from ``ns``.

    Names are looked up, never evaluated; a name not in ``ns`` stays as
    written, and so does text in braces that is not Python (``{"a": 1`` ...).
    ``{{``, ``}}`` and ``$$`` give ``{``, ``}`` and ``$``.

    Raises
    ------
    UsageError
        For an expression in braces (``{i + 1}``, ``{f(x)}``): IPython would
        have evaluated it, ``%mlops`` does not.
    """
    if "{" not in argument and "}" not in argument and "$" not in argument:
        return argument

    def replace(match: re.Match[str]) -> str:
        brace, dollar = match.group("brace"), match.group("dollar")
        if brace is None and dollar is None:
            return _ESCAPES[match.group(0)]
        dotted = dollar if dollar is not None else brace.strip()
        if brace is not None and not _DOTTED.fullmatch(dotted):
            if _is_expression(brace):
                raise UsageError(
                    f"%mlops does not evaluate {{{brace}}}: put the value in a variable and "
                    "write {name}, or double the braces ({{ }}) to mean them literally"
                )
            return match.group(0)
        value = _lookup(ns, dotted)
        return match.group(0) if value is _MISSING else str(value)

    return _PLACEHOLDER.sub(replace, argument)
