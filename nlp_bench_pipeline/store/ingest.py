"""Loading one run into the store: its row files, the target's events and samples, one transaction.

A retried run replaces its own ``run_id`` (delete, then insert, in the same transaction), so a
reader sees the old run or the new one, never a mix, and a writer killed half-way leaves the file
as it was. Rows go in bulk — ``read_parquet`` over the runner's files, Arrow tables for events and
samples — never one by one. Derived columns (latencies, the cold-start flag) are computed here in
SQL, once, so every query agrees on them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from nlp_bench_pipeline.core.records import K8S_STYLE_TARGETS, PlatformEvent, ResourceSample
from nlp_bench_pipeline.core.runs import RunRecord

RUN_TABLES = ("requests", "platform_events", "resource_samples", "benchmark_runs")
_UTC_US = pa.timestamp("us", tz="UTC")

# On k8s-style targets the x-nlp-bench-cold-start header does not mean "waited on an init":
# readiness gates traffic, so no request waits on one and scale-out shows as events.
INSERT_REQUESTS = """
INSERT INTO requests (
    run_id, seq, phase, intended_at, sent_at, done_at, latency_ms, corrected_latency_ms,
    send_lateness_ms, outcome, status_code, ok, error, cold_start, environment_id,
    gateway_request_id, input_tokens, server_ms, payload_tokens, worker, queue_ms, inference_ms
)
SELECT
    $run_id, seq, phase,
    to_timestamp(intended_s), to_timestamp(sent_s), to_timestamp(done_s),
    (done_s - sent_s) * 1000.0,
    (done_s - intended_s) * 1000.0,
    (coalesce(sent_s, unblocked_s) - intended_s) * 1000.0,
    outcome, status_code, outcome = 'ok', error,
    CASE WHEN $k8s_style THEN false ELSE coalesce(cold_start_header, false) END,
    environment_id, gateway_request_id, input_tokens, server_ms, payload_tokens, worker,
    queue_ms, inference_ms
FROM read_parquet($files, union_by_name = true)
"""

# A request that failed with the gateway's timeout (503/504) or the client's while an init it
# triggered was still running waited on a cold start, though no response could say so.
#
# By id, when the platform says so: a gateway `timeout` event with `waited_on_init` names the
# request by the gateway's request id, which the runner records from the response header.
# The gateway answered before the environment did, so the row has no environment id: it is
# taken from the event, so the request counts against the environment whose init it waited on.
MARK_COLD_BY_GATEWAY_ID = """
UPDATE requests
SET cold_start = true, environment_id = coalesce(requests.environment_id, waited.environment_id)
FROM (
    SELECT detail->>'$.gateway_request_id' AS gateway_request_id, environment_id
    FROM platform_events
    WHERE run_id = $run_id AND kind = 'timeout' AND detail->>'$.scope' = 'gateway'
      AND CAST(detail->>'$.waited_on_init' AS BOOLEAN)
) AS waited
WHERE requests.run_id = $run_id AND NOT requests.cold_start
  AND requests.gateway_request_id = waited.gateway_request_id
