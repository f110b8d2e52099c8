"""The views and helpers the pipeline reads: run_summary, errors by class, latest runs, exports."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from nlp_bench_pipeline.store import MetricStore, StoreError
from tests.unit.store_rows import record, row, write_rows

SUMMARY_COLUMNS = [
    "run_id", "target", "scenario", "repetition", "profile", "requests", "ok", "errors",
    "dropped", "error_rate", "failed_share", "offered_rps", "throughput_rps",
    "p50_ms", "p90_ms", "p99_ms", "p999_ms", "max_ms",
    "p50_corrected_ms", "p90_corrected_ms", "p99_corrected_ms", "p999_corrected_ms",
    "p50_is_failure", "p90_is_failure", "p99_is_failure", "p999_is_failure", "max_is_failure",
    "p90_too_few", "p99_too_few", "p999_too_few",
    "p50_ok_ms", "p90_ok_ms", "p99_ok_ms", "p999_ok_ms", "max_ok_ms", "p99_ok_corrected_ms",
    "platform_requests", "p50_platform_ms", "p99_platform_ms", "host_limited_share",
    "send_lateness_p99_ms", "time_to_first_success_ms", "cold_starts", "cold_start_p50_ms",
    "cold_start_init_p50_ms", "cold_start_wait_p50_ms", "scale_out_served",
    "slo_p99_ms", "slo_met",
]  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "metrics.duckdb")


def ingest(store: MetricStore, tmp_path: Path, run_id: str, rows, **changes):
    files = [write_rows(tmp_path / f"{run_id}.parquet", rows)]
    return store.ingest_run(record(run_id, rows, **changes), request_files=files)


def mixed_run() -> tuple[list[dict], np.ndarray]:
    """5 warm-up rows, then 200 measured: 190 ok with known latencies, 6 errors, 4 dropped."""
    rng = np.random.default_rng(1)
    latencies = rng.lognormal(3, 0.5, 190)
    rows = [row(i, phase="warmup", latency_ms=5000) for i in range(5)]
    rows += [
        row(5 + i, latency_ms=float(ms), lateness_ms=1 + i % 3) for i, ms in enumerate(latencies)
    ]
    rows += [row(195 + i, outcome="http_error", status=503) for i in range(4)]
    rows += [row(199 + i, outcome="timeout", status=None, error="Timeout") for i in range(2)]
    rows += [row(201 + i, outcome="dropped", lateness_ms=800) for i in range(4)]
    rows[10]["cold_start_header"] = True
    return rows, latencies


def test_run_summary_has_exactly_the_designed_columns(store, tmp_path):
    ingest(store, tmp_path, "r", [row(0)])
    assert list(store.summary_rows(["r"])[0]) == SUMMARY_COLUMNS


def test_every_scheduled_measured_request_is_ok_an_error_or_dropped(store, tmp_path):
    rows, _ = mixed_run()
    ingest(store, tmp_path, "r", rows, target="local-lambda")
    (summary,) = store.summary_rows(["r"])
    assert summary["requests"] == 200  # the warm-up is left out
    assert (summary["ok"], summary["errors"], summary["dropped"]) == (190, 6, 4)
    assert summary["error_rate"] == pytest.approx(6 / 200)
    assert summary["cold_starts"] == 1


def test_ok_only_percentiles_are_computed_in_duckdb_over_successful_requests(store, tmp_path):
    rows, latencies = mixed_run()
    ingest(store, tmp_path, "r", rows)
    (summary,) = store.summary_rows(["r"])
    for column, q in [
        ("p50_ok_ms", 50),
        ("p90_ok_ms", 90),
        ("p99_ok_ms", 99),
        ("p999_ok_ms", 99.9),
    ]:
        assert summary[column] == pytest.approx(np.percentile(latencies, q), abs=1e-3), column
    assert summary["max_ok_ms"] == pytest.approx(latencies.max(), abs=1e-3)
    corrected = latencies + 1 + np.arange(190) % 3
    assert summary["p99_ok_corrected_ms"] == pytest.approx(np.percentile(corrected, 99), abs=1e-3)


def test_percentiles_count_every_request_with_failures_ranked_slowest(store, tmp_path):
    rows, latencies = mixed_run()  # 190 ok of 200 measured: ranks 191..200 are failures
    ingest(store, tmp_path, "r", rows)
    (summary,) = store.summary_rows(["r"])
    ranked = np.sort(latencies)
    assert summary["p50_ms"] == pytest.approx(ranked[100 - 1], abs=1e-3)  # nearest rank 100
    assert summary["p90_ms"] == pytest.approx(ranked[180 - 1], abs=1e-3)
    assert summary["p90_is_failure"] is False
    for column in ("p99_ms", "p999_ms", "max_ms", "p99_corrected_ms"):
        assert summary[column] is None, column  # 5 % failed: the p99 is a failure
    assert summary["p99_is_failure"] is True
    assert summary["max_is_failure"] is True
    assert summary["failed_share"] == pytest.approx(10 / 200)


def test_send_lateness_counts_dropped_requests_as_late_until_a_slot_freed(store, tmp_path):
    rows, _ = mixed_run()
    ingest(store, tmp_path, "r", rows)
    (summary,) = store.summary_rows(["r"])
    # 4 of 200 dropped at 800 ms: beyond the 99th percentile, so p99 lands among them.
    assert summary["send_lateness_p99_ms"] == pytest.approx(800, abs=1)


def test_offered_load_and_throughput_are_taken_over_the_configured_phase(store, tmp_path):
    rows = [row(i, latency_ms=10) for i in range(100)] + [
        row(100 + i, outcome="http_error", status=500) for i in range(20)
    ]
    ingest(store, tmp_path, "r", rows, measure_s=4.0)
    (summary,) = store.summary_rows(["r"])
    assert summary["offered_rps"] == pytest.approx(120 / 4.0)
    assert summary["throughput_rps"] == pytest.approx(100 / 4.0)
    # Over the configured phase, the successes can never outrun what was offered.
    assert summary["throughput_rps"] <= summary["offered_rps"]


def test_errors_are_broken_down_by_class(store, tmp_path):
    rows, _ = mixed_run()
    ingest(store, tmp_path, "r", rows)
    classes = {(e["outcome"], e["error"]): e["requests"] for e in store.errors_by_class("r")}
    assert classes == {
        ("http_error", "HTTP 503"): 4,
        ("dropped", "inflight_limit"): 4,
        ("timeout", "Timeout"): 2,
    }
    assert store.errors_by_class("r")[0]["share_of_requests"] == pytest.approx(4 / 200)


def run_in_series(store, tmp_path, series, repetition, *, status="complete", p50=10.0, k=2):
    run_id = f"{series}-r{repetition}"
    rows = [row(i, latency_ms=p50) for i in range(3)]
    ingest(
        store, tmp_path, run_id, rows, series_id=series, repetition=repetition,
        repetitions=k, status=status,
    )  # fmt: skip
    return run_id


def test_latest_complete_runs_skip_a_newer_series_that_is_not_complete(store, tmp_path):
    done = [run_in_series(store, tmp_path, "a", r) for r in range(2)]
    run_in_series(store, tmp_path, "b", 0)  # series b lacks repetition 1
    run_in_series(store, tmp_path, "c", 0)
    run_in_series(store, tmp_path, "c", 1, status="incomplete")
    assert store.latest_complete_runs("local-k8s", "warm_steady", "quick") == done
    assert store.latest_complete_runs("local-lambda", "warm_steady", "quick") == []


def test_a_completed_retry_makes_the_newer_series_the_latest(store, tmp_path):
    [run_in_series(store, tmp_path, "a", r) for r in range(2)]
    run_in_series(store, tmp_path, "b", 0)
    run_in_series(store, tmp_path, "b", 1, status="incomplete")
    retried = run_in_series(store, tmp_path, "b", 1)  # the retry replaces its own run_id
    assert store.latest_complete_runs("local-k8s", "warm_steady", "quick") == ["b-r0", retried]


def test_scenario_summary_gives_the_mean_and_a_95_percent_interval(store, tmp_path):
    for repetition, p50 in enumerate([10.0, 12.0, 14.0]):
        run_in_series(store, tmp_path, "s", repetition, p50=p50, k=3)
    (summary,) = store.scenario_summary()
    assert summary["repetitions"] == 3
    assert summary["p50_ms_mean"] == pytest.approx(12.0, abs=1e-3)
    # t(0.975, 2) = 4.303; sd = 2; half-width = 4.303 * 2 / sqrt(3)
    assert summary["p50_ms_ci95"] == pytest.approx(4.303 * 2 / np.sqrt(3), rel=1e-3)


def test_a_single_repetition_has_no_interval(store, tmp_path):
    run_in_series(store, tmp_path, "s", 0, k=1)
    (summary,) = store.scenario_summary()
    assert summary["p50_ms_ci95"] is None


def test_exports_write_csv_and_parquet_for_chosen_runs(store, tmp_path):
    ingest(store, tmp_path, "keep", [row(0), row(1)])
    ingest(store, tmp_path, "skip", [row(0)])
    csv = store.export("run_summary", tmp_path / "out" / "summary.csv", run_ids=["keep"])
    assert pacsv.read_csv(csv).column("run_id").to_pylist() == ["keep"]
    parquet = store.export("requests", tmp_path / "out" / "requests.parquet")
    assert pq.read_table(parquet).num_rows == 3
    with pytest.raises(StoreError, match="cannot export"):
        store.export("requests; DROP TABLE requests", tmp_path / "x.csv")
    with pytest.raises(StoreError, match=r"\.csv or \.parquet"):
        store.export("requests", tmp_path / "x.json")


def test_a_connection_waits_while_another_process_holds_the_file(store, tmp_path):
    store.migrate()
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
         " time.sleep(1.5)", str(store.path)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        started = time.monotonic()
        assert store.scenario_summary() == []
        assert time.monotonic() - started > 0.5  # it waited for the lock rather than failing
    finally:
        holder.kill()
        holder.wait()
