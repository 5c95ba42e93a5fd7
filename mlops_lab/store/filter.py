"""The runs filter language, parsed into parameterised SQL.

It reads like MLflow's search syntax and adds what MLflow lacks::

    metrics.acc > 0.9 and params.C = '1.0'
    (tags.team = 'vision' or tags.team = 'nlp') and not status = 'failed'
    params.model in ('rf', 'gbm') and name like 'rf%'
    metrics.`val loss` < 0.3 and metrics.f1 is not null
    start_time >= '2026-11-01' and duration_s < 60

Identifiers are ``metrics.KEY``, ``params.KEY``, ``tags.KEY`` (keys may hold
dots, dashes and slashes, or be quoted with backticks or double quotes) and
the run attributes in :data:`ATTRIBUTES`. Literals are numbers or strings in
single quotes. Every literal becomes a bound SQL parameter, never SQL text, and
a mistake raises :class:`FilterSyntaxError` pointing at the bad token.

The compiled SQL refers to the runs table as ``r`` and experiments as ``e``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..errors import FilterSyntaxError

# Attribute name -> SQL expression over runs r / experiments e.
ATTRIBUTES: dict[str, str] = {
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
_TIME_ATTRIBUTES = {"start_time", "end_time"}
_PREFIXES = {
    "metrics": "metrics",
    "metric": "metrics",
    "params": "params",
    "param": "params",
    "parameters": "params",
    "tags": "tags",
    "tag": "tags",
    "attributes": "attributes",
    "attribute": "attributes",
    "attr": "attributes",
    "run": "attributes",
}
_KEYWORDS = {"and", "or", "not", "in", "like", "ilike", "is", "null", "asc", "desc"}
_COMPARISONS = {
    "=": "=",
    "==": "=",
    "!=": "!=",
    "<>": "!=",
    "<": "<",
    "<=": "<=",
    ">": ">",
    ">=": ">=",
}

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?)(?![\w.]))
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
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
    body = token.text[1:-1]
    if token.text[0] == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", r"\1", body)


def _like_to_glob(pattern: str) -> str:
    """Translate a LIKE pattern to GLOB, so LIKE is case-sensitive as in MLflow."""
    out = []
    escaped = False
    for ch in pattern:
        if escaped:
            out.append(f"[{ch}]" if ch in "*?[" else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.params: list[Any] = []

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
        sql = self.or_expr()
        if self.tok.kind != "end":
            raise self.error(f"unexpected {self.tok.text!r}; expected 'and', 'or' or the end")
        return sql

    def or_expr(self) -> str:
        parts = [self.and_expr()]
        while self.accept_keyword("or"):
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def and_expr(self) -> str:
        parts = [self.not_expr()]
        while self.accept_keyword("and"):
            parts.append(self.not_expr())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def not_expr(self) -> str:
        if self.accept_keyword("not"):
            return f"(NOT {self.not_expr()})"
        if self.tok.kind == "lparen":
            self.advance()
            inner = self.or_expr()
            self.expect("rparen", "')'")
            return inner
        return self.comparison()

    def field(self) -> Field:
        token = self.tok
        if token.kind == "quoted":
            self.advance()
            return self._attribute(_unquote(token), token)
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
        if not rest:
            # The key follows as a quoted identifier: metrics.`val loss`
            if self.tok.kind == "dot":
                self.advance()
            if self.tok.kind in ("quoted", "string"):
                key = _unquote(self.advance())
            else:
                raise self.error(f"expected a key after {head}.")
        else:
            key = rest
        if prefix == "attributes":
            return self._attribute(key, token)
        return Field(prefix, key)

    def _attribute(self, name: str, token: Token) -> Field:
        if name.lower() not in ATTRIBUTES:
            raise self.error(
                f"unknown attribute {name!r}; known: {', '.join(sorted(ATTRIBUTES))}", token
            )
        return Field("attributes", name.lower())

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

    def comparison(self) -> str:
        field = self.field()
        token = self.tok
        negate = False
        if self.accept_keyword("is"):
            negate = self.accept_keyword("not")
            if not self.accept_keyword("null"):
                raise self.error("expected NULL after IS")
            return self.null_check(field, negate)
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
            self.expect("rparen", "')' closing the IN list")
            return self.condition(field, "NOT IN" if negate else "IN", values)
        for word in ("like", "ilike"):
            if self.accept_keyword(word):
                value, vtoken = self.literal()
                if not isinstance(value, str):
                    raise self.error(f"{word.upper()} needs a 'quoted pattern'", vtoken)
                op = ("NOT " if negate else "") + word.upper()
                return self.condition(field, op, [(value, vtoken)])
        if token.kind != "op":
            found = token.text or "the end"
            raise self.error(
                f"expected a comparison (=, !=, <, <=, >, >=, IN, LIKE, IS NULL), found {found!r}"
            )
        self.advance()
        return self.condition(field, _COMPARISONS[token.text], [self.literal()])

    # -- SQL generation --------------------------------------------------------------
    def bind(self, value: Any) -> str:
        self.params.append(value)
        return "?"

    def predicate(self, column: str, op: str, values: list[Any]) -> str:
        if op in ("IN", "NOT IN"):
            return f"{column} {op} ({', '.join(self.bind(v) for v in values)})"
        if op in ("LIKE", "NOT LIKE"):
            return f"{'NOT ' if op == 'NOT LIKE' else ''}{column} GLOB {self.bind(_like_to_glob(values[0]))}"
        if op in ("ILIKE", "NOT ILIKE"):
            neg = "NOT " if op == "NOT ILIKE" else ""
            return f"{neg}lower({column}) LIKE lower({self.bind(values[0])}) ESCAPE '\\'"
        return f"{column} {op} {self.bind(values[0])}"

    def condition(self, field: Field, op: str, values: list[tuple[Any, Token]]) -> str:
        numeric = [isinstance(v, float) for v, _ in values]
        if any(numeric) and not all(numeric):
            raise self.error("an IN list mixes numbers and strings", values[0][1])
        is_number = all(numeric)
        raw = [v for v, _ in values]
        if field.kind == "attributes":
            column = ATTRIBUTES[field.key]
            if field.key in _TIME_ATTRIBUTES and not is_number:
                raw = [self.timestamp(v, t) for v, t in values]
            elif field.key == "duration_s" and not is_number:
                raise self.error("duration_s compares with a number of seconds", values[0][1])
            return self.predicate(column, op, raw)
        if field.kind == "metrics":
            if not is_number:
                raise self.error(
                    f"metrics.{field.key} compares with numbers, not strings", values[0][1]
                )
            key = self.bind(field.key)
            inner = self.predicate("value", op, raw)
            return f"r.run_id IN (SELECT run_id FROM latest_metrics WHERE key = {key} AND {inner})"
        table = field.kind
        key = self.bind(field.key)
        if field.kind == "params" and is_number:
            inner = self.predicate("CAST(value AS REAL)", op, raw)
            inner = f"vtype IN ('int', 'float') AND {inner}"
        else:
            inner = self.predicate(
                "value", op, [str(v) if not isinstance(v, str) else v for v in raw]
            )
        return f"r.run_id IN (SELECT run_id FROM {table} WHERE key = {key} AND {inner})"

    def null_check(self, field: Field, negate: bool) -> str:
        if field.kind == "attributes":
            return f"{ATTRIBUTES[field.key]} IS {'NOT ' if negate else ''}NULL"
        table = "latest_metrics" if field.kind == "metrics" else field.kind
        op = "IN" if negate else "NOT IN"
        return f"r.run_id {op} (SELECT run_id FROM {table} WHERE key = {self.bind(field.key)})"

    def timestamp(self, value: str, token: Token) -> float:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self.error(
                f"{value!r} is not a date or time (use ISO format, e.g. '2026-11-01 14:30')",
                token,
            ) from None
        if moment.tzinfo is None:
            moment = moment.astimezone()
        return moment.timestamp()

    # -- order by ---------------------------------------------------------------------
    def parse_order(self) -> list[str]:
        terms = []
        while True:
            field = self.field()
            direction = "ASC"
            if self.accept_keyword("desc"):
                direction = "DESC"
            else:
                self.accept_keyword("asc")
            terms.append(f"{self.order_expr(field)} {direction} NULLS LAST")
            if self.tok.kind == "comma":
                self.advance()
                continue
            if self.tok.kind != "end":
                raise self.error(f"unexpected {self.tok.text!r} in ORDER BY")
            return terms

    def order_expr(self, field: Field) -> str:
        if field.kind == "attributes":
            return ATTRIBUTES[field.key]
        key = self.bind(field.key)
        if field.kind == "metrics":
            return f"(SELECT value FROM latest_metrics WHERE run_id = r.run_id AND key = {key})"
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


def parse_field(text: str) -> Field:
    """Resolve one field name (``metrics.acc``, ``params.C``, ``status``)."""
    parser = _Parser(text)
    field = parser.field()
    if parser.tok.kind != "end":
        raise parser.error(f"unexpected {parser.tok.text!r} after the field name")
    return field
