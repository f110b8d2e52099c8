"""The economics tables: cost estimates, the break-even, the memory sweep and the simulator's grid.

Written by the ``economics`` assets, read by them and by the report (docs/schema.md,
"Economics"). Each write stores one computation under its id — ``estimate_id``, ``sweep_id`` or
``simulation_id`` — in one transaction, replacing an earlier write of the same id (a retried
materialisation), so a reader never sees half of one. The column tuples below are the contract:
a row with a key that is not a column is refused rather than silently dropped, a column a row
leaves out is NULL. JSON columns take Python values and are read back decoded.

The reads of the run tables the economics needs and no other package queries (each memory size's
SLO verdict, the latest local runs) are here too, beside the other queries of the store.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore, StoreError


@dataclass(frozen=True)
class Table:
    """One economics table: its name, the column that identifies a computation, its columns."""

    name: str
    id_column: str
    columns: tuple[str, ...]
    json_columns: frozenset[str] = frozenset()

    @property
    def latest_view(self) -> str:
        return f"latest_{self.name}"


COST_ESTIMATES = Table(
    "cost_estimates",
    "estimate_id",
    (
        "estimate_id", "computed_at", "platform", "configuration", "architecture", "memory_mb",
        "node_type", "traffic_profile", "shape", "mean_rps", "peak_to_mean", "requests_per_month",
        "texts_per_request", "usd_per_month", "usd_per_million_inferences", "breakdown", "chosen",
        "meets_slo", "p99_ms", "slo_p99_ms", "host_limited_share", "billed_ms", "init_ms",
        "pod_capacity_rps", "utilisation", "pods", "nodes", "measured_on", "profile", "run_ids",
        "catalog_digest", "region", "notes",
    ),
    frozenset({"breakdown"}),
)  # fmt: skip
COST_BREAKEVEN = Table(
    "cost_breakeven",
    "estimate_id",
    (
        "estimate_id", "computed_at", "shape", "peak_to_mean", "rate_rps", "first_rate_rps",
        "interval_low_rps", "interval_high_rps", "cheaper_below", "reason", "lambda_memory_mb",
        "lambda_architecture", "lambda_billed_ms", "node_type", "pod_capacity_rps", "utilisation",
        "by_utilisation", "by_shape", "by_memory_mb", "curve", "run_ids", "catalog_digest",
        "notes",
    ),
    frozenset({"by_utilisation", "by_shape", "by_memory_mb", "curve"}),
)  # fmt: skip
MEMORY_SWEEP = Table(
    "memory_sweep",
    "sweep_id",
    (
        "sweep_id", "target", "memory_mb", "started_at", "finished_at", "profile", "model",
        "vcpus", "status", "reason", "warm_invocations", "cold_invocations", "errors",
        "init_retries", "warm_duration_p50_ms", "warm_duration_p95_ms", "warm_duration_p99_ms",
        "warm_billed_mean_ms", "warm_client_p50_ms", "warm_client_p95_ms", "warm_client_p99_ms",
        "cold_init_p50_ms", "cold_billed_p50_ms", "cold_billed_p95_ms", "cold_billed_p99_ms",
        "cold_client_p50_ms", "cold_client_p95_ms", "cold_client_p99_ms", "max_memory_used_mb",
        "usd_per_invocation", "usd_per_million", "usd_per_cold_invocation", "balance_weight",
        "balanced_score", "best_by_cost", "best_by_speed", "best_balanced", "catalog_digest",
        "detail",
    ),
    frozenset({"detail"}),
)  # fmt: skip
SIMULATION_RESULTS = Table(
    "simulation_results",
    "simulation_id",
    (
        "simulation_id", "simulated_at", "platform", "pattern", "mean_rps", "hours",
        "configuration", "memory_mb", "node_type", "rules", "seed", "requests", "ok", "failed",
        "p50_ms", "p90_ms", "p99_ms", "p999_ms", "p50_ok_ms", "p90_ok_ms", "p99_ok_ms",
        "p999_ok_ms", "cold_starts", "throttles", "gateway_timeouts", "peak_concurrency",
        "peak_replicas", "peak_nodes", "outcomes", "counts", "slo_p99_ms", "slo_met", "total_usd",
        "usd_per_million", "usd_per_month", "cost", "distributions_source", "distributions",
        "settings", "wall_s", "catalog_digest",
    ),
    frozenset({"outcomes", "counts", "cost", "distributions", "settings"}),
)  # fmt: skip
SIMULATION_VALIDATION = Table(
    "simulation_validation",
    "simulation_id",
    (
        "simulation_id", "validated_at", "run_id", "target", "scenario", "metric", "measured",
        "simulated", "low", "high", "passed", "reason",
    ),
)  # fmt: skip
TABLES = {t.name: t for t in (COST_ESTIMATES, COST_BREAKEVEN, MEMORY_SWEEP, SIMULATION_RESULTS,
                              SIMULATION_VALIDATION)}  # fmt: skip

# Per memory size of a Lambda target's latest complete runs of a scenario: whether every run met
# its SLO (run_summary.slo_met: the corrected p99 over every request within the run's bound),
# the worst such p99 and bound, and the largest share of requests a local host limit bent.
SLO_BY_MEMORY_SQL = """
WITH runs AS (
    SELECT run_id FROM latest_runs JOIN benchmark_runs USING (run_id)
    WHERE target = $target AND scenario = $scenario AND profile = $profile
),
memory AS (
    SELECT run_id, CAST(max(memory_mb) AS INTEGER) AS memory_mb
    FROM platform_events JOIN runs USING (run_id)
    WHERE kind = 'report' GROUP BY run_id
)
SELECT m.memory_mb, list(s.run_id ORDER BY s.run_id) AS run_ids,
       bool_and(s.slo_met) AS slo_met, max(s.p99_corrected_ms) AS p99_corrected_ms,
       bool_or(s.p99_is_failure) AS p99_on_failure, max(s.slo_p99_ms) AS slo_p99_ms,
       max(s.host_limited_share) AS host_limited_share
