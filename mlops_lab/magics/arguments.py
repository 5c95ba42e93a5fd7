"""Reading a ``%mlops`` line: ``NAME=EXPR`` pairs and notebook variables in arguments.

IPython's own expansion of ``{expr}`` and ``$name`` is switched off for
``%mlops`` (it evaluates any expression, so a run name such as
``{__import__('os').system(...)}`` pasted into a line would run). Instead:

- ``param`` and ``log`` take Python expressions and evaluate them themselves;
  :func:`split_assignments` splits their ``NAME=EXPR`` pairs with Python's
  tokenizer, so any expression works.
- every other verb's arguments may name a notebook variable, ``{name}``,
  ``{name.attr}`` or ``$name``, which :func:`expand_variables` looks up (it
  never evaluates) inside one argument; ``{{``, ``}}`` and ``$$`` stand for
  ``{``, ``}`` and ``$``, and any other expression in braces is refused.
"""

from __future__ import annotations

import ast
import io
import keyword
import re
import tokenize
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

_OPEN = "([{"
_CLOSE = ")]}"


def split_assignments(text: str) -> list[tuple[str, str]]:
    """Split ``a=1 b=f(x, k=2) ** 0.5 c=x == 1`` into ``[(name, expression), ...]``.

    A new pair starts where a name followed by a single ``=`` stands outside
    brackets (so keyword arguments of calls, ``==``, ``<=`` and ``!=`` do not
    split, nor do the defaults of a ``lambda``); each expression is kept as
    Python source, to be evaluated in the user's namespace.
    """
    text = text.strip()
    if not text:
        return []
    line_starts = [0]
    for line in text.splitlines(keepends=True):
        line_starts.append(line_starts[-1] + len(line))

    def offset(pos: tuple[int, int]) -> int:
        return line_starts[pos[0] - 1] + pos[1]

    starts: list[tuple[int, int]] = []  # (offset of NAME, offset after "=")
    depth = 0
    lambdas = 0
    tokens: list[tokenize.TokenInfo] = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.ERRORTOKEN and tok.string[:1] in ("'", '"'):
                raise UsageError(f"unbalanced quotes in: {text}")
            tokens.append(tok)
    except (tokenize.TokenError, SyntaxError):
        raise UsageError(f"unbalanced quotes or brackets in: {text}") from None
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in _OPEN:
            depth += 1
        elif tok.type == tokenize.OP and tok.string in _CLOSE:
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced brackets in: {text}")
        elif depth == 0 and tok.type == tokenize.NAME and tok.string == "lambda":
            lambdas += 1
        elif depth == 0 and lambdas and tok.type == tokenize.OP and tok.string == ":":
            lambdas -= 1
        elif (
            depth == 0
            and not lambdas
            and tok.type == tokenize.NAME
            and i + 1 < len(tokens)
            and tokens[i + 1].type == tokenize.OP
            and tokens[i + 1].string == "="
        ):
            starts.append((offset(tok.start), offset(tokens[i + 1].end)))
    if not starts or text[: starts[0][0]].strip():
        end = starts[0][0] if starts else len(text)
        head, eq, rest = text.strip().partition("=")
        head = head.strip()
        bad_name = not head.isidentifier() or keyword.iskeyword(head)
        if eq and head and " " not in head and not rest.startswith("=") and bad_name:
            raise UsageError(_not_a_name(head, text.strip()))
        raise UsageError(f"expected NAME=VALUE, got {text[:end].strip()!r}")
    out = []
    for n, (begin, value_start) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        name = text[begin:value_start].rstrip("=").strip()
        expr = text[value_start:end].strip()
        if keyword.iskeyword(name):
            raise UsageError(_not_a_name(name, text[begin:end].strip()))
        if not expr:
            raise UsageError(f"expected NAME=VALUE, got {text[begin:end].strip()!r}")
        out.append((name, expr))
    return out


def _not_a_name(name: str, part: str) -> str:
    return (
        f"{name!r} is not a valid Python name (letters, digits and _, not starting with a "
        f"digit, not a keyword), in {part!r}"
    )


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_PLACEHOLDER = re.compile(
    rf"\{{\{{|\}}\}}|\$\$|\{{(?P<brace>[^{{}}]*)\}}|\$(?P<dollar>{_DOTTED.pattern})"
)
_ESCAPES = {"{{": "{", "}}": "}", "$$": "$"}
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
