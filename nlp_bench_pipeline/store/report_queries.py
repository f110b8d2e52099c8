"""The SQL behind the charts, the HTML report and the analysis' facts: aggregates, bounded.

Every chart reads a few hundred rows at most, whatever the run's length: latencies are bucketed
in time (at most ``max_buckets`` per run), distributions are quantiles on a fixed grid, events
are counted per bucket, and the economics tables are read only where they exist (another stage
writes them; ``economics_tables`` asks ``information_schema``). Times are seconds from each
run's first scheduled request (``intended_at``), so runs of one cell line up.

What the rows mean is documented where they are drawn (``nlp_bench_pipeline/report/``); the
columns they come from are in docs/schema.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore

ECONOMICS_TABLES = ("cost_estimates", "cost_breakeven", "memory_sweep", "simulation_results")
LIVE_COMPARISONS_TABLE = "live_comparisons"
DEFAULT_MAX_BUCKETS = 120
# Event kinds marked on the latency timeline: what a reader looks for behind a spike.
MARKED_EVENTS = (
    "cold_start",
    "throttle",
    "timeout",
    "crash",
    "evict",
    "scale_out",
    "scale_in",
    "pod_ready",
    "node_added",
)

# The runs a report covers, with what the report says about each beyond run_summary.
REPORT_RUNS_SQL = """
SELECT s.*,
       b.* EXCLUDE (run_id, target, scenario, repetition, profile, dropped,
                    time_to_first_success_ms, slo_p99_ms, generator_tally)
FROM run_summary s
JOIN latest_runs USING (run_id)
JOIN benchmark_runs b USING (run_id)
WHERE $profile IS NULL OR s.profile = $profile
ORDER BY s.scenario, s.target, s.repetition
"""

NEWEST_PROFILE_SQL = """
SELECT b.profile FROM latest_runs JOIN benchmark_runs b USING (run_id)
ORDER BY b.finished_at DESC LIMIT 1
"""

_ORIGINS = """
origins AS (
    SELECT run_id, min(epoch(intended_at)) AS t0,
           max(epoch(coalesce(done_at, intended_at))) - min(epoch(intended_at)) AS span_s
    FROM requests WHERE list_contains($run_ids, run_id) GROUP BY run_id
),
buckets AS (
    SELECT run_id, t0, span_s,
           greatest($min_bucket_s, ceil(span_s / $max_buckets)) AS width_s
    FROM origins
)
"""

LATENCY_BUCKETS_SQL = f"""
WITH {_ORIGINS}
SELECT q.run_id,
       floor((epoch(q.intended_at) - b.t0) / b.width_s) * b.width_s AS t_s,
       any_value(b.width_s) AS bucket_s,
       count(*) AS requests,
       count(*) FILTER (WHERE q.ok) AS ok,
       count(*) FILTER (WHERE NOT q.ok) AS failed,
       count(*) FILTER (WHERE q.cold_start) AS cold_starts,
       bool_or(q.phase = 'measure') AS measured,
       quantile_cont(q.corrected_latency_ms, 0.5) FILTER (WHERE q.ok) AS p50_ms,
       quantile_cont(q.corrected_latency_ms, 0.99) FILTER (WHERE q.ok) AS p99_ms
FROM requests q JOIN buckets b USING (run_id)
GROUP BY q.run_id, t_s
ORDER BY q.run_id, t_s
"""  # noqa: S608 - composed of this module's constants

PHASE_STARTS_SQL = f"""
WITH {_ORIGINS}
SELECT q.run_id, min(epoch(q.intended_at)) - any_value(b.t0) AS measure_start_s,
       any_value(b.span_s) AS span_s
FROM requests q JOIN buckets b USING (run_id)
WHERE q.phase = 'measure'
GROUP BY q.run_id
"""  # noqa: S608 - composed of this module's constants

EVENT_MARKS_SQL = f"""
WITH {_ORIGINS}
SELECT e.run_id, e.kind,
       floor((epoch(e."at") - b.t0) / b.width_s) * b.width_s AS t_s,
       count(*) AS events
FROM platform_events e JOIN buckets b USING (run_id)
WHERE list_contains($kinds, e.kind)
  AND epoch(e."at") BETWEEN b.t0 AND b.t0 + b.span_s
GROUP BY ALL
ORDER BY e.run_id, t_s, e.kind
"""  # noqa: S608 - composed of this module's constants

THROUGHPUT_BUCKETS_SQL = f"""
WITH {_ORIGINS}
SELECT q.run_id,
       floor((epoch(q.intended_at) - b.t0) / b.width_s) * b.width_s AS t_s,
       any_value(b.width_s) AS bucket_s,
       count(*) / any_value(b.width_s) AS offered_rps,
       count(*) FILTER (WHERE q.ok) / any_value(b.width_s) AS served_rps
