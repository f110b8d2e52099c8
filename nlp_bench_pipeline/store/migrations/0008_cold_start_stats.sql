-- Cold-start medians with a 95 % interval per run (docs/schema.md, "cold_start_stats"): a run's
-- cold samples are few (a quick run has a handful, a full one about 30), so its medians say
-- little without the interval and the n behind them.
--
-- The interval is the distribution-free one for a median: between two order statistics of the
-- sorted sample, x_(l) and x_(n+1-l), where l is the largest rank with P(B <= l - 1) <= 0.025
-- for B ~ Binomial(n, 1/2); it covers the true median with probability 1 - 2 P(B <= l - 1),
-- at least 95 %, whatever the distribution. Below n = 6 no such l exists (even [min, max]
-- covers with 1 - 2 / 2^n < 95 %): the bounds are NULL.
--
-- The samples are run_summary's (migration 0004): the latencies of the measure phase's ok
-- cold-start requests; on Lambda-style targets the Init Duration and the init-slot wait of the
-- init each cold request waited on, on k8s-style targets each pod's start to ready and its wait
-- for a node. The medians here are computed from the same samples as the bounds, and equal
-- run_summary's (tests/unit/test_store_cold_start_stats.py holds the two to it).

-- The rank l above for a sample of n (0: too few for a 95 % interval). The binomial CDF is
-- summed from its log pmf (lgamma), so it stays finite for any n.
CREATE MACRO median_ci95_rank(n) AS (
    SELECT count(*) FROM (
        SELECT sum(exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) - n * ln(2)))
               OVER (ORDER BY k) AS cdf
        FROM (SELECT unnest(range(0, n + 1)) AS k)
    )
    WHERE cdf <= 0.025
);
CREATE MACRO median_ci95_low(sorted) AS
    CASE WHEN median_ci95_rank(len(sorted)) > 0
         THEN sorted[median_ci95_rank(len(sorted))] END;
CREATE MACRO median_ci95_high(sorted) AS
    CASE WHEN median_ci95_rank(len(sorted)) > 0
         THEN sorted[len(sorted) + 1 - median_ci95_rank(len(sorted))] END;

CREATE VIEW cold_start_stats AS
WITH measured AS (
    SELECT * FROM requests WHERE phase = 'measure'
),
cold_latencies AS (
    SELECT run_id, list_sort(list(latency_ms)) AS sorted
    FROM measured WHERE cold_start AND ok AND latency_ms IS NOT NULL
    GROUP BY run_id
),
-- As run_summary's cold_inits: a cold request's init is its environment's latest cold start
-- before the request ended.
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
lambda_inits AS (
    SELECT run_id,
           list_sort(list(init_ms) FILTER (WHERE init_ms IS NOT NULL)) AS init_sorted,
           list_sort(list(wait_ms) FILTER (WHERE wait_ms IS NOT NULL)) AS wait_sorted
    FROM cold_inits GROUP BY run_id
),
-- As run_summary's pod_starts: every pod that became ready in the run.
pod_starts AS (
    SELECT run_id, CAST(detail->>'$.pending_ms' AS DOUBLE) AS wait_ms, init_ms
    FROM platform_events WHERE kind = 'pod_ready'
),
pod_inits AS (
    SELECT run_id,
           list_sort(list(init_ms) FILTER (WHERE init_ms IS NOT NULL)) AS init_sorted,
           list_sort(list(wait_ms) FILTER (WHERE wait_ms IS NOT NULL)) AS wait_sorted
    FROM pod_starts GROUP BY run_id
),
samples AS (
    SELECT
        s.run_id, s.target, s.scenario, s.repetition, s.profile, s.cold_starts,
        coalesce(c.sorted, []) AS latency,
        coalesce(l.init_sorted, k.init_sorted, []) AS init,
        coalesce(l.wait_sorted, k.wait_sorted, []) AS wait
    FROM run_summary s
    LEFT JOIN cold_latencies c USING (run_id)
    LEFT JOIN lambda_inits l USING (run_id)
    LEFT JOIN pod_inits k ON k.run_id = s.run_id AND s.target IN ('local-k8s', 'aws-eks')
)
SELECT
    run_id, target, scenario, repetition, profile,
    cold_starts,
    len(latency) AS cold_start_n,
    list_aggregate(latency, 'quantile_cont', 0.5) AS cold_start_p50_ms,
    median_ci95_low(latency) AS cold_start_p50_ci95_low_ms,
    median_ci95_high(latency) AS cold_start_p50_ci95_high_ms,
    len(init) AS cold_start_init_n,
    list_aggregate(init, 'quantile_cont', 0.5) AS cold_start_init_p50_ms,
    median_ci95_low(init) AS cold_start_init_p50_ci95_low_ms,
    median_ci95_high(init) AS cold_start_init_p50_ci95_high_ms,
    len(wait) AS cold_start_wait_n,
    list_aggregate(wait, 'quantile_cont', 0.5) AS cold_start_wait_p50_ms,
    median_ci95_low(wait) AS cold_start_wait_p50_ci95_low_ms,
    median_ci95_high(wait) AS cold_start_wait_p50_ci95_high_ms
FROM samples;
