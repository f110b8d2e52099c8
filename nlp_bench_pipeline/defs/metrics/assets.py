"""[metrics] Summaries over the latest complete run of every cell, for people and for charts."""

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.resources import MetricStoreResource
from nlp_bench_pipeline.lib.metadata import result_table
from nlp_bench_pipeline.lib.tables import ResultColumn
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.store.database import SCENARIO_SUMMARY_SQL
from nlp_bench_pipeline.store.platform_metrics import latest_run_ids, platform_figures

SUMMARY_VERSION = source_version("nlp_bench_pipeline/store")
SUMMARY_COLUMNS = (
    ResultColumn("target", "target"),
    ResultColumn("scenario", "scenario"),
    ResultColumn("profile", "profile"),
    ResultColumn("repetitions", "runs", "count"),
    ResultColumn("p50_ms_mean", "p50 ms", "ms", "every request, failures ranked slowest"),
    ResultColumn("p99_ms_mean", "p99 ms", "ms", "empty where a p99 is a failed request"),
    ResultColumn("p99_ms_ci95", "p99 ±95% ms", "ms"),
    ResultColumn("p99_on_failure_runs", "runs with p99 a failure", "count"),
    ResultColumn("p99_ok_ms_mean", "p99 ok-only ms", "ms"),
    ResultColumn("offered_rps_mean", "offered req/s", "rps"),
    ResultColumn("throughput_rps_mean", "ok req/s", "rps"),
    ResultColumn("failed_share_mean", "failed", "share"),
    ResultColumn("cold_starts_mean", "cold starts", "number"),
    ResultColumn("host_limited_share_mean", "host-limited", "share"),
    ResultColumn("slo_met_all", "SLO met", "bool"),
)
REFUSED_COLUMNS = (
    ResultColumn("run_id", "run"),
    ResultColumn("check_name", "check"),
    ResultColumn("description", "why"),
)
PLATFORM_COLUMNS = (
    ResultColumn("target", "target"),
    ResultColumn("scenario", "scenario"),
    ResultColumn("profile", "profile"),
    ResultColumn("repetition", "rep", "count"),
    ResultColumn("cold_starts", "cold starts", "count"),
    ResultColumn("init_p50_ms", "init p50 ms", "ms"),
    ResultColumn("invocations", "invocations", "count"),
    ResultColumn("billed_gb_s", "billed GB-s", "number"),
    ResultColumn("throttles", "throttles", "count"),
    ResultColumn("gateway_timeouts", "gateway timeouts", "count"),
    ResultColumn("function_timeouts", "function timeouts", "count"),
    ResultColumn("init_timeouts", "init timeouts", "count"),
    ResultColumn("crashes", "crashes", "count"),
    ResultColumn("evictions", "evictions", "count"),
    ResultColumn("environments_started", "environments", "count"),
    ResultColumn("pods_ready", "pods ready", "count"),
    ResultColumn("scale_outs", "scale-outs", "count"),
    ResultColumn("scale_ins", "scale-ins", "count"),
    ResultColumn("nodes_added", "nodes added", "count"),
    ResultColumn("peak_cpu_pct", "peak CPU %", "number"),
    ResultColumn("peak_rss_mb", "peak RSS MB", "number"),
)


@dg.asset(
    deps=[load_test_run],
    group_name="metrics",
    kinds={"duckdb"},
    code_version=SUMMARY_VERSION,
    description="Mean and 95 % interval over the repetitions of the latest complete series of "
    "every (target, scenario, profile): the `scenario_summary` view over the per-run "
    "`run_summary` view (query either in DuckDB). Look at the `summary` table: p99 over every "
    "request (empty where it lands on a failure; `p99 ok-only ms` beside it), offered vs ok "
    "req/s, the failed share, cold starts, the host-limited share and `SLO met`, one row per "
    "profile; `refused_runs` lists runs a blocking check left out.",
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
            "summary": result_table(rows, SUMMARY_COLUMNS),
            "refused_runs": result_table(refused, REFUSED_COLUMNS),
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
    "time, billed GB-seconds, throttles, timeouts, evictions, pods, scale events, nodes, peaks. "
    "Look at the `platform` table (scroll it sideways: Lambda's columns first, then the pods', "
    "scale events and nodes): throttles and gateway timeouts explain failed requests, init p50 "
    "the cold starts, peak CPU and RSS what an environment or pod used.",
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
            "platform": result_table(rows, PLATFORM_COLUMNS),
            "database": dg.MetadataValue.path(duckdb.database),
        }
    )
