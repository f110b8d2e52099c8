-- The peak-rate search (docs/peak.md; docs/schema.md, "Peak rate"): the highest Poisson rate at
-- which the p99 over every request stays within a bound, per target, size and warming policy.
--  * peak_searches: one row per search — measured on the target, or the scale simulator's
--    projection of the same configuration under AWS's rules — at one bound, with the peak, the
--    bracket above it, the status and reason, and the capacity per vCPU;
--  * peak_probes: each probe of a search, in order: its rate, VALID/INVALID and every reason
--    (bench.verdict.judge_run), the policy, and for a measured probe its run (an ordinary run of
--    scenario 'peak' in benchmark_runs, so every request is in `requests` and run_summary covers
--    it).
-- A search invocation writes its rows under one invocation_id in one transaction; writing the
-- same id again replaces them. Nothing here changes the run tables.

CREATE TABLE peak_searches (
    invocation_id          VARCHAR NOT NULL,   -- the Dagster run id, or peak-<hex> from the CLI
    search_id              VARCHAR NOT NULL,   -- unique per row; peak_probes refer to it
    searched_at            TIMESTAMPTZ NOT NULL,
    target                 VARCHAR NOT NULL,
    method                 VARCHAR NOT NULL,   -- measured | simulated
    size                   VARCHAR NOT NULL,   -- e.g. '1769 MB', '1 CPU x 2 pods'
    memory_mb              INTEGER,            -- Lambda-style: the memory size
    pod_cpu                DOUBLE,             -- Kubernetes-style: CPU request = limit per pod
    replicas               INTEGER,            -- Kubernetes-style: the most pods it may run
    policy                 VARCHAR NOT NULL,   -- warmed | cold
    slo_p99_ms             DOUBLE NOT NULL,    -- the bound this row judges by
    rates_chosen_for_ms    DOUBLE NOT NULL,    -- the bound whose search chose the probed rates
    profile                VARCHAR NOT NULL,
    model                  VARCHAR,
    status                 VARCHAR NOT NULL,   -- found | no rate passed | at ceiling |
                                               -- probes exhausted | failed | not run (host)
    peak_rps               DOUBLE,             -- the highest VALID rate below the lowest INVALID
    upper_rps              DOUBLE,             -- the lowest INVALID rate
    reason                 VARCHAR NOT NULL,
    probes                 INTEGER NOT NULL,
    min_duration_s         DOUBLE,             -- the validity rule every probe was judged by
    min_requests           INTEGER,
    tolerance              DOUBLE,
    configured_vcpus       DOUBLE,             -- the configuration's vCPUs at its most capacity
    host_cores             INTEGER,            -- local targets: the cores of the host
    vcpus                  DOUBLE,             -- what the capacity ran on: configured, at most the host's
    per_vcpu_rps           DOUBLE,             -- peak_rps / vcpus
    host_limited           BOOLEAN NOT NULL,
    host_limited_reasons   VARCHAR[] NOT NULL,
    bounding_host_limited_share DOUBLE,        -- host-limited share of the INVALID probe above
    run_ids                VARCHAR[] NOT NULL, -- the measured probes' runs (a projection's calibration)
    detail                 JSON NOT NULL,      -- the plan, the deployment's limits, the simulator's settings
    PRIMARY KEY (search_id)
);

CREATE TABLE peak_probes (
    invocation_id          VARCHAR NOT NULL,
    search_id              VARCHAR NOT NULL,
    probe                  INTEGER NOT NULL,   -- 0-based, in the order probed
    step                   VARCHAR NOT NULL,   -- start | lower | widen | bisect
    policy                 VARCHAR NOT NULL,
    rate_rps               DOUBLE NOT NULL,
    verdict                VARCHAR NOT NULL,   -- VALID | INVALID
    reason                 VARCHAR NOT NULL,   -- every reason, '; '-joined
    run_id                 VARCHAR,            -- measured: the run in benchmark_runs
    requests               BIGINT,
    measure_s              DOUBLE,
    p99_corrected_ms       DOUBLE,             -- NULL where the p99 is a failed request
    p99_is_failure         BOOLEAN,
    failed_share           DOUBLE,
    cold_starts            BIGINT,
    host_limited_share     DOUBLE,
    send_lateness_p99_ms   DOUBLE,
    throughput_rps         DOUBLE,
    warming                JSON,               -- what was warmed before the load (not rows)
    PRIMARY KEY (search_id, probe)
);

-- The newest invocation per target: one target's search does not hide another's.
CREATE VIEW latest_peak_searches AS
WITH invocations AS (
    SELECT target, invocation_id, max(searched_at) AS searched_at
    FROM peak_searches GROUP BY target, invocation_id
),
latest AS (
    SELECT target, invocation_id FROM invocations
    QUALIFY row_number() OVER (
        PARTITION BY target ORDER BY searched_at DESC, invocation_id DESC) = 1
)
SELECT s.* FROM peak_searches s JOIN latest USING (target, invocation_id);

CREATE VIEW latest_peak_probes AS
SELECT p.* FROM peak_probes p JOIN latest_peak_searches s USING (search_id);