FROM run_summary s JOIN memory m USING (run_id)
GROUP BY m.memory_mb ORDER BY m.memory_mb
"""
# The same verdict for a target whose runs have no memory size (pods).
SLO_OF_RUNS_SQL = """
SELECT list(s.run_id ORDER BY s.run_id) AS run_ids, bool_and(s.slo_met) AS slo_met,
       max(s.p99_corrected_ms) AS p99_corrected_ms, max(s.slo_p99_ms) AS slo_p99_ms,
       max(s.host_limited_share) AS host_limited_share
FROM run_summary s JOIN latest_runs USING (run_id)
WHERE s.target = $target AND s.scenario = $scenario AND s.profile = $profile
"""
LATEST_LOCAL_RUNS_SQL = """
SELECT run_id FROM latest_runs JOIN benchmark_runs USING (run_id)
WHERE target IN ('local-lambda', 'local-k8s')
ORDER BY started_at, run_id
"""


def write(store: MetricStore, table: Table, computation_id: str, rows: Sequence[Mapping]) -> int:
    """Store ``rows`` as computation ``computation_id`` of ``table``; returns the rows written."""
    write_many(store, [(table, rows)], computation_id)
    return len(rows)


def write_many(
    store: MetricStore,
    parts: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]],
    computation_id: str,
) -> None:
    """Several tables' rows of one computation, in one transaction (estimates with their
    break-even, a grid with its validation)."""
    prepared = [
        (table, [_values(table, computation_id, row) for row in rows]) for table, rows in parts
    ]
    with store.connect() as conn:
        conn.execute("BEGIN TRANSACTION")
        try:
            for table, values in prepared:
                conn.execute(
                    f"DELETE FROM {table.name} WHERE {table.id_column} = ?",  # noqa: S608
                    [computation_id],
                )
                if values:
                    marks = ", ".join("?" for _ in table.columns)
                    conn.executemany(
                        f"INSERT INTO {table.name} ({', '.join(table.columns)})"  # noqa: S608
                        f" VALUES ({marks})",
                        values,
                    )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def read_latest(store: MetricStore, table: Table, *, order_by: str | None = None) -> list[dict]:
    """The newest computation of ``table`` (its ``latest_*`` view), JSON columns decoded."""
    if not store.path.exists():
        return []
    order = f" ORDER BY {order_by}" if order_by else ""
    rows = store.query(f"SELECT * FROM {table.latest_view}{order}").to_pylist()  # noqa: S608
    return [_decoded(table, row) for row in rows]


def read_computation(store: MetricStore, table: Table, computation_id: str) -> list[dict]:
    """Every row of one computation, in the table's key order, JSON columns decoded."""
    rows = store.query(
        f"SELECT * FROM {table.name} WHERE {table.id_column} = ? ORDER BY ALL",  # noqa: S608
        [computation_id],
    ).to_pylist()
    return [_decoded(table, row) for row in rows]


def slo_by_memory_size(
    store: MetricStore, target: str, scenario: str, profile: str
) -> dict[int, dict[str, Any]]:
    """Per memory size: run ids, ``slo_met`` of every run, worst corrected p99, host-limited."""
    params = {"target": target, "scenario": scenario, "profile": profile}
    rows = store.query(SLO_BY_MEMORY_SQL, params).to_pylist()
    return {int(row["memory_mb"]): row for row in rows}


def slo_of_runs(store: MetricStore, target: str, scenario: str, profile: str) -> dict[str, Any]:
    """The SLO verdict over a target's latest complete runs of a scenario (any platform)."""
    params = {"target": target, "scenario": scenario, "profile": profile}
    return store.query(SLO_OF_RUNS_SQL, params).to_pylist()[0]


def latest_local_run_ids(store: MetricStore) -> list[str]:
    """Every run of the latest complete series of each local cell, oldest first."""
    if not store.path.exists():
        return []
    return store.query(LATEST_LOCAL_RUNS_SQL).column("run_id").to_pylist()


def _values(table: Table, computation_id: str, row: Mapping[str, Any]) -> list[Any]:
    unknown = sorted(set(row) - set(table.columns))
    if unknown:
        raise StoreError(f"{table.name} has no column {', '.join(unknown)}")
    given = row.get(table.id_column, computation_id)
    if given != computation_id:
        raise StoreError(f"a {table.name} row of {given!r} written as {computation_id!r}")
    values = {**row, table.id_column: computation_id}
    return [
        _json(values.get(c)) if c in table.json_columns and c in values else values.get(c)
        for c in table.columns
    ]


def _json(value: Any) -> str:
    """JSON text; a non-finite number (which JSON cannot carry) becomes null."""
    return json.dumps(_finite(value), allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _decoded(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    for column in table.json_columns:
        if isinstance(row.get(column), str):
            row[column] = json.loads(row[column])
    return row
