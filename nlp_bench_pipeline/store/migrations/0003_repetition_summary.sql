-- Repetitions: the latest complete series per (target, scenario, profile), and the mean and 95 %
-- interval of its repetitions' key figures (Student's t; no interval from a single repetition).

CREATE TABLE student_t_975 (df INTEGER PRIMARY KEY, t DOUBLE NOT NULL);
INSERT INTO student_t_975 VALUES
    (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447), (7, 2.365),
    (8, 2.306), (9, 2.262), (10, 2.228), (11, 2.201), (12, 2.179), (13, 2.160), (14, 2.145),
    (15, 2.131), (16, 2.120), (17, 2.110), (18, 2.101), (19, 2.093), (20, 2.086), (21, 2.080),
    (22, 2.074), (23, 2.069), (24, 2.064), (25, 2.060), (26, 2.056), (27, 2.052), (28, 2.048),
    (29, 2.045), (30, 2.042), (40, 2.021), (60, 2.000), (120, 1.980);

-- A series is complete when every repetition 0..k-1 has a complete run in it.
CREATE VIEW latest_runs AS
WITH series AS (
    SELECT
        target, scenario, profile, series_id,
        max(started_at) AS started_at,
        count(DISTINCT repetition) FILTER (WHERE status = 'complete') AS complete_repetitions,
        max(repetitions) AS repetitions
    FROM benchmark_runs
    GROUP BY ALL
),
latest AS (
    SELECT * FROM series
    WHERE complete_repetitions = repetitions
    QUALIFY row_number() OVER (
        PARTITION BY target, scenario, profile ORDER BY started_at DESC, series_id DESC
    ) = 1
)
SELECT r.*
FROM benchmark_runs r
JOIN latest l USING (target, scenario, profile, series_id)
WHERE r.status = 'complete';

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
        avg(throughput_rps) AS throughput_rps_mean, stddev_samp(throughput_rps) AS throughput_rps_sd,
        avg(error_rate) AS error_rate_mean, stddev_samp(error_rate) AS error_rate_sd,
        avg(cold_starts) AS cold_starts_mean
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
    throughput_rps_mean, k * throughput_rps_sd AS throughput_rps_ci95,
    error_rate_mean, k * error_rate_sd AS error_rate_ci95,
    cold_starts_mean
FROM with_t;
