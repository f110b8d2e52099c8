"""Ingestion: one transaction per run, bulk loads, derived columns, cold starts from events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample
from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import T0, record, row, write_rows


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "metrics.duckdb")


def ingest(
    store: MetricStore, tmp_path: Path, run_id: str, rows, *, events=(), samples=(), **changes
):
    files = [write_rows(tmp_path / f"{run_id}.parquet", rows)]
    return store.ingest_run(
        record(run_id, rows, **changes), request_files=files, events=events, samples=samples
    )


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def test_every_row_is_loaded_with_latencies_derived_from_its_times(store, tmp_path):
    report = ingest(store, tmp_path, "r1", [row(0, latency_ms=25, lateness_ms=3)])
    assert report.requests == 1
    assert not report.replaced
    (loaded,) = store.query("SELECT * FROM requests").to_pylist()
    assert loaded["latency_ms"] == pytest.approx(25, abs=0.01)
    assert loaded["corrected_latency_ms"] == pytest.approx(28, abs=0.01)
    assert loaded["send_lateness_ms"] == pytest.approx(3, abs=0.01)
    assert loaded["intended_at"] == at(0)
    assert loaded["ok"] is True
    assert loaded["phase"] == "measure"


def test_a_dropped_row_has_no_send_time_but_a_lateness_until_a_slot_freed(store, tmp_path):
    ingest(store, tmp_path, "r1", [row(0, outcome="dropped", lateness_ms=400)])
    (loaded,) = store.query("SELECT * FROM requests").to_pylist()
    assert loaded["sent_at"] is None
    assert loaded["latency_ms"] is None
    assert loaded["send_lateness_ms"] == pytest.approx(400, abs=0.01)


def test_a_retried_run_replaces_its_own_rows_and_leaves_history_alone(store, tmp_path):
    ingest(store, tmp_path, "older", [row(0), row(1)])
    ingest(store, tmp_path, "retried", [row(0), row(1), row(2)])
    report = ingest(store, tmp_path, "retried", [row(0, latency_ms=99)])
    assert report.replaced
    counts = store.query(
        "SELECT run_id, count(*) AS n FROM requests GROUP BY run_id ORDER BY run_id"
    ).to_pylist()
    assert counts == [{"run_id": "older", "n": 2}, {"run_id": "retried", "n": 1}]
    assert store.query("SELECT count(*) AS n FROM benchmark_runs").to_pylist() == [{"n": 2}]


def test_a_complete_run_must_have_one_row_per_scheduled_request(store, tmp_path):
    rows = [row(0), row(1)]
    with pytest.raises(ValueError, match="2 rows for 3 scheduled"):
        ingest(store, tmp_path, "short", rows, scheduled=3)
    assert store.query("SELECT count(*) AS n FROM benchmark_runs").to_pylist() == [{"n": 0}]


def test_a_failed_run_without_rows_is_recorded(store, tmp_path):
    store.ingest_run(record("failed", [], status="failed", scheduled=10), request_files=[])
    (summary,) = store.summary_rows(["failed"])
    assert summary["requests"] == 0
    assert summary["p99_ms"] is None


def test_events_and_samples_arrive_with_the_run(store, tmp_path):
    events = [
        PlatformEvent(
            at=at(1),
            target="local-k8s",
            kind="pod_ready",
            environment_id="pod-1",
            detail={"replicas": 2},
        ),
        PlatformEvent(at=at(2), target="local-k8s", kind="scale_out"),
    ]
    samples = [
        ResourceSample(
            at=at(1), target="local-k8s", environment_id="pod-1", cpu_pct=50.0, rss_mb=300.0
        )
    ]
    report = ingest(store, tmp_path, "r1", [row(0)], events=events, samples=samples)
    assert (report.events, report.samples) == (2, 1)
    loaded = store.query(
        "SELECT kind, detail->>'$.replicas' AS replicas FROM platform_events ORDER BY \"at\""
    ).to_pylist()
    assert loaded == [
        {"kind": "pod_ready", "replicas": "2"},
        {"kind": "scale_out", "replicas": None},
    ]
    assert store.query("SELECT cpu_pct FROM resource_samples").to_pylist() == [{"cpu_pct": 50.0}]


def test_the_cold_start_header_counts_on_lambda_style_targets(store, tmp_path):
    rows = [row(0, cold=True), row(1, cold=False), row(2, cold=None)]
    ingest(store, tmp_path, "lambda", rows, target="local-lambda")
    cold = store.query("SELECT seq, cold_start FROM requests ORDER BY seq").to_pylist()
    assert [r["cold_start"] for r in cold] == [True, False, False]


def test_k8s_style_targets_never_mark_a_request_cold(store, tmp_path):
    ingest(store, tmp_path, "pods", [row(0, cold=True)], target="local-k8s")
    assert store.query("SELECT cold_start FROM requests").to_pylist() == [{"cold_start": False}]


def lambda_init(environment_id: str, start_s: float, end_s: float | None) -> list[PlatformEvent]:
    events = [
        PlatformEvent(
            at=at(start_s), target="local-lambda", kind="init_start", environment_id=environment_id
        )
    ]
    if end_s is not None:
        events.append(
            PlatformEvent(
                at=at(end_s),
                target="local-lambda",
                kind="cold_start",
                environment_id=environment_id,
                init_ms=(end_s - start_s) * 1000,
            )
        )
    return events


def test_a_gateway_timeout_while_its_init_ran_is_marked_cold_from_the_events(store, tmp_path):
    # seq 0 is sent at ~0 s, waits 30 s and gets the gateway's 503 while env-x still initialises
    # (0.5 s .. 40 s); seq 1 got a 503 long after that init finished: not a cold start.
    rows = [
        row(0, outcome="http_error", status=503, latency_ms=30_000, environment_id=None),
        row(
            1,
            outcome="http_error",
            status=503,
            latency_ms=30_000,
            environment_id=None,
            at_s=50,
        ),
        row(2, cold=True, environment_id="env-y"),
    ]
    report = ingest(
        store, tmp_path, "lam", rows, target="local-lambda", events=lambda_init("env-x", 0.5, 40.0)
    )
    assert report.cold_starts_from_events == 1
    cold = store.query("SELECT seq FROM requests WHERE cold_start ORDER BY seq").to_pylist()
    assert cold == [{"seq": 0}, {"seq": 2}]


def test_the_gateways_own_timeout_event_marks_the_request_it_names(store, tmp_path):
    # With request ids the platform says exactly which timed-out request waited on an init:
    # gw-1 did, gw-2 timed out on a warm environment (a slow function), gw-3 has no event.
    failed = {"outcome": "http_error", "status": 503, "latency_ms": 30_000, "environment_id": None}
    rows = [row(i, gateway_request_id=f"gw-{i + 1}", **failed) for i in range(3)]
    events = [
        PlatformEvent(at=at(30), target="local-lambda", kind="timeout", environment_id="e1",
                      detail={"scope": "gateway", "waited_on_init": True,
                              "gateway_request_id": "gw-1"}),
        PlatformEvent(at=at(30), target="local-lambda", kind="timeout", environment_id="e2",
                      detail={"scope": "gateway", "waited_on_init": False,
                              "gateway_request_id": "gw-2"}),
        *lambda_init("e3", 0.005, None),  # overlaps gw-3, but ids are known: no guessing by time
    ]  # fmt: skip
    report = ingest(store, tmp_path, "lam", rows, target="local-lambda", events=events)
    assert report.cold_starts_from_events == 1
    cold = store.query(
        "SELECT gateway_request_id, environment_id FROM requests WHERE cold_start"
    ).to_pylist()
    # The environment it waited on comes from the event: the gateway answered without one.
    assert cold == [{"gateway_request_id": "gw-1", "environment_id": "e1"}]


def test_each_init_is_credited_to_one_waiting_request(store, tmp_path):
    # Two requests time out while one init runs: only the one sent just before it began waited
    # on it; with an init still open at the end (no cold_start event), the window is open-ended.
    rows = [
        row(
            i,
            outcome="timeout",
            status=None,
            error="Timeout",
            latency_ms=35_000,
            environment_id=None,
        )
        for i in (0, 1)
    ]
    ingest(store, tmp_path, "lam", rows, target="aws-lambda", events=lambda_init("e", 0.02, None))
    cold = store.query("SELECT seq FROM requests WHERE cold_start").to_pylist()
    assert cold == [{"seq": 1}]


def test_only_a_cold_start_event_with_init_ms_also_defines_the_window(store, tmp_path):
    rows = [row(0, outcome="http_error", status=504, latency_ms=29_000, environment_id=None)]
    events = [
        PlatformEvent(
            at=at(31), target="aws-lambda", kind="cold_start", environment_id="e", init_ms=30_000
        )
    ]
    report = ingest(store, tmp_path, "lam", rows, target="aws-lambda", events=events)
    assert report.cold_starts_from_events == 1


def test_ingestion_refuses_missing_files(store, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.parquet"):
        store.ingest_run(record("r", [row(0)]), request_files=[tmp_path / "nowhere.parquet"])


def test_events_at_other_times_do_not_mark_successful_requests(store, tmp_path):
    ingest(
        store, tmp_path, "lam", [row(0)], target="local-lambda", events=lambda_init("e", 0.0, 5.0)
    )
    assert store.query("SELECT cold_start FROM requests").to_pylist() == [{"cold_start": False}]


def test_timestamps_come_back_as_utc(store, tmp_path):
    ingest(store, tmp_path, "r1", [row(0)])
    (loaded,) = store.query("SELECT intended_at FROM requests").to_pylist()
    assert loaded["intended_at"].utcoffset() == timedelta(0)
