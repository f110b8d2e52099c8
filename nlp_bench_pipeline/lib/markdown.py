"""Markdown tables for asset metadata (``MetadataValue.md``), one format everywhere."""

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
        lines.append("| " + " | ".join(_cell(row.get(key)) for key in headings) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
