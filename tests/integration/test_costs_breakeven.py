"""``cost breakeven`` and the store queries on a real DuckDB metric store with hand-made runs.

The runs are written as rows of the documented schema (docs/schema.md), so the figures the
command reports can be checked against what was put in: billed duration from REPORT records,
init from cold starts, pod capacity from service time, intervals across repetitions.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.costs.command import register
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage_from_reports
from nlp_bench_pipeline.costs.measured import (
    lambda_measurements,
    latest_profile,
    latest_reports,
    pod_measurements,
)
from nlp_bench_pipeline.store.database import MetricStore

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WARM_BILLED_MS = {0: [58.0, 60.0, 62.0, 60.0], 1: [60.0, 62.0, 64.0, 62.0]}  # means 60 and 62
SERVER_MS = {0: [48.0, 52.0, 50.0, 50.0], 1: [46.0, 50.0, 48.0, 48.0]}  # means 50 and 48


def add_run(
    conn: duckdb.DuckDBPyConnection,
    run_id: str,
    target: str,
    repetition: int,
    host: dict | None = None,
) -> None:
    conn.execute(
        "INSERT INTO benchmark_runs (run_id, series_id, target, scenario, repetition, repetitions,"
        " profile, started_at, finished_at, status, scheduled, locust_requests, dropped, host)"
        " VALUES (?, 's1', ?, 'warm_steady', ?, 2, 'quick', ?, ?, 'complete', 4, 4, 0, ?)",
        [run_id, target, repetition, T0, T0 + timedelta(minutes=1), json.dumps(host or {})],
    )


def add_requests(
    conn: duckdb.DuckDBPyConnection, run_id: str, latencies: list[float], server_ms: list[float]
) -> None:
    for seq, (latency, server) in enumerate(zip(latencies, server_ms, strict=True)):
        intended = T0 + timedelta(seconds=seq)
        conn.execute(
            "INSERT INTO requests (run_id, seq, phase, intended_at, sent_at, done_at, latency_ms,"
            " corrected_latency_ms, send_lateness_ms, outcome, status_code, ok, cold_start,"
            " server_ms) VALUES (?, ?, 'measure', ?, ?, ?, ?, ?, 0, 'ok', 200, true, false, ?)",
            [
                run_id,
                seq,
                intended,
                intended,
                intended + timedelta(milliseconds=latency),
                latency,
                latency,
                server,
            ],
        )


def add_event(
    conn: duckdb.DuckDBPyConnection, run_id: str, kind: str, environment: str, **figures: object
) -> None:
    detail = figures.pop("detail", {})
    conn.execute(
        'INSERT INTO platform_events (run_id, "at", target, kind, environment_id, init_ms,'
        " duration_ms, billed_ms, memory_mb, detail) VALUES (?, ?, 'local-lambda', ?, ?, ?, ?,"
        " ?, ?, ?)",
        [
            run_id,
            T0,
            kind,
            environment,
            figures.get("init_ms"),
            figures.get("duration_ms"),
            figures.get("billed_ms"),
            figures.get("memory_mb"),
            json.dumps(detail),
        ],
    )


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Two repetitions of warm_steady on local-lambda (1769 MB) and local-k8s."""
    path = tmp_path / "bench.duckdb"
    store = MetricStore(path)
    with store.connect() as conn:
        for rep in (0, 1):
            lam, k8s = f"s1-local-lambda-r{rep}", f"s1-local-k8s-r{rep}"
            add_run(conn, lam, "local-lambda", rep)
            add_run(conn, k8s, "local-k8s", rep, {"deployment": {"cpu": {"request": 1.0}}})
            add_requests(conn, lam, [70, 80, 90, 100], WARM_BILLED_MS[rep])
            add_requests(conn, k8s, [60, 70, 80, 90], SERVER_MS[rep])
            add_event(
                conn, lam, "cold_start", "env-1", init_ms=6000.0, detail={"init_type": "on-demand"}
            )
            add_event(
                conn,
                lam,
                "report",
                "env-1",
                init_ms=6000.0,
                duration_ms=55.2,
                billed_ms=6056.0,
                memory_mb=1769.0,
            )
            for billed in WARM_BILLED_MS[rep]:
                add_event(
                    conn,
                    lam,
                    "report",
                    "env-1",
                    duration_ms=billed - 0.5,
                    billed_ms=billed,
                    memory_mb=1769.0,
                )
    return path