FROM requests q JOIN buckets b USING (run_id)
WHERE q.phase = 'measure'
GROUP BY q.run_id, t_s
ORDER BY q.run_id, t_s
"""  # noqa: S608 - composed of this module's constants

# Quantiles of the successes' corrected latency; the caller scales the probabilities by the
# share that succeeded, so the curve tops out below 1 where requests failed.
LATENCY_QUANTILES_SQL = """
SELECT run_id, count(*) AS requests, count(*) FILTER (WHERE ok) AS ok,
       quantile_cont(corrected_latency_ms, $probabilities) FILTER (WHERE ok) AS quantiles_ms
FROM requests
WHERE list_contains($run_ids, run_id) AND phase = 'measure'
GROUP BY run_id
ORDER BY run_id
"""

# Where an ok request's time went, on average: inside the service process (timing.server_ms),
# split into its wait for the inference thread (queue_ms), the forward pass (inference_ms) and
# the rest (parsing, the envelope), and outside it (latency − server_ms: gateway, proxy,
# network, any wait for an environment). Runs stored before the split have no queue/inference.
SERVICE_SPLIT_SQL = """
SELECT run_id, cold_start, count(*) AS requests,
       avg(latency_ms) AS latency_mean_ms,
       avg(server_ms) AS server_mean_ms,
       avg(queue_ms) AS queue_mean_ms,
       avg(inference_ms) AS inference_mean_ms,
       avg(latency_ms - server_ms) AS outside_mean_ms
FROM requests
WHERE list_contains($run_ids, run_id) AND phase = 'measure' AND ok AND server_ms IS NOT NULL
GROUP BY ALL
ORDER BY run_id, cold_start
"""

# Lambda-style: each measured ok cold request with the init it waited on (its environment's
# latest cold start before it ended, as run_summary matches them); means add up exactly.
COLD_REQUEST_PARTS_SQL = """
WITH cold AS (
    SELECT q.run_id, q.seq, q.latency_ms, q.server_ms, e.init_ms,
           coalesce(CAST(e.detail->>'$.init_wait_ms' AS DOUBLE), 0) AS wait_ms
    FROM requests q
    JOIN platform_events e
      ON e.run_id = q.run_id AND e.kind = 'cold_start' AND e.environment_id = q.environment_id
     AND e."at" <= q.done_at
    WHERE list_contains($run_ids, q.run_id) AND q.phase = 'measure' AND q.ok AND q.cold_start
    QUALIFY row_number() OVER (PARTITION BY q.run_id, q.seq ORDER BY e."at" DESC) = 1
)
SELECT run_id, count(*) AS cold_requests,
       avg(latency_ms) AS latency_mean_ms, avg(wait_ms) AS wait_mean_ms,
       avg(init_ms) AS init_mean_ms, avg(server_ms) AS server_mean_ms
FROM cold GROUP BY run_id ORDER BY run_id
"""

# k8s-style: the deploy's first pod — its wait for a node and its start → ready.
FIRST_POD_SQL = """
SELECT run_id, init_ms AS ready_ms,
       coalesce(CAST(detail->>'$.pending_ms' AS DOUBLE), 0) AS pending_ms
FROM platform_events
WHERE list_contains($run_ids, run_id) AND kind = 'pod_ready'
QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY "at") = 1
"""

# Capacity over time: Lambda-style environments from their first init to an eviction or crash;
# k8s-style pods from each pod_ready to the pod's next kill or restart. One +1/−1 per change.
CAPACITY_STEPS_SQL = f"""
WITH {_ORIGINS},
lambda_envs AS (
    SELECT run_id, environment_id,
           min("at") FILTER (WHERE kind = 'init_start') AS start_at,
           min("at") FILTER (WHERE kind IN ('evict', 'crash')) AS end_at
    FROM platform_events
    WHERE list_contains($run_ids, run_id) AND kind IN ('init_start', 'evict', 'crash')
    GROUP BY ALL
),
pod_changes AS (
    SELECT run_id, environment_id, kind, "at",
           lead("at") OVER (PARTITION BY run_id, environment_id ORDER BY "at") AS next_at
    FROM platform_events
    WHERE list_contains($run_ids, run_id) AND kind IN ('pod_ready', 'pod_killed', 'pod_restarted')
),
intervals AS (
    SELECT run_id, 'environments' AS measure, start_at, end_at
    FROM lambda_envs WHERE start_at IS NOT NULL
    UNION ALL
    SELECT run_id, 'pods ready', "at", next_at FROM pod_changes WHERE kind = 'pod_ready'
),
changes AS (
    SELECT run_id, measure, start_at AS "at", 1 AS delta FROM intervals
    UNION ALL
    SELECT run_id, measure, end_at, -1 FROM intervals WHERE end_at IS NOT NULL
)
SELECT c.run_id, c.measure, epoch(c."at") - b.t0 AS t_s,
       sum(c.delta) OVER (PARTITION BY c.run_id, c.measure ORDER BY c."at", c.delta
                          ROWS UNBOUNDED PRECEDING) AS value
