-- Live comparisons (nlp-bench compare, the live_comparison asset): one row per target asked;
-- and a request's time inside the service split into its wait for the inference thread and the
-- forward pass (the response's timing.queue_ms and timing.inference_ms), so charts can stack
-- server time as queue + inference. Older runs keep NULL in the two new columns.

CREATE TABLE live_comparisons (
    comparison_id            VARCHAR NOT NULL,   -- <UTC time>-<random>, one per comparison
    target                   VARCHAR NOT NULL,
    sent_at                  TIMESTAMPTZ NOT NULL,
    text                     VARCHAR NOT NULL,
    ok                       BOOLEAN NOT NULL,
    label                    VARCHAR,
    score                    DOUBLE,
    first_attempt_ms         DOUBLE NOT NULL,
    first_status             SMALLINT,
    first_label              VARCHAR NOT NULL,
    attempts                 INTEGER NOT NULL,
    attempt_labels           VARCHAR[] NOT NULL,
    time_to_first_success_ms DOUBLE,
    environment_id           VARCHAR,
    cold_start               BOOLEAN,
    cold_start_header        BOOLEAN,
    model_digest             VARCHAR,
    error                    VARCHAR,
    PRIMARY KEY (comparison_id, target)
);

ALTER TABLE requests ADD COLUMN queue_ms DOUBLE;
ALTER TABLE requests ADD COLUMN inference_ms DOUBLE;
