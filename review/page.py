"""Pieces of a self-contained HTML page: escaping, tables, embedded PNGs, the stylesheet.

Nothing on the page is fetched: images are `data:` URIs, the style is inline, there is no script. A strict
Content-Security-Policy (no network sources at all) makes the browser refuse anything that slipped in.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape
from typing import Any

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #1d2330; margin: 0 auto; max-width: 1260px; padding: 0 20px 60px; }
h1 { font-size: 24px; margin: 24px 0 4px; } h2 { font-size: 19px; margin: 34px 0 8px; border-bottom: 1px solid #d0d5dd; padding-bottom: 4px; }
.sub { color: #5b6472; margin: 0 0 12px; } .note { color: #5b6472; font-size: 12.5px; }
nav a { margin-right: 14px; color: #1f4e9c; text-decoration: none; }
table { border-collapse: collapse; margin: 8px 0 12px; font-size: 13px; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 4px 9px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; position: sticky; top: 0; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.changed td { background: #fffbe6; } .pos { color: #1b7f3b; } .neg { color: #b3261e; }
img.chart { width: 100%; max-width: 1200px; display: block; margin: 6px 0 14px; border: 1px solid #e3e6ea; }
.swatch { display: inline-block; width: 11px; height: 11px; border-radius: 2px; margin-right: 5px; vertical-align: -1px; }
details summary { cursor: pointer; color: #1f4e9c; }
"""


def page(title: str, body: str) -> str:
    """A complete HTML document around `body`."""
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def image(png: bytes, alt: str, element_id: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return f"<img class=\"chart\" id=\"{escape(element_id)}\" alt=\"{escape(alt)}\" src=\"data:image/png;base64,{data}\">"


def section(element_id: str, title: str, content: str, note: str = "") -> str:
    extra = f"<p class=\"note\">{escape(note)}</p>" if note else ""
    return f"<section id=\"{escape(element_id)}\"><h2>{escape(title)}</h2>{extra}\n{content}\n</section>\n"


def cell(value: Any, *, num: bool = False, signed: bool = False, raw: bool = False) -> str:
    """One <td>: escaped unless `raw`; `signed` colours numbers by sign."""
    text = "" if value is None else (str(value) if raw else escape(str(value)))
    classes = ["num"] if num else []
    if signed and isinstance(value, int | float):
        classes.append("pos" if value > 0 else "neg" if value < 0 else "")
    attr = f" class=\"{' '.join(c for c in classes if c)}\"" if any(classes) else ""
    return f"<td{attr}>{text}</td>"


def table(headers: Sequence[str], rows: Sequence[str], element_id: str = "") -> str:
    """A table from headers and pre-rendered rows (each a string of <td> cells, optionally with a class)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    ident = f" id=\"{escape(element_id)}\"" if element_id else ""
    return f"<table{ident}><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + "\n</tbody></table>"


def row(cells: Sequence[str], css_class: str = "") -> str:
    attr = f" class=\"{css_class}\"" if css_class else ""
    return f"<tr{attr}>" + "".join(cells) + "</tr>"