FROM changes c JOIN buckets b USING (run_id)
ORDER BY c.run_id, c.measure, t_s
"""  # noqa: S608 - composed of this module's constants

# Requests in flight (sent, not yet answered): the concurrency the platform was asked for —
# Lambda's ConcurrentExecutions — as the peak per time bucket.
IN_FLIGHT_SQL = f"""
WITH {_ORIGINS},
edges AS (
    SELECT run_id, epoch(sent_at) AS t, 1 AS delta FROM requests
    WHERE list_contains($run_ids, run_id) AND sent_at IS NOT NULL
    UNION ALL
    SELECT run_id, epoch(done_at), -1 FROM requests
    WHERE list_contains($run_ids, run_id) AND done_at IS NOT NULL
),
running AS (
    SELECT run_id, t,
           sum(delta) OVER (PARTITION BY run_id ORDER BY t, delta ROWS UNBOUNDED PRECEDING)
               AS in_flight
    FROM edges
)
SELECT r.run_id, floor((r.t - b.t0) / b.width_s) * b.width_s AS t_s, max(r.in_flight) AS value
FROM running r JOIN buckets b USING (run_id)
GROUP BY ALL
ORDER BY r.run_id, t_s
"""  # noqa: S608 - composed of this module's constants

# The N slowest ok requests of each run's measure phase, and how many waited on an init or met a
# host limit: "9 of the 10 slowest requests waited on an init".
SLOWEST_REQUESTS_SQL = """
WITH ranked AS (
    SELECT run_id, cold_start, host_limit,
           row_number() OVER (PARTITION BY run_id ORDER BY corrected_latency_ms DESC) AS rank
    FROM requests
    WHERE list_contains($run_ids, run_id) AND phase = 'measure' AND ok
)
SELECT run_id, count(*) AS requests, count(*) FILTER (WHERE cold_start) AS cold_starts,
       count(*) FILTER (WHERE host_limit IS NOT NULL) AS host_limited
FROM ranked WHERE rank <= $n
GROUP BY run_id ORDER BY run_id
"""


def _run_params(
    run_ids: Sequence[str], max_buckets: int, min_bucket_s: float = 1.0
) -> dict[str, Any]:
    return {"run_ids": list(run_ids), "max_buckets": max_buckets, "min_bucket_s": min_bucket_s}


def newest_profile(store: MetricStore) -> str | None:
    """The profile of the most recently finished run among the latest complete series."""
    if not store.path.exists():
        return None
    rows = store.query(NEWEST_PROFILE_SQL).to_pylist()
    return rows[0]["profile"] if rows else None


def report_runs(store: MetricStore, profile: str | None) -> list[dict[str, Any]]:
    """``run_summary`` of the latest complete runs (of ``profile``) with their provenance,
    configuration, host details and measure length from ``benchmark_runs``."""
    if not store.path.exists():
        return []
    return store.query(REPORT_RUNS_SQL, {"profile": profile}).to_pylist()


def latency_buckets(
    store: MetricStore, run_ids: Sequence[str], max_buckets: int = DEFAULT_MAX_BUCKETS
) -> list[dict[str, Any]]:
    """Per run and time bucket: requests, ok, failed, cold starts, the ok p50/p99 (corrected)."""
    return store.query(LATENCY_BUCKETS_SQL, _run_params(run_ids, max_buckets)).to_pylist()


def measure_starts(
    store: MetricStore, run_ids: Sequence[str], max_buckets: int = DEFAULT_MAX_BUCKETS
) -> list[dict[str, Any]]:
    """Per run: when its measure phase began (seconds from its first request), and its span."""
    return store.query(PHASE_STARTS_SQL, _run_params(run_ids, max_buckets)).to_pylist()


def event_marks(
    store: MetricStore,
    run_ids: Sequence[str],
    kinds: Sequence[str] = MARKED_EVENTS,
    max_buckets: int = DEFAULT_MAX_BUCKETS,
) -> list[dict[str, Any]]:
    """Platform events of ``kinds`` while requests ran, counted per kind and time bucket."""
    params = {**_run_params(run_ids, max_buckets), "kinds": list(kinds)}
    return store.query(EVENT_MARKS_SQL, params).to_pylist()


def throughput_buckets(
    store: MetricStore, run_ids: Sequence[str], max_buckets: int = 30
) -> list[dict[str, Any]]:
    """Per run and bucket of the measure phase: offered and served (ok) requests per second."""
    return store.query(THROUGHPUT_BUCKETS_SQL, _run_params(run_ids, max_buckets)).to_pylist()


def latency_quantiles(
    store: MetricStore, run_ids: Sequence[str], probabilities: Sequence[float]
) -> list[dict[str, Any]]:
    """Per run: requests, ok, and the ok corrected latency at each of ``probabilities``."""
    params = {"run_ids": list(run_ids), "probabilities": list(probabilities)}
    return store.query(LATENCY_QUANTILES_SQL, params).to_pylist()


def service_split(store: MetricStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per run, cold and warm: mean latency of ok requests, inside and outside the service."""
    return store.query(SERVICE_SPLIT_SQL, {"run_ids": list(run_ids)}).to_pylist()


