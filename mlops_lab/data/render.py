"""Small helpers that render data reports as HTML (notebook) and text (terminal)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

_TABLE_STYLE = "border-collapse:collapse;font-size:12px;margin-top:4px"
_CELL_STYLE = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left;vertical-align:top"


def esc(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: Any, digits: int = 4) -> str:
    """A number short enough for a table cell; other values as text."""
    if value is None:
        return "–"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{digits}g}"
    return str(value)


def html_table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, row_styles: Sequence[str] = ()
) -> str:
    head = "".join(f"<th style='{_CELL_STYLE}'>{esc(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        style = f" style='{row_styles[i]}'" if i < len(row_styles) and row_styles[i] else ""
        cells = "".join(f"<td style='{_CELL_STYLE}'>{esc(c)}</td>" for c in row)
        body.append(f"<tr{style}>{cells}</tr>")
    return f"<table style='{_TABLE_STYLE}'><tr>{head}</tr>{''.join(body)}</table>"


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, width: int = 60) -> str:
    cells = [[str(h) for h in headers]] + [
        [str(c) if len(str(c)) <= width else str(c)[: width - 1] + "…" for c in r] for r in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join("  " + line for line in lines)
