-- Figures that mean what they say (docs/schema.md, "Summaries"; docs/adr/0037):
--  * percentiles over every scheduled request of the measure phase, failures and drops ranked
--    slower than any success (nearest rank; NULL plus an *_is_failure flag where a percentile
--    lands on a failure), the ok-only ones beside them, and flags where the sample is too small;
--  * offered load and throughput over the phase's configured duration (throughput can never
--    exceed the offered load);
--  * the time from deploy to the first success, cold starts split into the platform's init and
--    the host's wait, the share of requests a local host limit bent, the SLO verdict per run;
--  * the checks' verdicts stored per run, so the summaries leave out what a blocking check
--    refused; latest_runs exposes only keys, so `JOIN latest_runs USING (run_id)` never
--    collides.
-- Runs ingested before this migration stay readable: new columns are NULL where the data did
-- not exist, and the measure duration is recovered from the run's config.

ALTER TABLE benchmark_runs ADD COLUMN deployed_at TIMESTAMPTZ;
ALTER TABLE benchmark_runs ADD COLUMN time_to_first_success_ms DOUBLE;
ALTER TABLE benchmark_runs ADD COLUMN measure_s DOUBLE;
ALTER TABLE benchmark_runs ADD COLUMN slo_p99_ms DOUBLE;
ALTER TABLE benchmark_runs ADD COLUMN generator_tally JSON;
ALTER TABLE requests ADD COLUMN host_limit VARCHAR;

UPDATE benchmark_runs
SET measure_s = list_sum(list_transform(
    CAST(json_extract(config, '$.measure[*].duration_s') AS VARCHAR[]), lambda x: CAST(x AS DOUBLE)))
WHERE measure_s IS NULL;

CREATE TABLE run_checks (
    run_id      VARCHAR NOT NULL,
    check_name  VARCHAR NOT NULL,
    blocking    BOOLEAN NOT NULL,
    passed      BOOLEAN NOT NULL,
    description VARCHAR,
    checked_at  TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (run_id, check_name)
);

-- The nearest-rank percentile p of n requests whose successes' latencies are `sorted`
-- (ascending): the failures rank after every success, so a rank past the successes is a failure.
CREATE MACRO rank_of(n, p) AS CAST(greatest(1, ceil(p * n - 1e-9)) AS BIGINT);
CREATE MACRO percentile_or_failure(sorted, n, p) AS
    CASE WHEN n = 0 OR rank_of(n, p) > len(sorted) THEN NULL ELSE sorted[rank_of(n, p)] END;
CREATE MACRO lands_on_failure(sorted, n, p) AS n > 0 AND rank_of(n, p) > len(sorted);

DROP VIEW scenario_summary;
DROP VIEW latest_runs;
DROP VIEW run_summary;