def cold_request_parts(store: MetricStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per run: the mean latency of its ok cold requests and of its parts (wait, init, server)."""
    return store.query(COLD_REQUEST_PARTS_SQL, {"run_ids": list(run_ids)}).to_pylist()


def first_pods(store: MetricStore, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Per k8s-style run: its first pod's wait for a node and its start → ready."""
    return store.query(FIRST_POD_SQL, {"run_ids": list(run_ids)}).to_pylist()


def capacity_steps(
    store: MetricStore, run_ids: Sequence[str], max_buckets: int = DEFAULT_MAX_BUCKETS
) -> list[dict[str, Any]]:
    """Per run: each change in environments alive (Lambda-style) or pods ready (k8s-style)."""
    return store.query(CAPACITY_STEPS_SQL, _run_params(run_ids, max_buckets)).to_pylist()


def in_flight_peaks(
    store: MetricStore, run_ids: Sequence[str], max_buckets: int = DEFAULT_MAX_BUCKETS
) -> list[dict[str, Any]]:
    """Per run and time bucket: the most requests in flight at once."""
    return store.query(IN_FLIGHT_SQL, _run_params(run_ids, max_buckets)).to_pylist()


def slowest_requests(
    store: MetricStore, run_ids: Sequence[str], n: int = 10
) -> list[dict[str, Any]]:
    """Per run: how many of its ``n`` slowest ok requests were cold starts or host-limited."""
    return store.query(SLOWEST_REQUESTS_SQL, {"run_ids": list(run_ids), "n": n}).to_pylist()


def tables_present(store: MetricStore, names: Sequence[str]) -> set[str]:
    """Which of ``names`` exist as tables or views in the store."""
    if not store.path.exists():
        return set()
    table = store.query(
        "SELECT table_name FROM information_schema.tables WHERE list_contains($names, table_name)",
        {"names": list(names)},
    )
    return set(table.column("table_name").to_pylist())


def economics_tables(store: MetricStore) -> set[str]:
    """The economics stage's tables that this store has (none before it has run)."""
    return tables_present(store, ECONOMICS_TABLES)


def latest_rows(store: MetricStore, table: str, limit: int = 2_000) -> list[dict[str, Any]]:
    """Up to ``limit`` rows of an economics table's newest computation (its ``latest_*`` view)."""
    if table not in ECONOMICS_TABLES:
        raise ValueError(f"{table!r} is not an economics table: one of {ECONOMICS_TABLES}")
    sql = f"SELECT * FROM latest_{table} LIMIT $limit"  # noqa: S608 - table from the allowlist
    return store.query(sql, {"limit": limit}).to_pylist()


LIVE_COMPARISON_COLUMNS = (
    "comparison_id",
    "target",
    "sent_at",
    "text",
    "ok",
    "label",
    "score",
    "first_attempt_ms",
    "first_status",
    "first_label",
    "attempts",
    "attempt_labels",
    "time_to_first_success_ms",
    "environment_id",
    "cold_start",
    "cold_start_header",
    "model_digest",
    "error",
)


def record_live_comparison(store: MetricStore, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert one comparison's rows, one per target (a comparison id again replaces them)."""
    columns = ", ".join(LIVE_COMPARISON_COLUMNS)
    marks = ", ".join("?" for _ in LIVE_COMPARISON_COLUMNS)
    with store.connect() as conn:
        conn.executemany(
            f"INSERT OR REPLACE INTO {LIVE_COMPARISONS_TABLE} ({columns}) VALUES ({marks})",  # noqa: S608
            [[row[c] for c in LIVE_COMPARISON_COLUMNS] for row in rows],
        )
