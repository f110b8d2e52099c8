"""Result rows as Dagster metadata: tables with a schema, values formatted for their unit.

The UI shows a ``MetadataValue.table`` as a table with typed columns (no "Show Markdown"
click, no unrounded floats), so every result an asset records goes through here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from nlp_bench_pipeline.lib.tables import TABLE_TYPES, ResultColumn, shown


def result_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[ResultColumn]
) -> dg.TableMetadataValue:
    """Rows as a Dagster table with a schema, each value formatted for its unit."""
    schema = dg.TableSchema(
        columns=[
            dg.TableColumn(c.heading, TABLE_TYPES[c.unit], description=c.description)
            for c in columns
        ]
    )
    records = [
        dg.TableRecord({c.heading: shown(row.get(c.key), c.unit) for c in columns}) for row in rows
    ]
    return dg.MetadataValue.table(records=records, schema=schema)