CREATE VIEW run_summary AS
WITH measured AS (
    SELECT * FROM requests WHERE phase = 'measure'
),
-- The init each measured cold request waited on: its environment's latest cold start before
-- the request ended (an environment restarted inside an invoke has more than one).
cold_inits AS (
    SELECT q.run_id, q.seq, e.init_ms AS init_ms,
           CAST(e.detail->>'$.init_wait_ms' AS DOUBLE) AS wait_ms
    FROM measured q
    JOIN platform_events e
      ON e.run_id = q.run_id AND e.kind = 'cold_start' AND e.environment_id = q.environment_id
     AND e."at" <= coalesce(q.done_at, e."at")
    WHERE q.cold_start
    QUALIFY row_number() OVER (PARTITION BY q.run_id, q.seq ORDER BY e."at" DESC) = 1
),
-- On k8s-style targets no request waits on an init: a pod's start (model load included) and
-- its wait for a node are the cold start, from the pod events.
pod_starts AS (
    SELECT run_id, quantile_cont(init_ms, 0.5) AS init_p50_ms,
           quantile_cont(CAST(detail->>'$.pending_ms' AS DOUBLE), 0.5) AS wait_p50_ms
    FROM platform_events WHERE kind = 'pod_ready' GROUP BY run_id
),
-- Did a pod the HPA asked for serve a measured request before the run ended?
scale_outs AS (
    SELECT run_id, min("at") AS first_at FROM platform_events WHERE kind = 'scale_out'
    GROUP BY run_id
),
scaled_pods AS (
    SELECT e.run_id, e.environment_id
    FROM platform_events e JOIN scale_outs s USING (run_id)
    WHERE e.kind = 'pod_ready' AND e."at" > s.first_at
),
per_run AS (
    SELECT
        run_id,
        count(*) AS requests,
        count(*) FILTER (WHERE outcome = 'ok') AS ok,
        count(*) FILTER (WHERE outcome NOT IN ('ok', 'dropped')) AS errors,
        count(*) FILTER (WHERE outcome = 'dropped') AS dropped,
        coalesce(list_sort(list(latency_ms) FILTER (WHERE ok)), []) AS ok_sorted,
        coalesce(list_sort(list(corrected_latency_ms) FILTER (WHERE ok)), []) AS ok_corrected,
        count(*) FILTER (WHERE host_limit IS NULL) AS platform_requests,
        coalesce(list_sort(list(latency_ms) FILTER (WHERE ok AND host_limit IS NULL)), [])
            AS platform_sorted,
        quantile_cont(latency_ms, 0.5) FILTER (WHERE ok) AS p50_ok_ms,
        quantile_cont(latency_ms, 0.9) FILTER (WHERE ok) AS p90_ok_ms,
        quantile_cont(latency_ms, 0.99) FILTER (WHERE ok) AS p99_ok_ms,
        quantile_cont(latency_ms, 0.999) FILTER (WHERE ok) AS p999_ok_ms,
        max(latency_ms) FILTER (WHERE ok) AS max_ok_ms,
        quantile_cont(corrected_latency_ms, 0.99) FILTER (WHERE ok) AS p99_ok_corrected_ms,
        quantile_cont(send_lateness_ms, 0.99) AS send_lateness_p99_ms,
        count(*) FILTER (WHERE cold_start) AS cold_starts,
        quantile_cont(latency_ms, 0.5) FILTER (WHERE cold_start AND ok) AS cold_start_p50_ms,
        count(*) FILTER (WHERE host_limit IS NOT NULL) AS host_limited
    FROM measured
    GROUP BY run_id
),
per_run_cold AS (
    SELECT run_id, quantile_cont(init_ms, 0.5) AS init_p50_ms,
           quantile_cont(wait_ms, 0.5) AS wait_p50_ms
    FROM cold_inits GROUP BY run_id
),
figures AS (
    SELECT
        r.*,
        coalesce(p.requests, 0) AS n,
        p.* EXCLUDE (run_id)
    FROM benchmark_runs r LEFT JOIN per_run p USING (run_id)
)
SELECT
    f.run_id,
    f.target,
    f.scenario,
    f.repetition,
    f.profile,
    f.n AS requests,
    coalesce(f.ok, 0) AS ok,
    coalesce(f.errors, 0) AS errors,
    coalesce(f.dropped, 0) AS dropped,
    f.errors / nullif(f.n, 0) AS error_rate,
    (coalesce(f.errors, 0) + coalesce(f.dropped, 0)) / nullif(f.n, 0) AS failed_share,
    f.n / nullif(f.measure_s, 0) AS offered_rps,
    coalesce(f.ok, 0) / nullif(f.measure_s, 0) AS throughput_rps,
    -- every scheduled request, failures ranked last
    percentile_or_failure(f.ok_sorted, f.n, 0.5) AS p50_ms,
    percentile_or_failure(f.ok_sorted, f.n, 0.9) AS p90_ms,
    percentile_or_failure(f.ok_sorted, f.n, 0.99) AS p99_ms,
    percentile_or_failure(f.ok_sorted, f.n, 0.999) AS p999_ms,
    percentile_or_failure(f.ok_sorted, f.n, 1.0) AS max_ms,
    percentile_or_failure(f.ok_corrected, f.n, 0.5) AS p50_corrected_ms,
    percentile_or_failure(f.ok_corrected, f.n, 0.9) AS p90_corrected_ms,
    percentile_or_failure(f.ok_corrected, f.n, 0.99) AS p99_corrected_ms,
    percentile_or_failure(f.ok_corrected, f.n, 0.999) AS p999_corrected_ms,
    lands_on_failure(f.ok_sorted, f.n, 0.5) AS p50_is_failure,
    lands_on_failure(f.ok_sorted, f.n, 0.9) AS p90_is_failure,
    lands_on_failure(f.ok_sorted, f.n, 0.99) AS p99_is_failure,
    lands_on_failure(f.ok_sorted, f.n, 0.999) AS p999_is_failure,
    lands_on_failure(f.ok_sorted, f.n, 1.0) AS max_is_failure,
    f.n < 10 AS p90_too_few,
    f.n < 100 AS p99_too_few,
    f.n < 1000 AS p999_too_few,
    -- successes only (sample size: ok)
    f.p50_ok_ms,
    f.p90_ok_ms,
    f.p99_ok_ms,
    f.p999_ok_ms,
    f.max_ok_ms,
    f.p99_ok_corrected_ms,
    -- the platform's own figures: requests no local host limit bent (docs/schema.md)
    coalesce(f.platform_requests, 0) AS platform_requests,
    percentile_or_failure(f.platform_sorted, coalesce(f.platform_requests, 0), 0.5)
        AS p50_platform_ms,
    percentile_or_failure(f.platform_sorted, coalesce(f.platform_requests, 0), 0.99)
        AS p99_platform_ms,
    coalesce(f.host_limited, 0) / nullif(f.n, 0) AS host_limited_share,
    f.send_lateness_p99_ms,
    f.time_to_first_success_ms,
    coalesce(f.cold_starts, 0) AS cold_starts,
    f.cold_start_p50_ms,
    coalesce(c.init_p50_ms, k.init_p50_ms) AS cold_start_init_p50_ms,
    coalesce(c.wait_p50_ms, k.wait_p50_ms) AS cold_start_wait_p50_ms,
    CASE WHEN s.run_id IS NULL THEN NULL
         ELSE EXISTS (
             SELECT 1 FROM measured q JOIN scaled_pods p USING (run_id, environment_id)
             WHERE q.run_id = f.run_id AND q.ok)
    END AS scale_out_served,
    f.slo_p99_ms,
    CASE WHEN f.slo_p99_ms IS NULL THEN NULL
         ELSE coalesce(
             percentile_or_failure(f.ok_corrected, f.n, 0.99) <= f.slo_p99_ms, false)
    END AS slo_met
