-- The tables of docs/design.md "Metrics store": runs, their requests, platform events, resource samples.
-- Timestamps are TIMESTAMPTZ (UTC), durations DOUBLE milliseconds. Documented in docs/schema.md.

CREATE TABLE benchmark_runs (
    run_id          VARCHAR PRIMARY KEY,
    series_id       VARCHAR NOT NULL,   -- shared by the repetitions of one invocation
    target          VARCHAR NOT NULL,
    scenario        VARCHAR NOT NULL,
    repetition      INTEGER NOT NULL,
    repetitions     INTEGER NOT NULL,   -- how many the series plans (k)
    profile         VARCHAR NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR NOT NULL CHECK (status IN ('complete', 'incomplete', 'failed')),
    scheduled       BIGINT NOT NULL,
    locust_requests BIGINT,
    dropped         BIGINT NOT NULL,
    model_id        VARCHAR,
    model_digest    VARCHAR,
    image_digest    VARCHAR,
    code_version    VARCHAR,
    config          JSON,
    host            JSON,
    dagster_run_id  VARCHAR,
    ingested_at     TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);

CREATE TABLE requests (
    run_id               VARCHAR NOT NULL,
    seq                  BIGINT NOT NULL,
    phase                VARCHAR NOT NULL CHECK (phase IN ('warmup', 'measure')),
    intended_at          TIMESTAMPTZ NOT NULL,
    sent_at              TIMESTAMPTZ,
    done_at              TIMESTAMPTZ,
    latency_ms           DOUBLE,
    corrected_latency_ms DOUBLE,
    send_lateness_ms     DOUBLE,
    outcome              VARCHAR NOT NULL
        CHECK (outcome IN ('ok', 'http_error', 'timeout', 'connection_error', 'dropped')),
    status_code          SMALLINT,
    ok                   BOOLEAN NOT NULL,
    error                VARCHAR,
    cold_start           BOOLEAN NOT NULL,
    environment_id       VARCHAR,
    gateway_request_id   VARCHAR,
    input_tokens         INTEGER,
    server_ms            DOUBLE,
    payload_tokens       INTEGER,
    worker               SMALLINT
);

CREATE TABLE platform_events (
    run_id         VARCHAR NOT NULL,
    "at"           TIMESTAMPTZ NOT NULL,  -- quoted: AT is a keyword in DuckDB
    target         VARCHAR NOT NULL,
    kind           VARCHAR NOT NULL,
    environment_id VARCHAR,
    init_ms        DOUBLE,
    duration_ms    DOUBLE,
    billed_ms      DOUBLE,
    memory_mb      DOUBLE,
    max_memory_mb  DOUBLE,
    detail         JSON
);

CREATE TABLE resource_samples (
    run_id         VARCHAR NOT NULL,
    "at"           TIMESTAMPTZ NOT NULL,  -- quoted: AT is a keyword in DuckDB
    target         VARCHAR NOT NULL,
    environment_id VARCHAR NOT NULL,
    cpu_pct        DOUBLE,
    rss_mb         DOUBLE
);
