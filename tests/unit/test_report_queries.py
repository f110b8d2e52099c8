"""The report's SQL on hand-made runs: bounded, and saying what the runs hold."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlp_bench_pipeline.store import report_queries as q
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.test_report_rows import (
    COLD,
    COLD_LATENCY_MS,
    COLD_SERVER_MS,
    INIT_MS,
    K8S_BURST,
    LAMBDA_BURST,
    RUN_IDS,
    THROTTLED,
    WAIT_MS,
    add_economics,
    build_report_store,
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MetricStore:
    return build_report_store(tmp_path_factory.mktemp("queries"))


def test_report_runs_are_the_latest_of_one_profile_with_their_provenance(store) -> None:
    runs = q.report_runs(store, "quick")
    assert sorted(r["run_id"] for r in runs) == sorted(RUN_IDS)
    assert {r["model_digest"] for r in runs} == {"sha256:abc"}
    assert {r["measure_s"] for r in runs} == {11.0, 12.0}
    assert q.report_runs(store, "full") == []
    assert q.newest_profile(store) == "quick"


def test_latency_buckets_are_bounded_and_count_every_request(store) -> None:
    buckets = q.latency_buckets(store, [LAMBDA_BURST], max_buckets=5)
    assert len(buckets) <= 5 + 1
    assert sum(b["requests"] for b in buckets) == 124  # warm-up included
    assert sum(b["failed"] for b in buckets) == len(THROTTLED)
    assert sum(b["cold_starts"] for b in buckets) == len(COLD)


def test_event_marks_count_the_platforms_events_while_requests_ran(store) -> None:
    marks = q.event_marks(store, [LAMBDA_BURST])
    by_kind: dict[str, int] = {}
    for mark in marks:
        by_kind[mark["kind"]] = by_kind.get(mark["kind"], 0) + mark["events"]
    # the probe's cold start happened before the first request: not on the timeline
    assert by_kind == {"cold_start": len(COLD), "throttle": len(THROTTLED), "evict": 1}


def test_cold_request_parts_add_up_to_the_cold_latency(store) -> None:
    (parts,) = q.cold_request_parts(store, [LAMBDA_BURST])
    assert parts["cold_requests"] == len(COLD)
    assert parts["init_mean_ms"] == INIT_MS
    assert parts["wait_mean_ms"] == WAIT_MS
    assert parts["server_mean_ms"] == COLD_SERVER_MS
    assert parts["latency_mean_ms"] == pytest.approx(COLD_LATENCY_MS)


def test_capacity_steps_follow_environments_and_pods(store) -> None:
    steps = q.capacity_steps(store, [LAMBDA_BURST, K8S_BURST])
    lambda_values = [int(s["value"]) for s in steps if s["run_id"] == LAMBDA_BURST]
    assert lambda_values == [1, 2, 3, 4, 3]  # env-a, then b, c, d; env-b evicted
    pods = [(round(s["t_s"], 1), int(s["value"])) for s in steps if s["run_id"] == K8S_BURST]
    assert pods == [(-5.0, 1), (6.5, 2), (13.5, 1)]


def test_in_flight_peaks_see_the_cold_requests_overlap(store) -> None:
    peaks = q.in_flight_peaks(store, [LAMBDA_BURST])
    assert max(p["value"] for p in peaks) >= len(COLD)


def test_slowest_requests_count_cold_starts_among_the_ten_slowest(store) -> None:
    rows = {r["run_id"]: r for r in q.slowest_requests(store, [LAMBDA_BURST, K8S_BURST], n=10)}
    assert rows[LAMBDA_BURST]["requests"] == 10
    assert rows[LAMBDA_BURST]["cold_starts"] == len(COLD)
    assert rows[K8S_BURST]["cold_starts"] == 0


def test_latency_quantiles_are_of_the_successes_with_the_counts_to_scale_them(store) -> None:
    (row,) = q.latency_quantiles(store, [LAMBDA_BURST], [0.0, 0.5, 1.0])
    assert row["requests"] == 120
    assert row["ok"] == 120 - len(THROTTLED)
    assert row["quantiles_ms"][-1] == pytest.approx(COLD_LATENCY_MS + 1.0)  # corrected: +1 ms


def test_economics_rows_come_from_the_latest_views_and_only_those_tables(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)
    assert q.latest_rows(store, "cost_breakeven") == []
    add_economics(store)
    assert q.economics_tables(store) == set(q.ECONOMICS_TABLES)
    assert len(q.latest_rows(store, "memory_sweep")) == 3
    with pytest.raises(ValueError, match="not an economics table"):
        q.latest_rows(store, "requests")


def test_a_comparison_is_stored_one_row_per_target(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)
    row = dict.fromkeys(q.LIVE_COMPARISON_COLUMNS) | {
        "comparison_id": "c1", "target": "t", "sent_at": datetime.now(UTC), "text": "x",
        "ok": True, "first_attempt_ms": 5.0, "first_label": "ok", "attempts": 1,
        "attempt_labels": ["ok"],
    }  # fmt: skip
    q.record_live_comparison(store, [row])
    q.record_live_comparison(store, [row])  # the same comparison again replaces its rows
    assert store.query("SELECT count(*) AS n FROM live_comparisons").to_pylist() == [{"n": 1}]
