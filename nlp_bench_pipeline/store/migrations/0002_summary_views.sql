-- run_summary: docs/design.md's columns over the measure phase; run_errors: its errors by class.
-- requests = scheduled requests of the phase, every outcome, so ok + errors + dropped = requests.
-- Latency percentiles are over successful requests (failures have their own latency in
-- run_errors); send lateness is over every scheduled request (docs/adr/0032).

CREATE VIEW run_summary AS
WITH measured AS (
    SELECT * FROM requests WHERE phase = 'measure'
),
per_run AS (
    SELECT
        run_id,
        count(*) AS requests,
        count(*) FILTER (WHERE outcome = 'ok') AS ok,
        count(*) FILTER (WHERE outcome NOT IN ('ok', 'dropped')) AS errors,
        count(*) FILTER (WHERE outcome = 'dropped') AS dropped,
        epoch(max(done_at) FILTER (WHERE ok)) - epoch(min(intended_at)) AS window_s,
        quantile_cont(latency_ms, 0.5) FILTER (WHERE ok) AS p50_ms,
        quantile_cont(latency_ms, 0.9) FILTER (WHERE ok) AS p90_ms,
        quantile_cont(latency_ms, 0.99) FILTER (WHERE ok) AS p99_ms,
        quantile_cont(latency_ms, 0.999) FILTER (WHERE ok) AS p999_ms,
        max(latency_ms) FILTER (WHERE ok) AS max_ms,
        quantile_cont(corrected_latency_ms, 0.5) FILTER (WHERE ok) AS p50_corrected_ms,
        quantile_cont(corrected_latency_ms, 0.99) FILTER (WHERE ok) AS p99_corrected_ms,
        quantile_cont(send_lateness_ms, 0.99) AS send_lateness_p99_ms,
        count(*) FILTER (WHERE cold_start) AS cold_starts,
        quantile_cont(latency_ms, 0.5) FILTER (WHERE cold_start AND ok) AS cold_start_p50_ms
    FROM measured
    GROUP BY run_id
)
SELECT
    r.run_id,
    r.target,
    r.scenario,
    r.repetition,
    r.profile,
    coalesce(p.requests, 0) AS requests,
    coalesce(p.ok, 0) AS ok,
    coalesce(p.errors, 0) AS errors,
    coalesce(p.dropped, 0) AS dropped,
    p.errors / nullif(p.requests, 0) AS error_rate,
    p.ok / nullif(p.window_s, 0) AS throughput_rps,
    p.p50_ms,
    p.p90_ms,
    p.p99_ms,
    p.p999_ms,
    p.max_ms,
    p.p50_corrected_ms,
    p.p99_corrected_ms,
    p.send_lateness_p99_ms,
    coalesce(p.cold_starts, 0) AS cold_starts,
    p.cold_start_p50_ms
FROM benchmark_runs r
LEFT JOIN per_run p USING (run_id);

CREATE VIEW run_errors AS
SELECT
    r.run_id,
    r.target,
    r.scenario,
    r.repetition,
    r.profile,
    q.outcome,
    q.status_code,
    q.error,
    count(*) AS requests,
    count(*) / any_value(t.total) AS share_of_requests,
    quantile_cont(q.latency_ms, 0.5) AS p50_ms,
    min(q.intended_at) AS first_at,
    max(q.intended_at) AS last_at
FROM requests q
JOIN benchmark_runs r USING (run_id)
JOIN (
    SELECT run_id, count(*) AS total FROM requests WHERE phase = 'measure' GROUP BY run_id
) t USING (run_id)
WHERE q.phase = 'measure' AND q.outcome <> 'ok'
GROUP BY ALL;