def run_command(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="nlp-bench")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_lambda_figures_come_from_report_records(store_path: Path) -> None:
    store = MetricStore(store_path)
    assert latest_profile(store, "local-lambda", "warm_steady") == "quick"
    (size,) = lambda_measurements(store, "local-lambda", "warm_steady", "quick")
    assert size.memory_mb == 1769
    assert size.invocations == 10
    assert size.cold_starts == 2
    assert size.init_ms == pytest.approx(6000)
    assert size.warm_billed_ms.mean == pytest.approx(61)
    # Two repetitions (means 60 and 62): t(1) = 12.706 × their sd √2 / √2.
    half = 12.706 * math.sqrt(2) / math.sqrt(2)
    assert size.warm_billed_ms.low == pytest.approx(61 - half)
    assert size.warm_billed_ms.high == pytest.approx(61 + half)
    # run_summary's p99 is nearest-rank over every request: of [70, 80, 90, 100] that is 100.
    assert size.p99_corrected_ms == pytest.approx(100)


def test_pod_capacity_is_1000_over_the_mean_service_time(store_path: Path) -> None:
    pods = pod_measurements(MetricStore(store_path), "local-k8s", "warm_steady", "quick")
    assert pods is not None
    assert pods.service_ms.mean == pytest.approx(49)
    assert pods.capacity_rps.mean == pytest.approx(1000 / 49)
    assert pods.capacity_rps.low < pods.capacity_rps.mean < pods.capacity_rps.high
    assert pods.cpu_request_cores == 1.0


def test_store_reports_price_through_the_usage_builder(store_path: Path) -> None:
    reports = latest_reports(MetricStore(store_path), "local-lambda", "warm_steady", "quick")
    assert len(reports) == 10
    usage = lambda_usage_from_reports(reports, 1e6, load_catalog())
    assert usage.init_gb_s == pytest.approx(1e5 * 2 * 6000 / 1000 * 1769 / 1024)


def test_provisioned_environments_are_recognised_from_their_init(store_path: Path) -> None:
    with MetricStore(store_path).connect() as conn:
        run = "s1-local-lambda-r0"
        add_event(
            conn, run, "init_start", "env-pc", detail={"init_type": "provisioned-concurrency"}
        )
        add_event(conn, run, "report", "env-pc", duration_ms=70.0, billed_ms=71.0, memory_mb=1769.0)
    reports = latest_reports(MetricStore(store_path), "local-lambda", "warm_steady", "quick")
    assert [r["provisioned"] for r in reports].count(True) == 1


def test_breakeven_command_reports_the_rate_from_the_runs(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_command(["cost", "breakeven", "--db", str(store_path), "--json"], capsys)
    document = json.loads(out)
    assert code == 0
    assert document["lambda_profile"]["memory_mb"] == 1769
    assert document["lambda_profile"]["billed_ms"] == pytest.approx(61)
    assert document["eks_profile"]["pod_capacity_rps"] == pytest.approx(1000 / 49)
    assert document["eks_profile"]["pod_cpu_m"] == 1000
    rate = document["breakeven"]["rate_rps"]
    low, high = document["interval_rps"]
    assert low <= rate <= high
    assert document["measured"]["kubernetes"]["target"] == "local-k8s"
    assert any("local targets emulate" in note for note in document["notes"])


def test_breakeven_table_names_the_rate(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run_command(["cost", "breakeven", "--db", str(store_path)], capsys)
    assert code == 0
    assert "EKS cheaper from" in out
    assert "req/s" in out


def test_no_size_meeting_the_slo_is_one_line_and_exit_1(
    store_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["cost", "breakeven", "--db", str(store_path), "--slo-ms", "50"]
    code, out = run_command(argv, capsys)
    assert code == 1
    assert len(out.strip().splitlines()) == 1
    assert "no Lambda memory size met the p99 ≤ 50 ms SLO" in out


def test_a_store_without_runs_says_so_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "empty.duckdb"
    MetricStore(path).migrate()
    code, out = run_command(["cost", "breakeven", "--db", str(path)], capsys)
    assert code == 1
    assert out.strip() == (
        f"nlp-bench cost breakeven: no complete warm_steady runs of a Lambda or Kubernetes "
        f"target in {path}"
    )
