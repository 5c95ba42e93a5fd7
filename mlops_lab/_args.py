"""``NAME=EXPR`` pairs of ``%mlops param``/``%mlops log`` lines, read by the magics and by promotion.

Mistakes raise :class:`~mlops_lab.errors.InvalidArgumentError` naming what is wrong; the
magics show it as one ``UsageError`` line, the CLI as one line on stderr.
"""

from __future__ import annotations

import io
import keyword
import tokenize

from .errors import InvalidArgumentError

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
                raise InvalidArgumentError(f"unbalanced quotes in: {text}")
            tokens.append(tok)
    except (tokenize.TokenError, SyntaxError):
        raise InvalidArgumentError(f"unbalanced quotes or brackets in: {text}") from None
    for i, tok in enumerate(tokens):
        if tok.type == tokenize.OP and tok.string in _OPEN:
            depth += 1
        elif tok.type == tokenize.OP and tok.string in _CLOSE:
            depth -= 1
            if depth < 0:
                raise InvalidArgumentError(f"unbalanced brackets in: {text}")
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
            raise InvalidArgumentError(_not_a_name(head, text.strip()))
        raise InvalidArgumentError(f"expected NAME=VALUE, got {text[:end].strip()!r}")
    out = []
    for n, (begin, value_start) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(text)
        name = text[begin:value_start].rstrip("=").strip()
        expr = text[value_start:end].strip()
        if keyword.iskeyword(name):
            raise InvalidArgumentError(_not_a_name(name, text[begin:end].strip()))
        if not expr:
            raise InvalidArgumentError(f"expected NAME=VALUE, got {text[begin:end].strip()!r}")
        out.append((name, expr))
    return out


def _not_a_name(name: str, part: str) -> str:
    return (
        f"{name!r} is not a valid Python name (letters, digits and _, not starting with a "
        f"digit, not a keyword), in {part!r}"
    )
