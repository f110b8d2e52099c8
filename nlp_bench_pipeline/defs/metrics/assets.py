"""[metrics] Summaries over the latest complete run of every cell, for people and for charts."""

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.resources import MetricStoreResource
from nlp_bench_pipeline.lib.tables import markdown_table
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.store.database import SCENARIO_SUMMARY_SQL
from nlp_bench_pipeline.store.platform_metrics import latest_run_ids, platform_figures

SUMMARY_VERSION = source_version("nlp_bench_pipeline/store")
SUMMARY_COLUMNS = {
    "target": "target",
    "scenario": "scenario",
    "profile": "profile",
    "repetitions": "runs",
    "p50_ms_mean": "p50 ms",
    "p99_ms_mean": "p99 ms",
    "p99_ms_ci95": "p99 ±95%",
    "p99_corrected_ms_mean": "p99 corrected ms",
    "p99_ok_ms_mean": "p99 ok-only ms",
    "offered_rps_mean": "offered req/s",
    "throughput_rps_mean": "req/s",
    "failed_share_mean": "failed",
    "cold_starts_mean": "cold starts",
    "host_limited_share_mean": "host-limited",
    "slo_met_all": "SLO met",
}
REFUSED_COLUMNS = ("run_id", "check_name", "description")
PLATFORM_COLUMNS = (
    "target",
    "scenario",
    "repetition",
    "cold_starts",
    "init_p50_ms",
    "invocations",
    "billed_gb_s",
    "throttles",
    "gateway_timeouts",
    "function_timeouts",
    "init_timeouts",
    "crashes",
    "evictions",
    "environments_started",
    "pods_ready",
    "scale_outs",
    "scale_ins",
    "nodes_added",
    "peak_cpu_pct",
    "peak_rss_mb",
)


@dg.asset(
    deps=[load_test_run],
    group_name="metrics",
    kinds={"duckdb"},
    code_version=SUMMARY_VERSION,
    description="Mean and 95 % interval over the repetitions of the latest complete series of "
    "every (target, scenario, profile): the `scenario_summary` view over the per-run "
    "`run_summary` view (query either in DuckDB).",
)
def run_summary(
    context: dg.AssetExecutionContext, duckdb: MetricStoreResource
) -> dg.MaterializeResult:
    store = duckdb.get_store()
    rows = store.scenario_summary()
    refused = store.refused_runs()
    context.log.info(f"{len(rows)} cells have a complete series")
    for run in refused:
        context.log.warning(f"left out {run['run_id']}: {run['check_name']}: {run['description']}")
    return dg.MaterializeResult(
        metadata={
            "cells": len(rows),
            "summary": dg.MetadataValue.md(markdown_table(rows, SUMMARY_COLUMNS)),
            "refused_runs": dg.MetadataValue.md(
                markdown_table(refused, REFUSED_COLUMNS) if refused else "none"
            ),
            "database": dg.MetadataValue.path(duckdb.database),
            "query": dg.MetadataValue.md(f"```sql\n{SCENARIO_SUMMARY_SQL};\n```"),
        }
    )


@dg.asset(
    deps=[load_test_run],
    group_name="metrics",
    kinds={"duckdb"},
    code_version=SUMMARY_VERSION,
    description="What each platform did in the latest complete runs: cold starts and init "
    "time, billed GB-seconds, throttles, timeouts, evictions, pods, scale events, nodes, peaks.",
)
def platform_metrics(
    context: dg.AssetExecutionContext, duckdb: MetricStoreResource
) -> dg.MaterializeResult:
    store = duckdb.get_store()
    rows = platform_figures(store, latest_run_ids(store))
    context.log.info(f"platform figures for {len(rows)} runs")
    return dg.MaterializeResult(
        metadata={
            "runs": len(rows),
            "platform": dg.MetadataValue.md(markdown_table(rows, PLATFORM_COLUMNS)),
            "database": dg.MetadataValue.path(duckdb.database),
        }
    )
