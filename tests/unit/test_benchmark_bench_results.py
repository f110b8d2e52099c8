"""The ``bench_results`` benchmark section reads back what the last ``make bench`` stored."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from benchmarks.bench_results import run
from nlp_bench_pipeline.store.database import MetricStore


def validation(path: Path, rows: list[tuple[str, float, float, bool]]) -> None:
    with MetricStore(path).connect() as conn:
        for metric, measured, simulated, passed in rows:
            conn.execute(
                "INSERT INTO simulation_validation VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    "sim-1",
                    datetime(2026, 12, 1, tzinfo=UTC),
                    "run-1",
                    "local-k8s",
                    "warm_steady",
                    metric,
                    measured,
                    simulated,
                    measured * 0.85,
                    measured * 1.15,
                    passed,
                    None if passed else "outside the bound",
                ],
            )


def test_without_a_store_the_section_says_to_run_make_bench(tmp_path: Path) -> None:
    section = run(tmp_path / "absent.duckdb")
    assert "run `make bench` first" in section.body
    assert section.passed is None


def test_the_validation_rows_decide_the_verdict_and_show_their_ratio(tmp_path: Path) -> None:
    path = tmp_path / "bench.duckdb"
    validation(path, [("p50_ms", 100.0, 110.0, True), ("p99_ms", 200.0, 300.0, False)])
    section = run(path)
    assert section.passed is False
    rows = {row[2]: row for row in section.figures["validation"]}
    assert rows["p50_ms"][5] == 1.1
    assert rows["p99_ms"][7] == "NO"
    assert rows["p99_ms"][8] == "outside the bound"
    assert "| local-k8s | warm_steady | p50_ms | 100.00 | 110.00 | 1.10 |" in section.body


def test_all_rows_within_their_bounds_pass(tmp_path: Path) -> None:
    path = tmp_path / "bench.duckdb"
    validation(path, [("p50_ms", 100.0, 101.0, True)])
    assert run(path).passed is True
