"""The service-time split (migration 0006): queue and inference stored per request, and the
``service_time`` chart stacking them with the rest of the service and the time outside it.

Migration 0006 stores the response's ``timing.queue_ms`` (the wait for the inference thread) and
``timing.inference_ms`` (tokenise + forward pass) beside ``server_ms``; both lie inside the
service's time, so the chart's parts — queue, inference, the rest of ``server_ms``, and
``latency_ms − server_ms`` outside — add up to the mean latency of the warm ok requests.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from nlp_bench_pipeline.report import latency
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.report_queries import service_split
from tests.unit.store_rows import record, row, write_rows

TIMED = "timed"
OLDER = "older"
WARM = 12
QUEUE, INFERENCE, REST, OUTSIDE = latency.PARTS


def timed_rows() -> list[dict[str, Any]]:
    """Warm ok requests with known timing, and rows the split must leave out: a warm-up, a cold
    start, an error (no timing, as the load generator records one)."""
    rows = [
        row(
            i,
            latency_ms=50.0 + i,
            server_ms=30.0 + i % 3,
            queue_ms=1.0 + i % 4,
            inference_ms=20.0 + i % 5,
        )
        for i in range(WARM)
    ]
    outliers = {"latency_ms": 3000.0, "server_ms": 800.0, "queue_ms": 700.0, "inference_ms": 90.0}
    rows.append(row(WARM, phase="warmup", **outliers))
    rows.append(row(WARM + 1, cold=True, **outliers))
    rows.append(row(WARM + 2, outcome="http_error", status=503))
    return rows


def mean(values: list[float]) -> float:
    return sum(values) / len(values)


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    store = MetricStore(tmp_path / "metrics.duckdb")
    older = [row(i, latency_ms=40.0, server_ms=25.0) for i in range(WARM)]  # before 0006
    for run_id, rows in ((TIMED, timed_rows()), (OLDER, older)):
        files = [write_rows(tmp_path / f"{run_id}.parquet", rows)]
        run = record(run_id, rows, target="local-lambda")  # its header marks a cold start
        store.ingest_run(run, request_files=files)
    return store


def chart_parts(store: MetricStore, run_id: str) -> dict[str, float]:
    """The ``service_time`` chart's bar for one run, part → mean ms, read from its spec."""
    runs = store.summary_rows([run_id])
    chart = latency.service_time_chart(runs, service_split(store, [run_id]))
    assert chart.drawn, chart.note
    return {value["part"]: value["mean_ms"] for value in chart.spec["data"]["values"]}


def test_each_request_keeps_the_queue_and_inference_its_response_timed(store) -> None:
    stored = store.query(
        "SELECT seq, server_ms, queue_ms, inference_ms FROM requests WHERE run_id = $run "
        "ORDER BY seq",
        {"run": TIMED},
    ).to_pylist()
    given = timed_rows()
    assert [(r["queue_ms"], r["inference_ms"]) for r in stored] == [
        (g.get("queue_ms"), g.get("inference_ms")) for g in given
    ]
    ok = [r for r in stored if r["server_ms"] is not None]
    assert all(r["queue_ms"] + r["inference_ms"] <= r["server_ms"] for r in ok)


def test_the_split_is_the_warm_ok_requests_means_and_adds_up_to_their_latency(store) -> None:
    warm = timed_rows()[:WARM]
    (split,) = [r for r in service_split(store, [TIMED]) if not r["cold_start"]]
    assert split["requests"] == WARM
    assert split["queue_mean_ms"] == pytest.approx(mean([r["queue_ms"] for r in warm]))
    assert split["inference_mean_ms"] == pytest.approx(mean([r["inference_ms"] for r in warm]))
    assert split["server_mean_ms"] == pytest.approx(mean([r["server_ms"] for r in warm]))

    parts = chart_parts(store, TIMED)
    assert list(parts) == [QUEUE, INFERENCE, REST, OUTSIDE]
    assert parts[QUEUE] == pytest.approx(split["queue_mean_ms"])
    assert parts[INFERENCE] == pytest.approx(split["inference_mean_ms"])
    assert parts[QUEUE] + parts[INFERENCE] + parts[REST] == pytest.approx(split["server_mean_ms"])
    assert sum(parts.values()) == pytest.approx(
        mean([(r["done_s"] - r["sent_s"]) * 1000 for r in warm]), abs=1e-3
    )


def test_a_run_stored_before_the_split_shows_all_its_service_time_as_the_rest(store) -> None:
    parts = chart_parts(store, OLDER)
    assert (parts[QUEUE], parts[INFERENCE]) == (0.0, 0.0)
    assert parts[REST] == pytest.approx(25.0)
    assert parts[OUTSIDE] == pytest.approx(15.0, abs=1e-3)


def test_each_part_has_its_own_colour_and_the_bars_stack_in_the_parts_order() -> None:
    from nlp_bench_pipeline.report.latency import PART_COLOURS, PARTS, service_time_chart

    runs = [{"run_id": "r", "target": "local-k8s", "scenario": "warm_steady", "profile": "smoke"}]
    split = [
        {
            "run_id": "r",
            "cold_start": False,
            "requests": 10,
            "outside_mean_ms": 5.0,
            "server_mean_ms": 15.0,
            "queue_mean_ms": 4.0,
            "inference_mean_ms": 9.0,
        }
    ]
    chart = service_time_chart(runs, split)
    text = json.dumps(chart.spec, default=str)
    assert len(set(PART_COLOURS)) == len(PARTS)
    assert all(colour in text for colour in PART_COLOURS)
    assert '"index"' in text
