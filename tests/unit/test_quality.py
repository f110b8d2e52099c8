"""Checks on a cell's data in DuckDB: each fails on bad data and passes on good."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.checks import error_rate_within, p99_within_slo, rows_match_schedule
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.store_rows import record, row, write_rows


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "bench.duckdb")


def ingest(store: MetricStore, tmp_path: Path, run_id: str, rows, **changes) -> str:
    path = write_rows(tmp_path / f"{run_id}.parquet", rows)
    store.ingest_run(record(run_id, rows, **changes), request_files=[path])
    return run_id


def good_rows(n: int = 100, latency_ms: float = 10.0) -> list[dict]:
    return [row(i, latency_ms=latency_ms) for i in range(n)]


def test_rows_equal_scheduled_passes_on_a_complete_run(store, tmp_path) -> None:
    run = ingest(store, tmp_path, "run-good", good_rows())
    outcome = rows_match_schedule(store, [run])
    assert outcome.passed, outcome.description
    assert outcome.metadata["rows"] == 100


def test_rows_equal_scheduled_fails_when_rows_are_missing(store, tmp_path) -> None:
    rows = good_rows()
    run = ingest(
        store,
        tmp_path,
        "run-short",
        rows[:90],
        status="incomplete",
        scheduled=100,
        locust_requests=100,
    )
    outcome = rows_match_schedule(store, [run])
    assert not outcome.passed
    assert "90 rows" in outcome.description
    assert "100 scheduled" in outcome.description


def test_rows_equal_scheduled_fails_when_locust_counted_otherwise(store, tmp_path) -> None:
    run = ingest(
        store, tmp_path, "run-locust", good_rows(), status="incomplete", locust_requests=97
    )
    outcome = rows_match_schedule(store, [run])
    assert not outcome.passed
    assert "Locust sent 97" in outcome.description


def test_rows_equal_scheduled_passes_when_the_generators_own_tally_agrees(store, tmp_path):
    tally = {"ok": 98, "http_error": 2, "sent": 100, "dropped": 0}
    rows = good_rows(98) + [row(98 + i, outcome="http_error", status=500) for i in range(2)]
    run = ingest(store, tmp_path, "run-tallied", rows, generator_tally=tally)
    outcome = rows_match_schedule(store, [run])
    assert outcome.passed, outcome.description


@pytest.mark.parametrize(
    ("tally", "problem"),
    [
        # a request the generator saw fail is stored as a success
        ({"ok": 99, "http_error": 1, "sent": 100}, "100 ok rows, the generator counted 99"),
        ({"ok": 99, "http_error": 1, "sent": 100}, "0 http_error rows, the generator counted 1"),
        # the generator dropped a request that is stored as sent
        ({"ok": 99, "sent": 99, "dropped": 1}, "0 dropped rows, the generator counted 1"),
        (
            {"ok": 99, "sent": 99, "dropped": 1},
            "Locust counted 100 requests, the generator sent 99",
        ),
    ],
)
def test_rows_equal_scheduled_fails_when_the_rows_differ_from_the_generators_tally(
    store, tmp_path, tally, problem
) -> None:
    # rows, schedule and Locust's totals agree with each other: only the tally tells
    run = ingest(store, tmp_path, "run-recounted", good_rows(), generator_tally=tally)
    outcome = rows_match_schedule(store, [run])
    assert not outcome.passed
    assert f"run-recounted: {problem}" in outcome.description


def test_rows_equal_scheduled_fails_without_any_run(store) -> None:
    assert not rows_match_schedule(store, []).passed


def test_error_rate_counts_errors_and_drops(store, tmp_path) -> None:
    rows = good_rows(95) + [row(95 + i, outcome="http_error", status=500) for i in range(3)]
    rows += [row(98 + i, outcome="dropped", status=None) for i in range(2)]
    run = ingest(store, tmp_path, "run-errors", rows)
    assert not error_rate_within(store, [run], 0.01).passed
    passed = error_rate_within(store, [run], 0.05)
    assert passed.passed
    assert passed.metadata["worst_failed_share"] == pytest.approx(0.05)


def test_p99_slo_fails_over_the_bound_and_passes_under(store, tmp_path) -> None:
    rows = [*good_rows(98), row(98, latency_ms=900.0), row(99, latency_ms=950.0)]
    run = ingest(store, tmp_path, "run-slow", rows)
    assert not p99_within_slo(store, [run], 500).passed
    assert p99_within_slo(store, [run], 2_000).passed


def test_p99_slo_fails_when_nothing_succeeded(store, tmp_path) -> None:
    rows = [row(i, outcome="http_error", status=502) for i in range(10)]
    run = ingest(store, tmp_path, "run-broken", rows)
    assert not p99_within_slo(store, [run], 10_000).passed


def test_latest_series_is_the_newest_series_of_the_cell(store, tmp_path) -> None:
    ingest(store, tmp_path, "old", good_rows(5), series_id="s1")
    from datetime import timedelta

    newer = record("new", good_rows(5), series_id="s2").started_at + timedelta(hours=1)
    ingest(store, tmp_path, "new", good_rows(5), series_id="s2", started_at=newer)
    assert store.latest_series("local-k8s", "warm_steady") == ["new"]
    assert store.latest_series("local-lambda", "warm_steady") == []
