"""The runs filter language, parsed into parameterised SQL.

It reads like MLflow's search syntax, means what MLflow means wherever MLflow
defines it, and adds what MLflow lacks::

    metrics.acc > 0.9 and params.C = '1.0'
    (tags.team = 'vision' or tags.team = 'nlp') and not status = 'failed'
    params.model in ('rf', 'gbm') and name like 'rf%'
    metrics.`val loss` < 0.3 and metrics.f1 is not null
    start_time >= '2026-11-01' and duration_s < 60

Identifiers are ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` (keys may hold
dots, dashes and slashes, or be quoted with backticks or double quotes) and
the run attributes in :data:`ATTRIBUTES` (with MLflow's aliases in
:data:`ALIASES`). Literals are numbers or strings in single (or double)
quotes; a quote inside a string is doubled (``'it''s'``), and a backslash is
an ordinary character, as in MLflow, so ``LIKE`` has no escape character.
Every literal becomes a bound SQL parameter, never SQL text, and a mistake
raises :class:`FilterSyntaxError` pointing at the bad token.

What a comparison means, as in MLflow:

- ``metrics.KEY`` compares the latest value with a number. A NaN value is
  unequal to everything (``!=`` selects it, ``=``, ``<``, ``>`` never do); a run
  without the key matches no comparison. ``is null`` (an extension) is true
  only for a run without the key: NaN is a value.
- ``tags.KEY`` is text and compares with a quoted string only; ``params.KEY``
  compares as text with a string, and (an extension) as a number with a
  number, for params logged as numbers.
- ``status`` compares case-insensitively: ``'FINISHED'`` (MLflow's spelling)
  and ``'finished'`` (ours) are one status.
- ``start_time`` / ``end_time`` (alias ``created``) compare with epoch
  milliseconds, as MLflow stores them, or (an extension) with an ISO date or
  time in quotes.
- Order: a metric sorts numbers first, then NaN, then runs without the key,
  whatever the direction; any other field puts runs without a value last.

Where it differs on purpose (``tests/store/test_filter_mlflow_parity.py``
checks each against MLflow): ``or``, parentheses, ``not``, ``in`` on any
field, ``is null`` on metrics and attributes, ``==`` and ``<>``, ordered
comparisons on text, ISO dates, lower-case statuses and ``LIKE`` on a status
in any case, numeric comparison and order of params logged as numbers, ±inf
kept as ±inf (MLflow stores ±1.7976931348623157e308), and ``'it''s'`` as one
quote (MLflow keeps both).

The compiled SQL refers to the runs table as ``r`` and experiments as ``e``.
Depth and size are bounded (:data:`MAX_DEPTH`, :data:`MAX_COMPARISONS`,
:data:`MAX_VALUES`, :data:`MAX_LENGTH`) so that any filter that parses also
compiles in SQLite.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from ..errors import FilterSyntaxError

# Attribute name -> SQL expression over runs r / experiments e.
ATTRIBUTES: Mapping[str, str] = MappingProxyType(
    {
        "run_id": "r.run_id",
        "name": "r.name",
        "run_name": "r.name",
        "status": "r.status",
        "experiment": "e.name",
        "start_time": "r.start_time",
        "end_time": "r.end_time",
        "duration_s": "(r.end_time - r.start_time)",
        "parent_id": "r.parent_id",
        "source_type": "r.source_type",
        "source_path": "r.source_path",
        "git_commit": "r.git_commit",
        "git_branch": "r.git_branch",
        "host": "r.host",
        "user": "r.user",
    }
)
# MLflow's other names for attributes (compared case-insensitively, as all attributes).
ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "created": "start_time",
        "run name": "name",
        "user_id": "user",
    }
)
_TIME_ATTRIBUTES = frozenset({"start_time", "end_time"})
_NUMBER_ATTRIBUTES = frozenset({"start_time", "end_time", "duration_s"})
_PREFIXES = MappingProxyType(
    {
        "metrics": "metrics",
        "metric": "metrics",
        "params": "params",
        "param": "params",
        "parameter": "params",
        "parameters": "params",
        "tags": "tags",
        "tag": "tags",
        "attributes": "attributes",
        "attribute": "attributes",
        "attr": "attributes",
        "run": "attributes",
    }
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "ilike", "is", "null", "asc", "desc"})
_COMPARISONS = MappingProxyType(
    {
        "=": "=",
        "==": "=",
        "!=": "!=",
        "<>": "!=",
        "<": "<",
        "<=": "<=",
        ">": ">",
        ">=": ">=",
    }
)

MAX_DEPTH = 20
"""Most parentheses open at once (SQLite's parser refuses much deeper SQL)."""
MAX_COMPARISONS = 200
"""Most comparisons in one filter (and terms in one order-by)."""
MAX_VALUES = 10_000
"""Most literals in one filter, ``in`` lists included."""
MAX_LENGTH = 100_000
"""Longest filter text, in characters."""

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.]))
  | (?P<string>'(?:''|[^'])*'|"(?:""|[^"])*")
  | (?P<quoted>`[^`]*`)
  | (?P<op>==|!=|<>|<=|>=|=|<|>)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<dot>\.)
  | (?P<word>[^\s().,=!<>'"`]+(?:\.[^\s().,=!<>'"`]+)*)
    """,
    re.VERBOSE,
)

# Precedence of a compiled piece of SQL, to add parentheses only where needed
# (each level of parentheses costs SQLite parser stack).
_ATOM, _NOT, _AND, _OR = 3, 2, 1, 0


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int

    @property
    def keyword(self) -> str | None:
        low = self.text.lower()
        return low if self.kind == "word" and low in _KEYWORDS else None


@dataclass(frozen=True)
class Field:
    """A resolved identifier: ``kind`` is metrics, params, tags or attributes."""

    kind: str
    key: str


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(
            f"the expression is {len(text):,} characters long; the limit is {MAX_LENGTH:,}",
            expression=text[:80] + "...",
            position=0,
        )
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FilterSyntaxError(
                f"unexpected character {text[pos]!r}", expression=text, position=pos
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(token: Token) -> str:
    """The text between the quotes; a doubled quote stands for one, a backslash for itself."""
    quote = token.text[0]
    body = token.text[1:-1]
    return body if quote == "`" else body.replace(quote * 2, quote)


def _like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern to GLOB, so LIKE is case-sensitive as in MLflow."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def _group(sql: str, prec: int, within: int) -> str:
    return f"({sql})" if prec < within else sql


def _join(parts: list[tuple[str, int]], word: str, prec: int) -> tuple[str, int]:
    if len(parts) == 1:
        return parts[0]
    return f" {word} ".join(_group(s, p, prec) for s, p in parts), prec


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.params: list[Any] = []
        self.depth = 0
        self.comparisons = 0

    # -- token helpers ---------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, message: str, token: Token | None = None) -> FilterSyntaxError:
        token = token or self.tok
        return FilterSyntaxError(message, expression=self.text, position=token.pos)

    def accept_keyword(self, word: str) -> bool:
        if self.tok.keyword == word:
            self.i += 1
            return True
        return False

    def expect(self, kind: str, what: str) -> Token:
        if self.tok.kind != kind:
            found = self.tok.text or "the end"
            raise self.error(f"expected {what}, found {found!r}")
        return self.advance()

    # -- grammar ---------------------------------------------------------------------
    def parse_filter(self) -> str:
        if self.tok.kind == "end":
            raise self.error("the filter is empty")
        sql, _ = self.or_expr()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}; expected 'and', 'or' or the end")
        return sql

    def or_expr(self) -> tuple[str, int]:
        parts = [self.and_expr()]
        while self.accept_keyword("or"):
            parts.append(self.and_expr())
        return _join(parts, "OR", _OR)

    def and_expr(self) -> tuple[str, int]:
        parts = [self.not_expr()]
        while self.accept_keyword("and"):
            parts.append(self.not_expr())
        return _join(parts, "AND", _AND)

    def not_expr(self) -> tuple[str, int]:
        negations = 0
        while self.accept_keyword("not"):
            negations += 1
        token = self.tok
        if token.kind == "lparen":
            self.advance()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.error(f"parentheses are nested more than {MAX_DEPTH} deep", token)
            inner = self.or_expr()
            self.expect("rparen", "')'")
            self.depth -= 1
        else:
            inner = self.comparison()
        if negations % 2 == 0:
            return inner
        if inner[1] == _NOT:  # not (not x): x
            return inner[0].removeprefix("NOT "), _ATOM
        return f"NOT {_group(*inner, _NOT)}", _NOT

    def field(self) -> Field:
        token = self.tok
        if token.kind == "quoted":
            self.advance()
            name = _unquote(token)
            if self.tok.kind == "dot" and name.lower() in _PREFIXES:
                # `tags`.owner, `metrics`.`val loss`
                self.advance()
                return self._prefixed(_PREFIXES[name.lower()], name, token)
            return self._attribute(name, token)
        if token.kind != "word" or token.keyword:
            found = token.text or "the end"
            raise self.error(
                f"expected a field such as metrics.acc, params.C, tags.team or status, "
                f"found {found!r}"
            )
        self.advance()
        head, _, rest = token.text.partition(".")
        prefix = _PREFIXES.get(head.lower())
        if prefix is None:
            if rest:
                raise self.error(
                    f"unknown field prefix {head!r}; use metrics., params., tags. or attributes.",
                    token,
                )
            return self._attribute(token.text, token)
        if rest:
            if prefix == "attributes":
                return self._attribute(rest, token)
            return Field(prefix, rest)
        if self.tok.kind != "dot":
            raise self.error(f"expected a key after {head}.")
        self.advance()
        return self._prefixed(prefix, head, token)

    def _prefixed(self, prefix: str, head: str, token: Token) -> Field:
        """The key after ``prefix.`` as the next token: a word or a quoted name."""
        if self.tok.kind in ("quoted", "string"):
            key = _unquote(self.advance())
        elif self.tok.kind == "word" and not self.tok.keyword:
            key = self.advance().text
        else:
            raise self.error(f"expected a key after {head}.")
        if prefix == "attributes":
            return self._attribute(key, token)
        return Field(prefix, key)

    def _attribute(self, name: str, token: Token) -> Field:
        low = name.lower()
        low = ALIASES.get(low, low)
        if low not in ATTRIBUTES:
            raise self.error(
                f"unknown attribute {name!r}; known: {', '.join(sorted(ATTRIBUTES))}", token
            )
        return Field("attributes", low)

    def literal(self) -> tuple[Any, Token]:
        token = self.tok
        if token.kind == "number":
            self.advance()
            return float(token.text), token
        if token.kind == "string":
            self.advance()
            return _unquote(token), token
        found = token.text or "the end"
        raise self.error(f"expected a number or a 'quoted string', found {found!r}")

    def comparison(self) -> tuple[str, int]:
        start = self.tok
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise self.error(f"the filter has more than {MAX_COMPARISONS} comparisons", start)
        field = self.field()
        token = self.tok
        negate = False
        if self.accept_keyword("is"):
            negate = self.accept_keyword("not")
            if not self.accept_keyword("null"):
                raise self.error("expected NULL after IS")
            return self.null_check(field, negate), _ATOM
        if self.accept_keyword("not"):
            negate = True
            token = self.tok
            if self.tok.keyword not in ("in", "like", "ilike"):
                raise self.error("expected IN, LIKE or ILIKE after NOT")
        if self.accept_keyword("in"):
            self.expect("lparen", "'(' after IN")
            values = [self.literal()]
            while self.tok.kind == "comma":
                self.advance()
                values.append(self.literal())
                if len(values) + len(self.params) > MAX_VALUES:
                    raise self.error(f"the filter has more than {MAX_VALUES:,} values")
            self.expect("rparen", "')' closing the IN list")
            return self.condition(field, "NOT IN" if negate else "IN", values), _ATOM
        for word in ("like", "ilike"):
            if self.accept_keyword(word):
                value, vtoken = self.literal()
                if not isinstance(value, str):
                    raise self.error(f"{word.upper()} needs a 'quoted pattern'", vtoken)
                op = ("NOT " if negate else "") + word.upper()
                return self.condition(field, op, [(value, vtoken)]), _ATOM
        if token.kind != "op":
            found = token.text or "the end"
            raise self.error(
                f"expected a comparison (=, !=, <, <=, >, >=, IN, LIKE, IS NULL), found {found!r}"
            )
        self.advance()
        return self.condition(field, _COMPARISONS[token.text], [self.literal()]), _ATOM

    # -- SQL generation --------------------------------------------------------------
    def bind(self, value: Any) -> str:
        if len(self.params) >= MAX_VALUES:
            raise self.error(f"the filter has more than {MAX_VALUES:,} values")
        self.params.append(value)
        return "?"

    def predicate(self, column: str, op: str, values: list[Any]) -> str:
        if op in ("IN", "NOT IN"):
            return f"{column} {op} ({', '.join(self.bind(v) for v in values)})"
        if op in ("LIKE", "NOT LIKE"):
            neg = "NOT " if op == "NOT LIKE" else ""
            return f"{neg}{column} GLOB {self.bind(_like_to_glob(values[0]))}"
        if op in ("ILIKE", "NOT ILIKE"):
            neg = "NOT " if op == "NOT ILIKE" else ""
            return f"{neg}lower({column}) LIKE lower({self.bind(values[0])})"
        return f"{column} {op} {self.bind(values[0])}"

    def condition(self, field: Field, op: str, values: list[tuple[Any, Token]]) -> str:
        numeric = [isinstance(v, float) for v, _ in values]
        if any(numeric) and not all(numeric):
            raise self.error("an IN list mixes numbers and strings", values[0][1])
        is_number = all(numeric)
        first = values[0][1]
        raw = [v for v, _ in values]
        is_like = op.endswith("LIKE")
        if field.kind == "attributes":
            return self.attribute_condition(field.key, op, values, is_number)
        if field.kind == "metrics":
            if is_like:
                raise self.error(f"metrics.{field.key} is a number: LIKE does not apply", first)
            if not is_number:
                raise self.error(f"metrics.{field.key} compares with numbers, not strings", first)
            key = self.bind(field.key)
            inner = self.predicate("value", op, raw)
            if op in ("!=", "NOT IN"):
                inner = f"({inner} OR value IS NULL)"  # NaN (stored as NULL) is unequal
            return f"r.run_id IN (SELECT run_id FROM latest_metrics WHERE key = {key} AND {inner})"
        table = field.kind
        if field.kind == "tags" and is_number:
            raise self.error(
                f"tags are text: compare tags.{field.key} with a quoted string, "
                f"e.g. tags.{field.key} = '{first.text}'",
                first,
            )
        key = self.bind(field.key)
        if field.kind == "params" and is_number:
            number = (
                "CASE value WHEN 'inf' THEN 9e999 WHEN '-inf' THEN -9e999 "
                "WHEN 'nan' THEN NULL ELSE CAST(value AS REAL) END"
            )
            inner = self.predicate(number, op, raw)
            if op in ("!=", "NOT IN"):
                inner = f"({inner} OR value = 'nan')"
            inner = f"vtype IN ('int', 'float') AND {inner}"
        else:
            inner = self.predicate("value", op, raw)
        return f"r.run_id IN (SELECT run_id FROM {table} WHERE key = {key} AND {inner})"

    def attribute_condition(
        self, name: str, op: str, values: list[tuple[Any, Token]], is_number: bool
    ) -> str:
        first = values[0][1]
        column = ATTRIBUTES[name]
        raw = [v for v, _ in values]
        if name in _NUMBER_ATTRIBUTES:
            if op.endswith("LIKE"):
                raise self.error(f"{name} is a time or a number: LIKE does not apply", first)
            if name == "duration_s":
                if not is_number:
                    raise self.error("duration_s compares with a number of seconds", first)
            elif is_number:
                # Epoch milliseconds, truncated as MLflow stores them.
                column = f"CAST({column} * 1000 AS INTEGER)"
            else:
                raw = [self.timestamp(v, t) for v, t in values]
            return self.predicate(column, op, raw)
        if is_number:
            raise self.error(
                f"{name} is text: compare it with a quoted string, e.g. {name} = '{first.text}'",
                first,
            )
        if name == "status":
            # Stored in lower case; MLflow spells statuses in upper case.
            raw = [v.lower() for v in raw]
        return self.predicate(column, op, raw)

    def null_check(self, field: Field, negate: bool) -> str:
        if field.kind == "attributes":
            return f"{ATTRIBUTES[field.key]} IS {'NOT ' if negate else ''}NULL"
        table = "latest_metrics" if field.kind == "metrics" else field.kind
        op = "IN" if negate else "NOT IN"
        return f"r.run_id {op} (SELECT run_id FROM {table} WHERE key = {self.bind(field.key)})"

    def timestamp(self, value: str, token: Token) -> float:
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                moment = moment.astimezone()
            return moment.timestamp()
        except (ValueError, OverflowError, OSError):
            raise self.error(
                f"{value!r} is not a date or time (use ISO format, e.g. '2026-11-01 14:30', "
                "or epoch milliseconds as a number)",
                token,
            ) from None

    # -- order by ---------------------------------------------------------------------
    def parse_order(self) -> list[str]:
        terms: list[str] = []
        while True:
            start = self.tok
            self.comparisons += 1
            if self.comparisons > MAX_COMPARISONS:
                raise self.error(f"order_by has more than {MAX_COMPARISONS} terms", start)
            field = self.field()
            direction = "ASC"
            if self.accept_keyword("desc"):
                direction = "DESC"
            else:
                self.accept_keyword("asc")
            if field.kind == "metrics":
                terms.append(self.metric_order(field.key, direction))
            else:
                terms.append(f"{self.order_expr(field)} {direction} NULLS LAST")
            if self.tok.kind == "comma":
                self.advance()
                continue
            if self.tok.kind != "end":
                raise self.error(f"unexpected {self.tok.text!r} in ORDER BY")
            return terms

    def metric_order(self, key: str, direction: str) -> str:
        """Numbers (ascending or descending), then NaN, then runs without the key.

        One lookup per run: SQLite sorts every number before any text, so NaN
        (a NULL value) becomes the text 'NaN', and descending is ascending on
        the negated value; a run without the key gives NULL, sorted last.
        """
        value = "-value" if direction == "DESC" else "value"
        return (
            f"(SELECT coalesce({value}, 'NaN') FROM latest_metrics "
            f"WHERE run_id = r.run_id AND key = {self.bind(key)}) ASC NULLS LAST"
        )

    def order_expr(self, field: Field) -> str:
        if field.kind == "attributes":
            return ATTRIBUTES[field.key]
        key = self.bind(field.key)
        if field.kind == "params":
            return (
                "(SELECT CASE WHEN vtype IN ('int', 'float') THEN CAST(value AS REAL) "
                f"ELSE value END FROM params WHERE run_id = r.run_id AND key = {key})"
            )
        return f"(SELECT value FROM tags WHERE run_id = r.run_id AND key = {key})"


def compile_filter(text: str) -> tuple[str, list[Any]]:
    """Compile a filter expression to ``(sql, params)`` over runs ``r`` / experiments ``e``."""
    parser = _Parser(text)
    return parser.parse_filter(), parser.params


def compile_order(spec: str | list[str] | tuple[str, ...]) -> tuple[str, list[Any]]:
    """Compile ``"metrics.acc desc, start_time"`` (or a list of such terms) to SQL."""
    text = spec if isinstance(spec, str) else ", ".join(spec)
    parser = _Parser(text)
    if parser.tok.kind == "end":
        raise parser.error("order_by is empty")
    return ", ".join(parser.parse_order()), parser.params
