"""The rules that make run_summary's figures mean what they say, on small hand-made runs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.database import CheckVerdict
from tests.unit.store_rows import T0, record, row, write_rows


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "metrics.duckdb")


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def event(kind: str, env: str | None, seconds: float, **fields) -> PlatformEvent:
    columns = {k: fields.pop(k) for k in ("init_ms",) if k in fields}
    return PlatformEvent(
        at=at(seconds), target="local-lambda", kind=kind, environment_id=env, detail=fields,
        **columns,
    )  # fmt: skip


def ingest(store, tmp_path, run_id, rows, events=(), **changes):
    files = [write_rows(tmp_path / f"{run_id}.parquet", rows)]
    store.ingest_run(record(run_id, rows, **changes), request_files=files, events=events)
    (summary,) = store.summary_rows([run_id])
    return summary


def test_more_than_one_percent_failed_misses_the_slo_whatever_the_successes_p99(store, tmp_path):
    rows = [row(i, latency_ms=5.0) for i in range(98)]
    rows += [row(98 + i, outcome="http_error", status=500) for i in range(2)]
    summary = ingest(store, tmp_path, "r", rows, slo_p99_ms=1000.0)
    assert summary["p99_ok_ms"] == pytest.approx(5.0, abs=0.01)  # the successes are fast
    assert summary["p99_is_failure"] is True
    assert summary["slo_met"] is False


def test_a_fast_run_without_failures_meets_the_slo(store, tmp_path):
    rows = [row(i, latency_ms=5.0) for i in range(200)]
    summary = ingest(store, tmp_path, "r", rows, slo_p99_ms=1000.0)
    assert summary["slo_met"] is True
    assert summary["p99_too_few"] is False
    assert summary["p999_too_few"] is True


def test_small_samples_are_flagged_for_the_percentiles_they_cannot_carry(store, tmp_path):
    summary = ingest(store, tmp_path, "r", [row(i) for i in range(50)])
    assert (summary["p90_too_few"], summary["p99_too_few"]) == (False, True)


def test_time_to_first_success_is_kept_per_run(store, tmp_path):
    summary = ingest(store, tmp_path, "r", [row(0)], time_to_first_success_ms=8123.0)
    assert summary["time_to_first_success_ms"] == 8123.0


def test_cold_starts_are_split_into_the_platforms_init_and_the_hosts_wait(store, tmp_path):
    rows = [
        row(0, latency_ms=4100, cold=True, environment_id="ee-1"),
        row(1, latency_ms=7100, cold=True, environment_id="ee-2", at_s=0.5),
        row(2, latency_ms=10, environment_id="ee-1", at_s=6.0),
    ]
    events = [
        event("cold_start", "ee-1", 4.0, init_ms=4000.0, init_wait_ms=0.2),
        event("cold_start", "ee-2", 7.5, init_ms=3000.0, init_wait_ms=4000.0),
    ]
    summary = ingest(store, tmp_path, "r", rows, events, target="local-lambda")
    assert summary["cold_starts"] == 2
    assert summary["cold_start_init_p50_ms"] == pytest.approx(3500.0)
    assert summary["cold_start_wait_p50_ms"] == pytest.approx(2000.1)
    assert summary["cold_start_p50_ms"] == pytest.approx(5600.0, abs=0.1)


@pytest.mark.parametrize("target", ["local-k8s", "aws-eks"])
def test_on_kubernetes_the_cold_start_split_is_each_pods_start_and_its_wait_for_a_node(
    store, tmp_path, target
):
    pods = [(5000.0, 0.0), (9000.0, 4000.0), (6000.0, 200.0), (7000.0, 600.0)]  # init, pending
    events = [
        PlatformEvent(at=at(i), target=target, kind="pod_ready", environment_id=f"pod-{i}",
                      init_ms=init, detail={"pending_ms": pending})
        for i, (init, pending) in enumerate(pods)
    ]  # fmt: skip
    rows = [row(i, environment_id=f"pod-{i % 4}", cold=True) for i in range(8)]
    summary = ingest(store, tmp_path, "r", rows, events, target=target, scenario="cold_start")
    assert summary["cold_starts"] == 0  # k8s-style: no request is marked cold, whatever it says
    assert summary["cold_start_init_p50_ms"] == pytest.approx(6500.0)
    assert summary["cold_start_wait_p50_ms"] == pytest.approx(400.0)


def test_pod_events_are_no_init_of_a_lambda_style_run(store, tmp_path):
    events = [
        PlatformEvent(
            at=at(0),
            target="local-lambda",
            kind="pod_ready",
            environment_id="pod-0",
            init_ms=5000.0,
            detail={"pending_ms": 9.0},
        )
    ]
    summary = ingest(store, tmp_path, "r", [row(0)], events, target="local-lambda")
    assert (summary["cold_start_init_p50_ms"], summary["cold_start_wait_p50_ms"]) == (None, None)


def test_requests_a_host_limit_bent_are_counted_and_left_out_of_the_platform_figures(
    store, tmp_path
):
    rows = [row(i, latency_ms=10.0, environment_id="ee-1") for i in range(8)]
    rows.append(row(8, outcome="http_error", status=500, gateway_request_id="gw-1",
                    environment_id=None))  # fmt: skip
    rows.append(row(9, latency_ms=9000.0, cold=True, environment_id="ee-2"))
    events = [
        event("throttle", None, 0.1, reason="concurrency_limit", host_limited=True,
              gateway_request_id="gw-1"),
        event("cold_start", "ee-2", 9.0, init_ms=3000.0, init_wait_ms=5900.0,
              init_slot_host_limited=True),
    ]  # fmt: skip
    summary = ingest(store, tmp_path, "r", rows, events, target="local-lambda")
    limits = store.query("SELECT seq, host_limit FROM requests WHERE host_limit IS NOT NULL")
    assert sorted(limits.to_pylist(), key=lambda r: r["seq"]) == [
        {"seq": 8, "host_limit": "concurrency_limit"},
        {"seq": 9, "host_limit": "init_slot"},
    ]
    assert summary["host_limited_share"] == pytest.approx(0.2)
    assert summary["platform_requests"] == 8
    assert summary["p99_platform_ms"] == pytest.approx(10.0, abs=0.01)
    assert summary["p99_ms"] is None  # every request counts in the headline figure


def test_a_throttle_under_the_platforms_own_rule_is_not_host_limited(store, tmp_path):
    rows = [row(0, outcome="http_error", status=500, gateway_request_id="gw-1")]
    events = [event("throttle", None, 0.0, reason="scale_out_rate", host_limited=False,
                    gateway_request_id="gw-1")]  # fmt: skip
    summary = ingest(store, tmp_path, "r", rows, events, target="local-lambda")
    assert summary["host_limited_share"] == 0.0


def test_joining_latest_runs_on_run_id_never_makes_a_column_ambiguous(store, tmp_path):
    ingest(store, tmp_path, "r", [row(0)])
    joined = store.query(
        "SELECT target, scenario, p50_ms FROM run_summary JOIN latest_runs USING (run_id)"
    ).to_pylist()
    assert [(r["target"], r["scenario"]) for r in joined] == [("local-k8s", "warm_steady")]
    assert joined[0]["p50_ms"] == pytest.approx(10.0, abs=0.01)


def test_a_run_a_blocking_check_refused_is_left_out_of_the_summaries(store, tmp_path):
    ingest(store, tmp_path, "old", [row(0)], series_id="a", started_at=at(-100))
    ingest(store, tmp_path, "new", [row(0)], series_id="b")
    store.record_checks(["new"], [CheckVerdict("rows_equal_scheduled", True, False, "lost rows")])
    assert store.latest_complete_runs("local-k8s", "warm_steady", "quick") == ["old"]
    (refused,) = store.refused_runs()
    assert (refused["run_id"], refused["check_name"]) == ("new", "rows_equal_scheduled")
    store.record_checks(["new"], [CheckVerdict("rows_equal_scheduled", True, True, "re-checked")])
    assert store.latest_complete_runs("local-k8s", "warm_steady", "quick") == ["new"]


def test_a_scale_out_whose_pod_never_served_says_so(store, tmp_path):
    rows = [row(i, environment_id="pod-1") for i in range(5)]
    events = [
        PlatformEvent(at=at(0.01), target="local-k8s", kind="scale_out"),
        PlatformEvent(at=at(30), target="local-k8s", kind="pod_ready", environment_id="pod-2",
                      init_ms=6000.0),
    ]  # fmt: skip
    assert ingest(store, tmp_path, "r", rows, events)["scale_out_served"] is False
    rows.append(row(5, environment_id="pod-2"))
    assert ingest(store, tmp_path, "r2", rows, events)["scale_out_served"] is True
    assert ingest(store, tmp_path, "r3", [row(0)])["scale_out_served"] is None


def test_runs_stored_before_the_validity_columns_stay_readable(store, tmp_path):
    store.migrate(target=3)
    config = {"measure": [{"duration_s": 5.0}, {"duration_s": 2.5}]}
    with duckdb.connect(str(store.path)) as conn:  # a raw connection: the store's would migrate
        conn.execute(
            "INSERT INTO benchmark_runs (run_id, series_id, target, scenario, repetition,"
            " repetitions, profile, started_at, status, scheduled, dropped, config)"
            " VALUES ('old', 's', 'local-k8s', 'burst', 0, 1, 'quick', now(), 'complete', 0, 0, ?)",
            [json.dumps(config)],
        )
    store.migrate()
    (run,) = store.query("SELECT measure_s, slo_p99_ms FROM benchmark_runs").to_pylist()
    assert run == {"measure_s": 7.5, "slo_p99_ms": None}
    (summary,) = store.summary_rows(["old"])
    assert summary["requests"] == 0
    assert summary["slo_met"] is None
