"""`Report`: one self-contained HTML page (styles inline, plots embedded as PNG data URIs).

The page needs no server, no script and no network: it opens from disk in any browser
and can be mailed as one file. Every string put in it is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Mapping, Sequence
from typing import Any

from descent.files import write_atomic
from descent.text import format_number

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em;
     border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.note { color: #555; } .wide { overflow-x: auto; }
"""


class Report:
    """Build a page section by section, then `render()` or `write(path)` it."""

    def __init__(self, title: str, subtitle: str = "") -> None:
        self.title, self.subtitle = title, subtitle
        self.parts: list[str] = []

    def heading(self, text: str) -> Report:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")
        return self

    def paragraph(self, text: str, note: bool = False) -> Report:
        css = ' class="note"' if note else ""
        self.parts.append(f"<p{css}>{html.escape(text)}</p>")
        return self

    def bullets(self, items: Sequence[str]) -> Report:
        rows = "".join(f"<li>{html.escape(item)}</li>" for item in items)
        self.parts.append(f"<ul>{rows}</ul>")
        return self

    def key_values(self, values: Mapping[str, Any]) -> Report:
        """A two-column table: one row per key."""
        rows = "".join(
            f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(format_number(v))}</td></tr>"
            for k, v in values.items()
        )
        self.parts.append(f"<table>{rows}</table>")
        return self

    def table(self, rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None):
        """A table with a header row: one row per mapping, columns from the first by default."""
        if not rows:
            return self.paragraph("(no rows)", note=True)
        columns = list(columns or rows[0])
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape(format_number(r.get(c)))}</td>" for c in columns)
            + "</tr>"
            for r in rows
        )
        self.parts.append(f'<div class="wide"><table><tr>{head}</tr>{body}</table></div>')
        return self

    def figure(self, png: bytes, caption: str = "", alt: str = "") -> Report:
        """An image embedded in the page as a base64 PNG data URI."""
        data = base64.b64encode(png).decode("ascii")
        alt = html.escape(alt or caption, quote=True)
        caption_html = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">{caption_html}</figure>'
        )
        return self

    def render(self) -> str:
        subtitle = f'<p class="note">{html.escape(self.subtitle)}</p>' if self.subtitle else ""
        return (
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(self.title)}</title><style>{STYLE}</style></head>"
            f"<body><h1>{html.escape(self.title)}</h1>{subtitle}\n"
            + "\n".join(self.parts)
            + "\n</body></html>\n"
        )

    def write(self, path: str | os.PathLike) -> None:
        """Write the page atomically: a reader never sees half of it."""
        write_atomic(path, self.render())
