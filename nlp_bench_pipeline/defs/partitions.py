"""Partitions shared across stages: one per target, and one per (target, scenario) cell.

Every target and scenario has a partition, enabled or not: materialising a disabled one fails
with a message saying how to enable it, rather than silently skipping.
"""

import dagster as dg

from nlp_bench_pipeline.bench.plan import ALL_SCENARIOS
from nlp_bench_pipeline.core.records import ALL_TARGETS

target_partitions = dg.StaticPartitionsDefinition(list(ALL_TARGETS))
scenario_partitions = dg.StaticPartitionsDefinition(list(ALL_SCENARIOS))
# Multi-partition keys join dimension values in dimension-name order: "<scenario>|<target>".
cell_partitions = dg.MultiPartitionsDefinition(
    {"target": target_partitions, "scenario": scenario_partitions}
)
