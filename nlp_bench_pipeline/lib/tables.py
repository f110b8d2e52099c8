"""Tables of result rows: columns with units, Markdown, and the one way a value is printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


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


Unit = Literal["ms", "rps", "number", "share", "count", "text", "bool"]
# The Dagster table column type each unit is shown as.
TABLE_TYPES: dict[str, str] = {
    "ms": "float", "rps": "float", "number": "float", "share": "string", "count": "int",
    "text": "string",
    "bool": "bool",
}  # fmt: skip


@dataclass(frozen=True)
class ResultColumn:
    """A column of a result table: the row key, its heading, and the unit it is shown in."""

    key: str
    heading: str
    unit: Unit = "text"
    description: str | None = None


def shown(value: Any, unit: Unit) -> Any:
    """A value as a person reads it: ms to 1 decimal, rates to 2, shares in %, whole counts."""
    if value is None:
        return None
    if unit == "ms":
        return round(float(value), 1)
    if unit in ("rps", "number"):
        return round(float(value), 2)
    if unit == "share":
        return f"{100 * float(value):.1f} %"
    if unit == "count":
        return int(value)
    if unit == "bool":
        return bool(value)
    return str(value)
