"""Tables of result rows: Markdown for asset metadata, and the one way a value is printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Mapping[str, str] | Sequence[str]
) -> str:
    """Rows as a Markdown table; ``columns`` maps keys to headings, or lists the keys."""
    headings = dict(columns) if isinstance(columns, Mapping) else {c: c for c in columns}
    lines = ["| " + " | ".join(headings.values()) + " |", "|" + "---|" * len(headings)]
    for row in rows:
        lines.append("| " + " | ".join(format_value(row.get(key)) for key in headings) + " |")
    return "\n".join(lines)


def format_value(value: Any, digits: int = 2) -> str:
    """A result cell: a dash for a missing value, floats to ``digits`` with thousands commas."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)