"""

# By time, for requests without a gateway id (platforms whose events carry none): init windows
# are init_start .. the environment's next cold_start event (open if none), or, with only a
# cold_start event, [at - init_ms, at]. Each init is credited to one request: the last one sent
# before the init began that was still waiting when it did, and failed before it ended.
MARK_COLD_BY_TIME = """
WITH starts AS (
    SELECT environment_id, "at" AS start_at FROM platform_events
    WHERE run_id = $run_id AND kind = 'init_start' AND environment_id IS NOT NULL
),
ends AS (
    SELECT environment_id, "at" AS end_at, init_ms FROM platform_events
    WHERE run_id = $run_id AND kind = 'cold_start' AND environment_id IS NOT NULL
),
windows AS (
    SELECT s.environment_id, s.start_at, min(e.end_at) AS end_at
    FROM starts s
    LEFT JOIN ends e ON e.environment_id = s.environment_id AND e.end_at >= s.start_at
    GROUP BY ALL
    UNION ALL
    SELECT e.environment_id, e.end_at - to_microseconds(CAST(e.init_ms * 1000 AS BIGINT)), e.end_at
    FROM ends e
    WHERE e.init_ms IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM starts s
        WHERE s.environment_id = e.environment_id AND s.start_at <= e.end_at
    )
),
failed AS (
    SELECT seq, sent_at, done_at, environment_id FROM requests
    WHERE run_id = $run_id AND NOT cold_start AND gateway_request_id IS NULL
      AND sent_at IS NOT NULL AND done_at IS NOT NULL
      AND (status_code IN (503, 504) OR outcome = 'timeout')
),
credited AS (
    SELECT f.seq,
           row_number() OVER (
               PARTITION BY w.environment_id, w.start_at ORDER BY f.sent_at DESC
           ) AS nth
    FROM windows w
    JOIN failed f
      ON f.sent_at <= w.start_at AND w.start_at <= f.done_at
     AND (w.end_at IS NULL OR w.end_at > f.done_at)
     AND (f.environment_id IS NULL OR f.environment_id = w.environment_id)
)
UPDATE requests SET cold_start = true
WHERE run_id = $run_id AND seq IN (SELECT seq FROM credited WHERE nth = 1)
"""


# Requests a local host limit bent rather than the platform's own rule (docs/schema.md,
# "host-limited"): throttled by a concurrency limit the target lowered to fit the host, or cold
# and kept waiting for an init slot the host rationed (AWS inits every environment at once).
MARK_HOST_LIMITED_THROTTLES = """
UPDATE requests SET host_limit = 'concurrency_limit'
FROM (
    SELECT detail->>'$.gateway_request_id' AS gateway_request_id
    FROM platform_events
    WHERE run_id = $run_id AND kind = 'throttle'
      AND coalesce(CAST(detail->>'$.host_limited' AS BOOLEAN), false)
) AS throttled
WHERE requests.run_id = $run_id AND requests.gateway_request_id = throttled.gateway_request_id
"""

MARK_HOST_LIMITED_INIT_WAITS = """
UPDATE requests SET host_limit = 'init_slot'
FROM (
    SELECT q.seq
    FROM requests q
    JOIN platform_events e
      ON e.run_id = q.run_id AND e.kind = 'cold_start' AND e.environment_id = q.environment_id
     AND e."at" <= coalesce(q.done_at, e."at")
    WHERE q.run_id = $run_id AND q.cold_start AND q.host_limit IS NULL
    QUALIFY row_number() OVER (PARTITION BY q.seq ORDER BY e."at" DESC) = 1
        AND CAST(e.detail->>'$.init_wait_ms' AS DOUBLE) > $wait_threshold_ms
        AND coalesce(CAST(e.detail->>'$.init_slot_host_limited' AS BOOLEAN), false)
) AS waited
WHERE requests.run_id = $run_id AND requests.seq = waited.seq
"""
# A wait for an init slot shorter than this is the event loop's scheduling, not a queue.
INIT_WAIT_THRESHOLD_MS = 10.0


@dataclass(frozen=True)
class IngestReport:
    """What one ingestion loaded."""

    run_id: str
    requests: int
    events: int
    samples: int
    cold_starts_from_events: int
    replaced: bool


def load_run(
    conn: duckdb.DuckDBPyConnection,
    run: RunRecord,
    *,
    request_files: Sequence[Path | str],
    events: Sequence[PlatformEvent],
    samples: Sequence[ResourceSample],
) -> IngestReport:
    """Replace ``run.run_id`` with this run's rows, events and samples in one transaction."""
    files = [str(f) for f in request_files]
    missing = [f for f in files if not Path(f).is_file()]
    if missing:
        raise FileNotFoundError(f"request files not found: {missing}")
    conn.execute("BEGIN TRANSACTION")
    try:
        replaced = _delete_run(conn, run.run_id)
        _insert_run_row(conn, run)
        if files:
            conn.execute(
                INSERT_REQUESTS,
                {
                    "run_id": run.run_id,
                    "files": files,
                    "k8s_style": run.target in K8S_STYLE_TARGETS,
                },
            )
        _insert_events(conn, run.run_id, events)
        _insert_samples(conn, run.run_id, samples)
        marked = _mark_cold_from_events(conn, run)
        conn.execute(MARK_HOST_LIMITED_THROTTLES, {"run_id": run.run_id})
        conn.execute(
            MARK_HOST_LIMITED_INIT_WAITS,
            {"run_id": run.run_id, "wait_threshold_ms": INIT_WAIT_THRESHOLD_MS},
        )
        report = IngestReport(
            run_id=run.run_id,
            requests=_count(conn, "requests", run.run_id),
            events=len(events),
            samples=len(samples),
            cold_starts_from_events=marked,
            replaced=replaced,
        )
        _check_complete_run(run, report)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return report


