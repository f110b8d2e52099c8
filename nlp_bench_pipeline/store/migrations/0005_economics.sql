-- Economics (docs/schema.md, "Economics"; docs/costs.md; docs/simulator.md): what the benchmark
-- says about money and scale, written by the `economics` assets:
--  * cost_estimates: a month and a million inferences per platform, memory size or node type and
--    traffic profile, line by line, priced from the latest complete runs;
--  * cost_breakeven: the sustained rate from which EKS costs no more than Lambda, per traffic
--    shape, with its interval, sensitivities and the cost curve it was read from;
--  * memory_sweep: one function at several memory sizes, warm and cold invocations apart,
--    function time (REPORT) beside the path through the gateway (client), cost per invocation,
--    and the best size by cost, by speed and balanced;
--  * simulation_results: the scale simulator's grid (platform x pattern x rate) with AWS's rules;
--  * simulation_validation: the simulator replaying every local run of the latest series,
--    figure by figure, with the bound each must fall in and why a failing one fails.
-- Each table holds every computation (an id and a timestamp per materialisation); the latest_*
-- views show the newest. Nothing here changes the run tables, so older files stay readable.

CREATE TABLE cost_estimates (
    estimate_id                VARCHAR NOT NULL,
    computed_at                TIMESTAMPTZ NOT NULL,
    platform                   VARCHAR NOT NULL,
    configuration              VARCHAR NOT NULL,
    architecture               VARCHAR NOT NULL,
    memory_mb                  INTEGER,
    node_type                  VARCHAR,
    traffic_profile            VARCHAR NOT NULL,
    shape                      VARCHAR NOT NULL,
    mean_rps                   DOUBLE NOT NULL,
    peak_to_mean               DOUBLE NOT NULL,
    requests_per_month         DOUBLE NOT NULL,
    texts_per_request          DOUBLE NOT NULL,
    usd_per_month              DOUBLE NOT NULL,
    usd_per_million_inferences DOUBLE NOT NULL,
    breakdown                  JSON NOT NULL,
    chosen                     BOOLEAN NOT NULL,
    meets_slo                  BOOLEAN,
    p99_ms                     DOUBLE,
    slo_p99_ms                 DOUBLE,
    host_limited_share         DOUBLE,
    billed_ms                  DOUBLE,
    init_ms                    DOUBLE,
    pod_capacity_rps           DOUBLE,
    utilisation                DOUBLE,
    pods                       INTEGER,
    nodes                      INTEGER,
    measured_on                VARCHAR NOT NULL,
    profile                    VARCHAR NOT NULL,
    run_ids                    VARCHAR[] NOT NULL,
    catalog_digest             VARCHAR NOT NULL,
    region                     VARCHAR NOT NULL,
    notes                      VARCHAR[] NOT NULL,
    PRIMARY KEY (estimate_id, platform, configuration, traffic_profile)
);

CREATE TABLE cost_breakeven (
    estimate_id         VARCHAR NOT NULL,
    computed_at         TIMESTAMPTZ NOT NULL,
    shape               VARCHAR NOT NULL,
    peak_to_mean        DOUBLE NOT NULL,
    rate_rps            DOUBLE,
    first_rate_rps      DOUBLE,
    interval_low_rps    DOUBLE,
    interval_high_rps   DOUBLE,
    cheaper_below       VARCHAR NOT NULL,
    reason              VARCHAR NOT NULL,
    lambda_memory_mb    INTEGER NOT NULL,
    lambda_architecture VARCHAR NOT NULL,
    lambda_billed_ms    DOUBLE NOT NULL,
    node_type           VARCHAR NOT NULL,
    pod_capacity_rps    DOUBLE NOT NULL,
    utilisation         DOUBLE NOT NULL,
    by_utilisation      JSON NOT NULL,
    by_shape            JSON NOT NULL,
    by_memory_mb        JSON NOT NULL,
    curve               JSON NOT NULL,
    run_ids             VARCHAR[] NOT NULL,
    catalog_digest      VARCHAR NOT NULL,
    notes               VARCHAR[] NOT NULL,
    PRIMARY KEY (estimate_id, shape)
);

CREATE TABLE memory_sweep (
    sweep_id                VARCHAR NOT NULL,
    target                  VARCHAR NOT NULL,
    memory_mb               INTEGER NOT NULL,
    started_at              TIMESTAMPTZ NOT NULL,
    finished_at             TIMESTAMPTZ NOT NULL,
    profile                 VARCHAR NOT NULL,
    model                   VARCHAR NOT NULL,
    vcpus                   DOUBLE NOT NULL,
    status                  VARCHAR NOT NULL,
    reason                  VARCHAR,
    warm_invocations        INTEGER NOT NULL,
    cold_invocations        INTEGER NOT NULL,
    errors                  INTEGER NOT NULL,
    init_retries            INTEGER NOT NULL,
    warm_duration_p50_ms    DOUBLE,
    warm_duration_p95_ms    DOUBLE,
    warm_duration_p99_ms    DOUBLE,
    warm_billed_mean_ms     DOUBLE,
    warm_client_p50_ms      DOUBLE,
    warm_client_p95_ms      DOUBLE,
    warm_client_p99_ms      DOUBLE,
    cold_init_p50_ms        DOUBLE,
    cold_billed_p50_ms      DOUBLE,
    cold_billed_p95_ms      DOUBLE,
    cold_billed_p99_ms      DOUBLE,
    cold_client_p50_ms      DOUBLE,
    cold_client_p95_ms      DOUBLE,
    cold_client_p99_ms      DOUBLE,
    max_memory_used_mb      DOUBLE,
    usd_per_invocation      DOUBLE,
    usd_per_million         DOUBLE,
    usd_per_cold_invocation DOUBLE,
    balance_weight          DOUBLE NOT NULL,
    balanced_score          DOUBLE,
    best_by_cost            BOOLEAN NOT NULL,
    best_by_speed           BOOLEAN NOT NULL,
    best_balanced           BOOLEAN NOT NULL,
    catalog_digest          VARCHAR NOT NULL,
    detail                  JSON NOT NULL,
    PRIMARY KEY (sweep_id, memory_mb)
);

