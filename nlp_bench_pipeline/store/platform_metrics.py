"""What each platform did during a run, from ``platform_events`` and ``resource_samples``.

One row per run: cold starts and their init time, Lambda's billed time and GB-seconds (from the
REPORT records, as the bill is computed), throttles, timeouts by where they happened (a gateway
timeout and the function timeout of the same request are two events), crashes, evictions; pods,
scale events and nodes on Kubernetes; peak CPU and memory per environment.

These cover the whole run: the pipeline's warming request and the warm-up phase included, unlike
``run_summary`` (measure phase only). Divide billed time by the run's invocations (``report``
events), not by ``run_summary.requests``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore

PLATFORM_METRICS_SQL = """
WITH events AS (
    SELECT * FROM platform_events WHERE list_contains($run_ids, run_id)
),
per_run_events AS (
    SELECT
        run_id,
        count(*) FILTER (WHERE kind = 'cold_start') AS cold_starts,
        quantile_cont(init_ms, 0.5) FILTER (WHERE kind = 'cold_start') AS init_p50_ms,
        max(init_ms) FILTER (WHERE kind = 'cold_start') AS init_max_ms,
        count(*) FILTER (WHERE kind = 'report') AS invocations,
        sum(billed_ms) FILTER (WHERE kind = 'report') AS billed_ms,
        sum(billed_ms * memory_mb / 1024.0 / 1000.0) FILTER (WHERE kind = 'report')
            AS billed_gb_s,
        max(max_memory_mb) FILTER (WHERE kind = 'report') AS max_memory_used_mb,
        count(*) FILTER (WHERE kind = 'throttle') AS throttles,
        count(*) FILTER (WHERE kind = 'timeout' AND detail->>'$.scope' = 'gateway')
            AS gateway_timeouts,
        count(*) FILTER (WHERE kind = 'timeout' AND detail->>'$.scope' = 'function')
            AS function_timeouts,
        count(*) FILTER (WHERE kind = 'timeout' AND detail->>'$.scope' = 'init') AS init_timeouts,
        count(*) FILTER (WHERE kind = 'crash') AS crashes,
        count(*) FILTER (WHERE kind = 'evict') AS evictions,
        count(DISTINCT environment_id) FILTER (WHERE kind IN ('cold_start', 'pod_ready'))
            AS environments_started,
        count(*) FILTER (WHERE kind = 'pod_ready') AS pods_ready,
        quantile_cont(init_ms, 0.5) FILTER (WHERE kind = 'pod_ready') AS pod_ready_p50_ms,
        count(*) FILTER (WHERE kind = 'pod_restarted') AS pod_restarts,
        count(*) FILTER (WHERE kind = 'scale_out') AS scale_outs,
        count(*) FILTER (WHERE kind = 'scale_in') AS scale_ins,
        count(*) FILTER (WHERE kind = 'node_added') AS nodes_added
    FROM events
    GROUP BY run_id
),
per_environment AS (
    SELECT run_id, environment_id, max(cpu_pct) AS peak_cpu_pct, max(rss_mb) AS peak_rss_mb,
           avg(cpu_pct) AS mean_cpu_pct
    FROM resource_samples WHERE list_contains($run_ids, run_id)
    GROUP BY ALL
),
per_run_samples AS (
    SELECT run_id, count(*) AS environments_sampled, max(peak_cpu_pct) AS peak_cpu_pct,
           max(peak_rss_mb) AS peak_rss_mb, sum(mean_cpu_pct) AS mean_total_cpu_pct
    FROM per_environment GROUP BY run_id
)
SELECT r.run_id, r.target, r.scenario, r.repetition, r.profile, e.* EXCLUDE (run_id),
       s.* EXCLUDE (run_id)
FROM benchmark_runs r
LEFT JOIN per_run_events e USING (run_id)
LEFT JOIN per_run_samples s USING (run_id)
WHERE list_contains($run_ids, r.run_id)
ORDER BY r.target, r.scenario, r.repetition
"""


def platform_figures(store: MetricStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One row of platform figures per run in ``run_ids``."""
    return store.query(PLATFORM_METRICS_SQL, {"run_ids": list(run_ids)}).to_pylist()


def latest_run_ids(store: MetricStore) -> list[str]:
    """Every run of the latest complete series per (target, scenario, profile)."""
    return (
        store.query("SELECT run_id FROM latest_runs ORDER BY run_id").column("run_id").to_pylist()
    )
