"""Rendering rows as an aligned text table, CSV or JSON: the three output forms of every review command."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

Format = Literal["text", "csv", "json"]


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 90) -> str:
    """Left-aligned columns separated by two spaces; cells longer than `max_width` are cut with an ellipsis."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[str(h) for h in headers], *[[cell(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


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