def _delete_run(conn: duckdb.DuckDBPyConnection, run_id: str) -> bool:
    existed = _count(conn, "benchmark_runs", run_id) > 0
    for table in RUN_TABLES:
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])  # noqa: S608 - fixed names
    return existed


def _insert_run_row(conn: duckdb.DuckDBPyConnection, run: RunRecord) -> None:
    columns = list(RunRecord.model_fields)
    values = run.model_dump()
    values["config"] = json.dumps(run.config, default=str)
    values["host"] = json.dumps(run.host, default=str)
    values["generator_tally"] = (
        None if run.generator_tally is None else json.dumps(run.generator_tally)
    )
    placeholders = ", ".join("?" for _ in columns)
    conn.execute(
        f"INSERT INTO benchmark_runs ({', '.join(columns)}) VALUES ({placeholders})",  # noqa: S608
        [values[c] for c in columns],
    )


def _insert_events(
    conn: duckdb.DuckDBPyConnection, run_id: str, events: Sequence[PlatformEvent]
) -> None:
    if not events:
        return
    table = pa.table(
        {
            "at": pa.array([e.at for e in events], _UTC_US),
            "target": [e.target for e in events],
            "kind": [e.kind for e in events],
            "environment_id": pa.array([e.environment_id for e in events], pa.string()),
            **{
                name: pa.array([getattr(e, name) for e in events], pa.float64())
                for name in ("init_ms", "duration_ms", "billed_ms", "memory_mb", "max_memory_mb")
            },
            "detail": [json.dumps(e.detail, default=str) for e in events],
        }
    )
    conn.register("incoming_events", table)
    try:
        conn.execute(
            'INSERT INTO platform_events SELECT ?, "at", target, kind, environment_id, init_ms,'
            " duration_ms, billed_ms, memory_mb, max_memory_mb, detail::JSON FROM incoming_events",
            [run_id],
        )
    finally:
        conn.unregister("incoming_events")


def _insert_samples(
    conn: duckdb.DuckDBPyConnection, run_id: str, samples: Sequence[ResourceSample]
) -> None:
    if not samples:
        return
    table = pa.table(
        {
            "at": pa.array([s.at for s in samples], _UTC_US),
            "target": [s.target for s in samples],
            "environment_id": [s.environment_id for s in samples],
            "cpu_pct": pa.array([s.cpu_pct for s in samples], pa.float64()),
            "rss_mb": pa.array([s.rss_mb for s in samples], pa.float64()),
        }
    )
    conn.register("incoming_samples", table)
    try:
        conn.execute(
            "INSERT INTO resource_samples"
            ' SELECT ?, "at", target, environment_id, cpu_pct, rss_mb FROM incoming_samples',
            [run_id],
        )
    finally:
        conn.unregister("incoming_samples")


def _mark_cold_from_events(conn: duckdb.DuckDBPyConnection, run: RunRecord) -> int:
    if run.target in K8S_STYLE_TARGETS:
        return 0
    before = _cold_count(conn, run.run_id)
    conn.execute(MARK_COLD_BY_GATEWAY_ID, {"run_id": run.run_id})
    conn.execute(MARK_COLD_BY_TIME, {"run_id": run.run_id})
    return _cold_count(conn, run.run_id) - before


def _cold_count(conn: duckdb.DuckDBPyConnection, run_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM requests WHERE run_id = ? AND cold_start", [run_id]
    ).fetchone()
    return int(row[0]) if row else 0


def _count(conn: duckdb.DuckDBPyConnection, table: str, run_id: str) -> int:
    row = conn.execute(
        f"SELECT count(*) FROM {table} WHERE run_id = ?",  # noqa: S608 - fixed names
        [run_id],
    ).fetchone()
    return int(row[0]) if row else 0


def _check_complete_run(run: RunRecord, report: IngestReport) -> None:
    """A run marked complete must have exactly one row per scheduled request."""
    if run.status == "complete" and report.requests != run.scheduled:
        raise ValueError(
            f"run {run.run_id} is marked complete but has {report.requests} rows "
            f"for {run.scheduled} scheduled requests"
        )
