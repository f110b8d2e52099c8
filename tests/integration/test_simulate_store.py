"""The simulator on a metric store filled by the store's own ingestion (Parquet rows, events):
calibration, the validation replay and the command read what a benchmark run writes."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.simulate.command import register
from nlp_bench_pipeline.simulate.validation import validate_runs
from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import T0, record, row, write_rows
from tests.unit.test_simulate_validation import LAMBDA_HOST


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    """One local-lambda run, ingested as the pipeline ingests one."""
    rows = [
        row(i, latency_ms=102.0, server_ms=100.0, at_s=0.5 * i, phase="warmup") for i in range(20)
    ]
    rows += [row(20 + i, latency_ms=102.0, server_ms=100.0, at_s=10 + 0.2 * i) for i in range(100)]
    rows += [
        row(120, latency_ms=102.0, server_ms=100.0, at_s=31.0),
        row(121, latency_ms=5102.0, server_ms=100.0, at_s=31.0, cold=True, environment_id="env-2"),
        row(122, latency_ms=2.0, outcome="http_error", status=500, at_s=31.0, cold=None,
            environment_id=None, gateway_request_id="gw-122"),
    ]  # fmt: skip
    events = [
        PlatformEvent(at=at(1), target="local-lambda", kind="report", environment_id="env-1",
                      duration_ms=100.0, billed_ms=100.0, memory_mb=1769),
        PlatformEvent(at=at(31), target="local-lambda", kind="init_start", environment_id="env-2",
                      detail={"init_type": "on-demand", "init_wait_ms": 0.0}),
        PlatformEvent(at=at(36), target="local-lambda", kind="cold_start", environment_id="env-2",
                      init_ms=5000.0, detail={"init_type": "on-demand", "init_wait_ms": 0.0}),
        PlatformEvent(at=at(31), target="local-lambda", kind="throttle",
                      detail={"reason": "concurrency_limit", "gateway_request_id": "gw-122"}),
    ]  # fmt: skip
    metric_store = MetricStore(tmp_path / "nlp_bench.duckdb")
    files = [write_rows(tmp_path / "run.parquet", rows)]
    run = record("lam-1", rows, target="local-lambda", host=LAMBDA_HOST)
    metric_store.ingest_run(run, request_files=files, events=events)
    return metric_store


def test_an_ingested_run_replays_within_its_bounds(store):
    [validation] = validate_runs(store, resamples=200)
    figures = {r.metric: (r.measured, r.simulated, r.passed) for r in validation.rows}
    assert figures["cold_starts"] == (1, 1, True)
    assert figures["throttles"] == (1, 1, True)
    assert figures["p50_ms"][2]
    assert figures["p99_ms"][2]


def test_the_command_calibrates_from_the_ingested_run(store, capsys):
    parser = argparse.ArgumentParser(prog="nlp-bench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(
        ["simulate", "--platform", "lambda", "--rate", "50", "--hours", "0.05",
         "--db", str(store.path), "--json"]
    )  # fmt: skip
    assert args.handler(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["distributions"]["runs"] == ["lam-1"]
    assert out["distributions"]["quantities"]["work"]["median_ms"] == pytest.approx(100.0, abs=1)
    assert out["distributions"]["quantities"]["init"]["median_ms"] == 5000.0
