"""Result rows as Dagster table metadata: a schema of typed columns, values a table can hold."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

# column name → Dagster column type ("string", "int", "float", "bool")
Columns = Sequence[tuple[str, str]]


def table(rows: Sequence[Mapping[str, Any]], columns: Columns) -> dg.TableMetadataValue:
    """``rows`` as ``MetadataValue.table`` with a schema; a missing or non-finite number is None."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns])
    records = [
        dg.TableRecord({name: _cell(row.get(name), kind) for name, kind in columns}) for row in rows
    ]
    return dg.MetadataValue.table(records, schema=schema)


def _cell(value: Any, kind: str) -> str | int | float | bool | None:
    if value is None:
        return None
    if kind == "float":
        number = float(value)
        return round(number, 6) if math.isfinite(number) else None
    if kind == "int":
        return int(value)
    if kind == "bool":
        return bool(value)
    return value if isinstance(value, str) else str(value)