FROM figures f
LEFT JOIN per_run_cold c USING (run_id)
LEFT JOIN pod_starts k ON k.run_id = f.run_id AND f.target IN ('local-k8s', 'aws-eks')
LEFT JOIN scale_outs s USING (run_id);

-- The latest series per (target, scenario, profile) in which every repetition completed and no
-- blocking check failed; only the keys, so joining it never makes a column ambiguous.
CREATE VIEW latest_runs AS
WITH refused AS (
    SELECT DISTINCT run_id FROM run_checks WHERE blocking AND NOT passed
),
series AS (
    SELECT
        target, scenario, profile, series_id,
        max(started_at) AS started_at,
        count(DISTINCT repetition) FILTER (
            WHERE status = 'complete' AND run_id NOT IN (SELECT run_id FROM refused)
        ) AS good_repetitions,
        max(repetitions) AS repetitions
    FROM benchmark_runs
    GROUP BY ALL
),
latest AS (
    SELECT * FROM series
    WHERE good_repetitions = repetitions
    QUALIFY row_number() OVER (
        PARTITION BY target, scenario, profile ORDER BY started_at DESC, series_id DESC
    ) = 1
)
SELECT r.run_id, r.series_id
FROM benchmark_runs r
JOIN latest l USING (target, scenario, profile, series_id)
WHERE r.status = 'complete';

-- Runs a blocking check refused, newest first: what the summaries leave out, and why.
CREATE VIEW refused_runs AS
SELECT r.run_id, r.target, r.scenario, r.profile, r.repetition, c.check_name, c.description,
       c.checked_at
FROM run_checks c JOIN benchmark_runs r USING (run_id)
WHERE c.blocking AND NOT c.passed
ORDER BY c.checked_at DESC;

CREATE VIEW scenario_summary AS
WITH runs AS (
    SELECT l.series_id, s.*
    FROM latest_runs l
    JOIN run_summary s USING (run_id)
),
stats AS (
    SELECT
        target, scenario, profile, series_id,
        count(*) AS repetitions,
        avg(p50_ms) AS p50_ms_mean, stddev_samp(p50_ms) AS p50_ms_sd,
        avg(p99_ms) AS p99_ms_mean, stddev_samp(p99_ms) AS p99_ms_sd,
        avg(p99_corrected_ms) AS p99_corrected_ms_mean,
        stddev_samp(p99_corrected_ms) AS p99_corrected_ms_sd,
        avg(p99_ok_ms) AS p99_ok_ms_mean,
        avg(throughput_rps) AS throughput_rps_mean, stddev_samp(throughput_rps) AS throughput_rps_sd,
        avg(offered_rps) AS offered_rps_mean,
        avg(error_rate) AS error_rate_mean, stddev_samp(error_rate) AS error_rate_sd,
        avg(failed_share) AS failed_share_mean,
        avg(cold_starts) AS cold_starts_mean,
        avg(host_limited_share) AS host_limited_share_mean,
        bool_and(slo_met) AS slo_met_all,
        count(*) FILTER (WHERE p99_is_failure) AS p99_on_failure_runs
    FROM runs
    GROUP BY ALL
),
with_t AS (
    SELECT
        s.*,
        (SELECT t FROM student_t_975 WHERE df <= s.repetitions - 1 ORDER BY df DESC LIMIT 1)
            / sqrt(s.repetitions) AS k
    FROM stats s
)
SELECT
    target, scenario, profile, series_id, repetitions,
    p50_ms_mean, k * p50_ms_sd AS p50_ms_ci95,
    p99_ms_mean, k * p99_ms_sd AS p99_ms_ci95,
    p99_corrected_ms_mean, k * p99_corrected_ms_sd AS p99_corrected_ms_ci95,
    p99_ok_ms_mean,
    offered_rps_mean,
    throughput_rps_mean, k * throughput_rps_sd AS throughput_rps_ci95,
    error_rate_mean, k * error_rate_sd AS error_rate_ci95,
    failed_share_mean,
    cold_starts_mean,
    host_limited_share_mean,
    slo_met_all,
    p99_on_failure_runs
FROM with_t;
