"""Rendering rows as an aligned text table, CSV or JSON: the three output forms of every review command."""

from __future__ import annotations

import csv
import io
import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Format = Literal["text", "csv", "json"]


TERMINAL_WIDTH = 120  # text output fits this many columns unless the user asks for --wide
_MIN_COLUMN = 10


def human(value: Any) -> str:
    """A number as a person reads it: money-sized values with thousands separators and cents, others to four
    significant decimals (never 16 digits); everything else as text."""
    if isinstance(value, bool) or not isinstance(value, float):
        return "" if value is None else str(value)
    if not math.isfinite(value):
        return "n/a"
    if abs(value) >= 1000:
        return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"
    if abs(value) >= 1 or value == 0:
        return f"{value:.4f}".rstrip("0").rstrip(".")
    return f"{value:.4g}"


def rounded(value: Any) -> Any:
    """A JSON-like value with its floats rounded for reading (`human`'s precision), for documents shown in a table."""
    if isinstance(value, float):
        text = human(value).replace(",", "")
        return float(text) if text not in ("n/a", "") else None
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [rounded(v) for v in value]
    return value


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 90, width: int | None = TERMINAL_WIDTH,
               wrap: Sequence[int] | None = None) -> str:
    """Left-aligned columns separated by two spaces; floats rounded for people (`human`). A cell longer than
    `max_width` is cut with an ellipsis; when the table is wider than `width` (None: no limit), its widest columns
    are narrowed (only the `wrap` columns, when given) and their cells wrapped onto more lines, so it fits a terminal."""

    def cell(value: Any) -> str:
        text = human(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[str(h) for h in headers], *[[cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if width is not None:
        widths = _fit(widths, width, range(len(widths)) if wrap is None else wrap)
    lines: list[str] = []
    for n, row in enumerate(cells):
        parts = [textwrap.wrap(c, w, break_long_words=True, break_on_hyphens=False) or [""] if len(c) > w else [c] for c, w in zip(row, widths, strict=True)]
        for k in range(max(len(p) for p in parts)):
            lines.append("  ".join((p[k] if k < len(p) else "").ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _fit(widths: list[int], total: int, narrowable: Sequence[int]) -> list[int]:
    """Column widths narrowed, widest first among `narrowable`, until the row (with two-space gaps) fits `total` or
    none can shrink."""
    out = list(widths)
    while narrowable and sum(out) + 2 * (len(out) - 1) > total:
        widest = max(narrowable, key=lambda i: out[i])
        if out[widest] <= _MIN_COLUMN:
            break
        out[widest] -= 1
    return out


def csv_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([["" if c is None else c for c in row] for row in rows])
    return out.getvalue()


def to_json(value: Any) -> str:
    """Indented JSON; NaN is refused (money is never NaN), dates and paths become strings."""
    return json.dumps(value, indent=2, default=str, allow_nan=False)


def records(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[Mapping[str, Any]]:
    return [dict(zip(headers, row, strict=True)) for row in rows]


def fit_width(text: str, width: int = TERMINAL_WIDTH) -> str:
    """`text` with every line longer than `width` wrapped at word boundaries under its own label column: the hanging
    indent is where the text after the line's leading label starts (after the last run of two or more spaces in
    the first 30 characters, as in `FAIL  data        ...`), else two past the line's own indent. For prose lines
    (reasons, notes, attention); a table row would be broken, so tables are laid out by `text_table` instead."""
    out: list[str] = []
    for line in text.splitlines():
        if len(line) <= width:
            out.append(line)
            continue
        labels = list(re.finditer(r"\S {2,}(?=\S)", line[:30]))
        indent = labels[-1].end() if labels else len(line) - len(line.lstrip()) + 2
        out += textwrap.wrap(line, width, subsequent_indent=" " * min(indent, width // 2), break_on_hyphens=False) or [line]
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")