CREATE TABLE simulation_results (
    simulation_id        VARCHAR NOT NULL,
    simulated_at         TIMESTAMPTZ NOT NULL,
    platform             VARCHAR NOT NULL,
    pattern              VARCHAR NOT NULL,
    mean_rps             DOUBLE NOT NULL,
    hours                DOUBLE NOT NULL,
    configuration        VARCHAR NOT NULL,
    memory_mb            INTEGER,
    node_type            VARCHAR,
    rules                VARCHAR NOT NULL,
    seed                 BIGINT NOT NULL,
    requests             BIGINT NOT NULL,
    ok                   BIGINT NOT NULL,
    failed               BIGINT NOT NULL,
    p50_ms               DOUBLE,
    p90_ms               DOUBLE,
    p99_ms               DOUBLE,
    p999_ms              DOUBLE,
    p50_ok_ms            DOUBLE,
    p90_ok_ms            DOUBLE,
    p99_ok_ms            DOUBLE,
    p999_ok_ms           DOUBLE,
    cold_starts          BIGINT NOT NULL,
    throttles            BIGINT NOT NULL,
    gateway_timeouts     BIGINT NOT NULL,
    peak_concurrency     DOUBLE,
    peak_replicas        DOUBLE,
    peak_nodes           DOUBLE,
    outcomes             JSON NOT NULL,
    counts               JSON NOT NULL,
    slo_p99_ms           DOUBLE NOT NULL,
    slo_met              BOOLEAN NOT NULL,
    total_usd            DOUBLE NOT NULL,
    usd_per_million      DOUBLE,
    usd_per_month        DOUBLE NOT NULL,
    cost                 JSON NOT NULL,
    distributions_source VARCHAR NOT NULL,
    distributions        JSON NOT NULL,
    settings             JSON NOT NULL,
    wall_s               DOUBLE NOT NULL,
    catalog_digest       VARCHAR NOT NULL,
    PRIMARY KEY (simulation_id, platform, pattern, mean_rps)
);

CREATE TABLE simulation_validation (
    simulation_id VARCHAR NOT NULL,
    validated_at  TIMESTAMPTZ NOT NULL,
    run_id        VARCHAR NOT NULL,
    target        VARCHAR NOT NULL,
    scenario      VARCHAR NOT NULL,
    metric        VARCHAR NOT NULL,
    measured      DOUBLE,
    simulated     DOUBLE,
    low           DOUBLE,
    high          DOUBLE,
    passed        BOOLEAN NOT NULL,
    reason        VARCHAR,
    PRIMARY KEY (simulation_id, run_id, metric)
);

-- The newest computation of each table (per target for the sweep: one target's sweep does not
-- hide another's).
CREATE VIEW latest_cost_estimates AS
SELECT * FROM cost_estimates
WHERE estimate_id = (
    SELECT estimate_id FROM cost_estimates ORDER BY computed_at DESC, estimate_id DESC LIMIT 1);

CREATE VIEW latest_cost_breakeven AS
SELECT * FROM cost_breakeven
WHERE estimate_id = (
    SELECT estimate_id FROM cost_breakeven ORDER BY computed_at DESC, estimate_id DESC LIMIT 1);

CREATE VIEW latest_memory_sweep AS
WITH sweeps AS (
    SELECT target, sweep_id, max(finished_at) AS last_finished_at
    FROM memory_sweep GROUP BY target, sweep_id
),
latest AS (
    SELECT target, sweep_id FROM sweeps
    QUALIFY row_number() OVER (
        PARTITION BY target ORDER BY last_finished_at DESC, sweep_id DESC) = 1
)
SELECT m.* FROM memory_sweep m JOIN latest USING (target, sweep_id);

CREATE VIEW latest_simulation_results AS
SELECT * FROM simulation_results
WHERE simulation_id = (
    SELECT simulation_id FROM simulation_results
    ORDER BY simulated_at DESC, simulation_id DESC LIMIT 1);

CREATE VIEW latest_simulation_validation AS
SELECT * FROM simulation_validation
WHERE simulation_id = (
    SELECT simulation_id FROM simulation_validation
    ORDER BY validated_at DESC, simulation_id DESC LIMIT 1);
