"""Checks on each ``load_test_run`` partition, read back from DuckDB.

Row counts are blocking: rows that do not match the schedule must not reach the summaries. Error
rate and the p99 SLO are results, not data faults: they fail loudly but do not block; nor does a
host that other processes kept busy (``quiet_host``), which marks the run without hiding it.
"""

from collections.abc import Callable

import dagster as dg

from nlp_bench_pipeline.bench.checks import (
    CheckOutcome,
    error_rate_within,
    host_quiet,
    p99_within_slo,
    rows_match_schedule,
)
from nlp_bench_pipeline.bench.host_load import FOREIGN_LOAD_BOUND
from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.partitions import cell_partitions
from nlp_bench_pipeline.defs.resources import BenchmarkConfig, MetricStoreResource
from nlp_bench_pipeline.lib.asset_support import cell_of
from nlp_bench_pipeline.store.database import CheckVerdict


def _result(outcome: CheckOutcome, run_ids: list[str], *, blocking: bool) -> dg.AssetCheckResult:
    """ERROR for broken data (a blocking check), WARN for a result that missed its bound.

    A platform that misses its SLO is a finding of the benchmark, not a failure of the pipeline:
    the UI shows it as a warning, and the run stays green.
    """
    return dg.AssetCheckResult(
        passed=outcome.passed,
        description=outcome.description,
        severity=dg.AssetCheckSeverity.ERROR if blocking else dg.AssetCheckSeverity.WARN,
        metadata={**outcome.metadata, "run_ids": run_ids},
    )


def _judge(
    context: dg.AssetCheckExecutionContext,
    duckdb: MetricStoreResource,
    check: Callable[..., CheckOutcome],
    *bound_for: Callable[[str], float],
) -> dg.AssetCheckResult:
    """Apply ``check`` to the partition's latest series, with the scenario's bound if it has one.

    The verdict is also stored with the runs (``run_checks``): the summaries run in later Dagster
    runs, so a blocking check blocks them through the store, which leaves refused runs out.
    """
    cell = cell_of(context.partition_key)
    store = duckdb.get_store()
    run_ids = store.latest_series(cell.target, cell.scenario)
    bounds = [bound(cell.scenario) for bound in bound_for]
    outcome = check(store, run_ids, *bounds)
    spec = context.check_specs[0]
    store.record_checks(
        run_ids, [CheckVerdict(spec.name, spec.blocking, outcome.passed, outcome.description)]
    )
    return _result(outcome, run_ids, blocking=spec.blocking)


@dg.asset_check(
    asset=load_test_run,
    partitions_def=cell_partitions,
    blocking=True,
    description="Every scheduled request is exactly one row, and the schedule equals Locust's "
    "own request count plus the dropped ones.",
)
def rows_equal_scheduled(
    context: dg.AssetCheckExecutionContext, duckdb: MetricStoreResource
) -> dg.AssetCheckResult:
    return _judge(context, duckdb, rows_match_schedule)


@dg.asset_check(
    asset=load_test_run,
    partitions_def=cell_partitions,
    description="Errors plus dropped requests stay under the scenario's bound (the bench "
    "resource's max_error_rate).",
)
def error_rate_bound(
    context: dg.AssetCheckExecutionContext, duckdb: MetricStoreResource, bench: BenchmarkConfig
) -> dg.AssetCheckResult:
    return _judge(context, duckdb, error_rate_within, bench.plan().error_bound_for)


@dg.asset_check(
    asset=load_test_run,
    partitions_def=cell_partitions,
    description="MLPerf-style pass/fail: the corrected p99 is within the scenario's SLO bound "
    "(the bench resource's slo_p99_ms).",
)
def p99_slo(
    context: dg.AssetCheckExecutionContext, duckdb: MetricStoreResource, bench: BenchmarkConfig
) -> dg.AssetCheckResult:
    return _judge(context, duckdb, p99_within_slo, bench.plan().slo_for)


@dg.asset_check(
    asset=load_test_run,
    partitions_def=cell_partitions,
    description="On a local target, processes outside the run took at most "
    f"{FOREIGN_LOAD_BOUND:.0%} of the host's CPU while it ran (foreign load bends a local "
    "platform's figures; docs/adr/0037).",
)
def quiet_host(
    context: dg.AssetCheckExecutionContext, duckdb: MetricStoreResource
) -> dg.AssetCheckResult:
    return _judge(context, duckdb, host_quiet)
