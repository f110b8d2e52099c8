"""Open loop against a server that stalls for a second: arrivals keep coming, the stall shows.

Counts are taken at the server. Timing bounds are generous: other work shares these 2 cores.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from nlp_bench_pipeline.core.runs import RunRecord
from nlp_bench_pipeline.loadgen.loopback import arrivals, serve
from nlp_bench_pipeline.store import MetricStore
from tests.integration.loadgen_support import count_within, run_loadgen

pytestmark = pytest.mark.slow

STALL = {"stall_after_s": 2.0, "stall_s": 1.0}
# 100 req/s, evenly spaced: 1 s of warm-up, then 4 s measured; the stall covers 2..3 s.
CONSTANT_100 = (
    "warmup=[{duration_s: 1, rate: 100, arrivals: uniform}]",
    "measure=[{duration_s: 4, rate: 100, arrivals: uniform}]",
)
CLOSED_LOOP_LOCUSTFILE = Path(__file__).with_name("closed_loop_locustfile.py")


def run_against_stall(tmp_path: Path, *settings: str):
    with serve(tmp_path, **STALL) as url:
        summary = run_loadgen(url, tmp_path, *CONSTANT_100, *settings)
        times, window = arrivals(url)
    store = MetricStore(tmp_path / "metrics.duckdb")
    store.ingest_run(
        RunRecord.from_summary(summary, target="loopback"), request_files=summary.files
    )
    (row,) = store.summary_rows([summary.run_id])
    return summary, row, count_within(times, window)


def test_open_loop_keeps_sending_through_a_server_stall(tmp_path: Path):
    summary, row, sent_during_stall = run_against_stall(tmp_path)
    assert sent_during_stall >= 80  # ~100 scheduled in that second, counted at the server
    assert summary.rows == summary.scheduled == 500
    assert summary.dropped == 0
    assert row["requests"] == 400
    assert row["ok"] + row["errors"] + row["dropped"] == row["requests"]
    assert row["p99_corrected_ms"] > 700  # requests sent into the stall waited up to 1 s
    assert row["p50_corrected_ms"] < 200
    assert row["send_lateness_p99_ms"] < 250  # sends stayed on schedule


def test_a_pool_too_small_for_the_stall_drops_and_shows_it_as_lateness(tmp_path: Path):
    summary, row, sent_during_stall = run_against_stall(tmp_path, "max_inflight=20")
    assert sent_during_stall <= 25  # only the 20 in flight (give or take the edges)
    assert row["dropped"] >= 50  # ~80 found the pool full
    assert summary.dropped == summary.rows - summary.locust_requests
    assert summary.rows == summary.scheduled
    assert row["ok"] + row["errors"] + row["dropped"] == row["requests"]
    assert row["send_lateness_p99_ms"] > 300  # dropped requests waited for a free slot


def test_closed_loop_locust_at_the_same_rate_sends_far_fewer_during_the_stall(tmp_path: Path):
    with serve(tmp_path, **STALL) as url:
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(CLOSED_LOOP_LOCUSTFILE), "--headless",
             "--users=10", "--spawn-rate=100", "--run-time=5s", f"--host={url}",
             "--only-summary", "--loglevel=WARNING", "--exit-code-on-error=0"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        times, window = arrivals(url)
    before = count_within(times, (window[0] - 1.0, window[0]))
    during = count_within(times, window)
    assert before >= 70  # the same ~100 req/s before the stall
    assert during <= 30  # each user sent one request into the stall, then waited on it
