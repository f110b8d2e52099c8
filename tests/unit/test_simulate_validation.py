"""Validation: local runs replayed with their own settings, compared figure by figure."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.simulate.validation import (
    count_bound,
    validate_runs,
    validation_table,
)
from nlp_bench_pipeline.targets.local_k8s.config import LocalK8sConfig
from tests.unit.test_simulate_calibration import Event, Request, StoreBuilder

LAMBDA_HOST = {
    "deployment": {
        "api": "http",
        "config": {
            "scale_out_limit": 1000,
            "scale_out_window_s": 10.0,
            "provisioned_concurrency": 0,
            "gateway_rate_limit_rps": 10_000.0,
            "gateway_burst": 5000,
        },
        "limits": {
            "concurrency_limit": 2,
            "max_concurrent_inits": 1,
            "integration_timeout_s": 30.0,
            "init_timeout_s": 10.0,
            "function_timeout_s": 30.0,
            "idle_eviction_s": 10.0,
        },
    },
    "warming": {"environment_id": "env-1", "cold_start_header": True},
}


def lambda_run(extra_cold: int = 0) -> tuple[list[Request], list[Event]]:
    """Warm-up and measure at 100 ms per request on the warmed environment, then three at once
    at 31 s with a concurrency limit of 2: one warm, one cold (5 s init), one throttled."""
    requests = [Request(i, 0.5 * i, 102.0, 100.0, phase="warmup") for i in range(20)]
    requests += [Request(20 + i, 10.0 + 0.2 * i, 102.0, 100.0) for i in range(100)]
    requests += [
        Request(120, 31.0, 102.0, 100.0),
        Request(121, 31.0, 5102.0, 100.0, cold_start=True, environment_id="env-2"),
        Request(122, 31.0, 2.0, None, outcome="http_error", status_code=500,
                environment_id=None, gateway_request_id="gw-122"),
    ]  # fmt: skip
    for k in range(extra_cold):  # cold starts the rules cannot explain
        requests[30 + 5 * k].cold_start = True
    events = [
        Event("report", 1.0, "env-1", duration_ms=100.0, memory_mb=1769),
        Event("cold_start", 36.0, "env-2", init_ms=5000.0, detail={"init_type": "on-demand"}),
        Event("throttle", 31.0, detail={"gateway_request_id": "gw-122"}),
        Event("throttle", 5.0, detail={"gateway_request_id": "gw-warmup"}),  # not the measure's
    ]  # fmt: skip
    return requests, events


def k8s_host() -> dict[str, object]:
    return {
        "deployment": {
            "config": LocalK8sConfig().model_dump(mode="json", by_alias=True),
            "replicas": {"min": 2, "max": 2, "hpa": False},
            "cpu": {"request": 1.0, "limit": 1.0, "threads": 1},
            "nodes": {"pods_per_node": 1, "nodes": 2, "max_nodes": 10, "add_delay_s": 120.0},
        },
        "warming": {"environment_id": "pod-a"},
    }


@pytest.fixture
def builder(tmp_path: Path) -> StoreBuilder:
    return StoreBuilder(tmp_path / "metrics.duckdb")


def rows_by_metric(validation) -> dict[str, object]:
    return {row.metric: row for row in validation.rows}


def test_a_lambda_run_replayed_with_its_own_settings_agrees(builder):
    requests, events = lambda_run()
    builder.run("lam-1", "local-lambda", requests, events, host=LAMBDA_HOST)
    [validation] = validate_runs(builder.store, resamples=200)
    rows = rows_by_metric(validation)
    assert rows["cold_starts"].measured == 1
    assert rows["cold_starts"].simulated == 1
    assert rows["throttles"].measured == 1  # the warm-up's throttle is not the measure phase's
    assert rows["throttles"].simulated == 1
    assert rows["p50_ms"].simulated == pytest.approx(102.0)
    assert rows["p99_ms"].simulated == pytest.approx(rows["p99_ms"].measured)
    assert validation.passed
    assert validation.settings["concurrency_limit"] == 2
    assert validation.settings["warm_at_start"] == 1
    assert validation.distributions["source"] == "measured"


def test_a_figure_outside_its_bound_fails_and_says_why(builder):
    requests, events = lambda_run(extra_cold=5)
    builder.run("lam-2", "local-lambda", requests, events, host=LAMBDA_HOST)
    [validation] = validate_runs(builder.store, resamples=200)
    row = rows_by_metric(validation)["cold_starts"]
    assert (row.measured, row.simulated, row.low, row.high) == (6, 1, 4, 8)
    assert not row.passed
    assert "more environments than the rules need" in row.reason
    assert not validation.passed
    table = validation_table([validation])
    assert {r["metric"] for r in table} == {"p50_ms", "p99_ms", "cold_starts", "throttles"}
    assert all(
        set(r) >= {"measured", "simulated", "low", "high", "passed", "reason"} for r in table
    )


def test_a_k8s_run_replayed_through_its_pods_agrees(builder):
    requests = [
        Request(i, 0.1 * i, 51.0, 50.0, environment_id=("pod-a", "pod-b")[i % 2])
        for i in range(200)
    ]
    builder.run("k8s-1", "local-k8s", requests, host=k8s_host())
    [validation] = validate_runs(builder.store, resamples=200)
    rows = rows_by_metric(validation)
    assert rows["p50_ms"].simulated == pytest.approx(51.0)
    assert rows["cold_starts"].simulated == 0
    assert validation.passed
    assert validation.settings["min_replicas"] == 2


def test_only_complete_local_runs_are_replayed(builder):
    requests, events = lambda_run()
    builder.run("lam-1", "local-lambda", requests, events, host=LAMBDA_HOST)
    builder.run("lam-bad", "local-lambda", [], status="failed", series="s2")
    builder.run("aws-1", "aws-lambda", requests, events, host=LAMBDA_HOST, series="s3")
    assert [v.run_id for v in validate_runs(builder.store, resamples=50)] == ["lam-1"]


def test_percentile_bound_is_the_wider_of_15_percent_and_the_bootstrap_interval(builder):
    # a widely spread measure phase: its bootstrap interval of p99 is wider than +-15 %
    requests = [
        Request(i, 0.5 * i, 2.0 + 50.0 * (1 + (i % 7) ** 3), 50.0 * (1 + (i % 7) ** 3))
        for i in range(60)
    ]
    report = [Event("report", 1.0, "env-1", duration_ms=100.0, memory_mb=1769)]  # its size
    builder.run("lam-3", "local-lambda", requests, report, host=LAMBDA_HOST)
    [validation] = validate_runs(builder.store, resamples=300)
    p99 = rows_by_metric(validation)["p99_ms"]
    assert p99.high - p99.low > 0.3 * p99.measured
    p50 = rows_by_metric(validation)["p50_ms"]
    assert p50.low <= 0.85 * p50.measured
    assert p50.high >= 1.15 * p50.measured


def test_count_bound_is_15_percent_or_2_whichever_is_larger():
    assert count_bound(4.0) == (2.0, 6.0)
    assert count_bound(100.0) == (85.0, 115.0)
    assert count_bound(0.0) == (0.0, 2.0)


def test_a_run_too_small_to_measure_its_service_time_is_not_replayed_and_says_why(builder):
    # 10 requests (a quick cold_start's): the replay would draw the defaults, not the run's
    requests = [
        Request(i, 0.5 * i, 51.0, 50.0, environment_id=("pod-a", "pod-b")[i % 2]) for i in range(10)
    ]
    builder.run("k8s-small", "local-k8s", requests, host=k8s_host())
    [validation] = validate_runs(builder.store, resamples=50)
    assert validation.rows == ()
    assert "fewer than 20 warm ok requests" in (validation.not_replayed or "")
    assert not validation.passed
    assert validation_table([validation]) == []
