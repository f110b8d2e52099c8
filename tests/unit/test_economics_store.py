"""The economics tables: migration 0005 on an old file, whole writes, replacement, the latest_*
views, and what a row may and may not carry."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from nlp_bench_pipeline.store import MetricStore, StoreError
from nlp_bench_pipeline.store.economics import (
    COST_BREAKEVEN,
    COST_ESTIMATES,
    MEMORY_SWEEP,
    SIMULATION_VALIDATION,
    TABLES,
    read_computation,
    read_latest,
    write,
    write_many,
)
from nlp_bench_pipeline.store.migrations import latest_version, migrate

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def estimate(estimate_id: str, configuration: str = "1769 MB x86", **changes) -> dict:
    row = {
        "estimate_id": estimate_id, "computed_at": NOW, "platform": "lambda",
        "configuration": configuration, "architecture": "x86", "memory_mb": 1769,
        "traffic_profile": "steady-10rps", "shape": "steady", "mean_rps": 10.0,
        "peak_to_mean": 1.0, "requests_per_month": 26_280_000.0, "texts_per_request": 1.0,
        "usd_per_month": 3.0, "usd_per_million_inferences": 0.114,
        "breakdown": {"compute": 2.0, "requests": 1.0}, "chosen": True,
        "measured_on": "local-lambda", "profile": "quick", "run_ids": ["r1", "r2"],
        "catalog_digest": "abc", "region": "us-east-1",
        "notes": ["a note"],
    }  # fmt: skip
    return {**row, **changes}


def sweep_row(sweep_id: str, memory_mb: int, finished_at: datetime, target="local-lambda") -> dict:
    return {
        "sweep_id": sweep_id, "target": target, "memory_mb": memory_mb, "started_at": NOW,
        "finished_at": finished_at, "profile": "quick", "model": "tiny", "vcpus": 1.0,
        "status": "run", "warm_invocations": 5, "cold_invocations": 1, "errors": 0,
        "init_retries": 0, "balance_weight": 0.5, "best_by_cost": True, "best_by_speed": True,
        "best_balanced": True, "catalog_digest": "abc", "detail": {"host_cores": 2},
    }  # fmt: skip


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    store = MetricStore(tmp_path / "bench.duckdb")
    store.migrate()
    return store


def test_an_old_file_gains_the_economics_tables_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        assert migrate(conn, target=4) == [1, 2, 3, 4]
        conn.execute(
            "INSERT INTO benchmark_runs (run_id, series_id, target, scenario, repetition,"
            " repetitions, profile, started_at, status, scheduled, dropped)"
            " VALUES ('old-run', 's', 'local-k8s', 'ramp', 0, 1, 'quick', now(), 'failed', 0, 0)"
        )
    store = MetricStore(path)
    assert read_latest(store, COST_ESTIMATES) == []  # a reader upgrades it first
    assert store.schema_version() == latest_version() >= 5  # later migrations may follow
    assert store.summary_rows(["old-run"])[0]["requests"] == 0
    for table in TABLES.values():
        assert store.query(f"SELECT count(*) AS n FROM {table.name}").to_pylist() == [{"n": 0}]
        assert read_latest(store, table) == []


def test_a_computation_is_read_back_as_written_with_json_decoded(store: MetricStore) -> None:
    write(store, COST_ESTIMATES, "e1", [estimate("e1")])
    [row] = read_computation(store, COST_ESTIMATES, "e1")
    assert row["breakdown"] == {"compute": 2.0, "requests": 1.0}
    assert row["run_ids"] == ["r1", "r2"]
    assert row["computed_at"] == NOW
    assert row["node_type"] is None  # a column the row left out


def test_writing_the_same_id_again_replaces_that_computation_only(store: MetricStore) -> None:
    write(store, COST_ESTIMATES, "e1", [estimate("e1"), estimate("e1", "3008 MB x86")])
    write(store, COST_ESTIMATES, "e2", [estimate("e2")])
    write(store, COST_ESTIMATES, "e1", [estimate("e1", "512 MB x86")])
    assert [r["configuration"] for r in read_computation(store, COST_ESTIMATES, "e1")] == [
        "512 MB x86"
    ]
    assert len(read_computation(store, COST_ESTIMATES, "e2")) == 1


def test_a_row_with_an_unknown_column_is_refused_and_nothing_is_written(store: MetricStore) -> None:
    with pytest.raises(StoreError, match="cost_estimates has no column usd_per_year"):
        write(store, COST_ESTIMATES, "e1", [estimate("e1", usd_per_year=36.0)])
    with pytest.raises(StoreError, match="written as"):
        write(store, COST_ESTIMATES, "e1", [estimate("other")])
    assert read_computation(store, COST_ESTIMATES, "e1") == []


def test_tables_of_one_computation_are_written_in_one_transaction(store: MetricStore) -> None:
    breakeven = {"estimate_id": "e1", "computed_at": NOW, "shape": "steady"}  # misses NOT NULLs
    with pytest.raises(duckdb.ConstraintException):
        write_many(store, [(COST_ESTIMATES, [estimate("e1")]), (COST_BREAKEVEN, [breakeven])], "e1")
    assert read_computation(store, COST_ESTIMATES, "e1") == []


def test_the_latest_views_show_the_newest_computation(store: MetricStore) -> None:
    write(store, COST_ESTIMATES, "old", [estimate("old", computed_at=NOW - timedelta(days=1))])
    write(store, COST_ESTIMATES, "new", [estimate("new")])
    assert {r["estimate_id"] for r in read_latest(store, COST_ESTIMATES)} == {"new"}


def test_the_latest_sweep_is_kept_per_target(store: MetricStore) -> None:
    later = NOW + timedelta(hours=1)
    write(store, MEMORY_SWEEP, "a", [sweep_row("a", 1769, NOW), sweep_row("a", 3008, NOW)])
    write(store, MEMORY_SWEEP, "b", [sweep_row("b", 1769, later)])
    write(store, MEMORY_SWEEP, "c", [sweep_row("c", 1024, NOW, target="aws-lambda")])
    latest = read_latest(store, MEMORY_SWEEP, order_by="target, memory_mb")
    assert [(r["target"], r["sweep_id"], r["memory_mb"]) for r in latest] == [
        ("aws-lambda", "c", 1024),
        ("local-lambda", "b", 1769),
    ]
    assert latest[0]["detail"] == {"host_cores": 2}


def test_a_number_json_cannot_carry_is_stored_as_null(store: MetricStore) -> None:
    write(store, COST_ESTIMATES, "e1", [estimate("e1", breakdown={"compute": math.inf})])
    [row] = read_computation(store, COST_ESTIMATES, "e1")
    assert row["breakdown"] == {"compute": None}


def test_validation_rows_keep_their_verdict_and_reason(store: MetricStore) -> None:
    rows = [
        {"validated_at": NOW, "run_id": "r1", "target": "local-lambda", "scenario": "burst",
         "metric": "p99_ms", "measured": 120.0, "simulated": 200.0, "low": 100.0, "high": 140.0,
         "passed": False, "reason": "simulated slower than measured"},
    ]  # fmt: skip
    write(store, SIMULATION_VALIDATION, "sim-1", rows)
    [row] = read_latest(store, SIMULATION_VALIDATION)
    assert (row["passed"], row["reason"]) == (False, "simulated slower than measured")
