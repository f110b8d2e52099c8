"""cold_start_stats: the cold-start medians of a run with their distribution-free 95 % interval."""

from __future__ import annotations

from math import comb
from pathlib import Path

import numpy as np
import pytest

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import row
from tests.unit.test_store_validity import at, event, ingest


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "metrics.duckdb")


def textbook_rank(n: int) -> int:
    """The largest l with P(B <= l - 1) <= 2.5 % for B ~ Binomial(n, 1/2), in exact integers
    (sum of C(n, k) over k < l, times 40, at most 2^n); 0 where none: [x_(l), x_(n+1-l)]."""
    rank, below = 0, comb(n, 0)  # below: the count of outcomes with B <= rank
    while 40 * below <= 2**n:
        rank += 1
        below += comb(n, rank)
    return rank


def stats(store: MetricStore, run_id: str) -> dict:
    (found,) = store.query("SELECT * FROM cold_start_stats WHERE run_id = ?", [run_id]).to_pylist()
    return found


def lambda_cold_run(n: int, seed: int = 7) -> tuple[list[dict], list[PlatformEvent]]:
    """n cold requests, each on its own environment, with latencies 3100, 3200, … ms, Init
    Durations 2010, 2020, … ms and init-slot waits 5, 10, … ms in shuffled orders; warm ones
    after them."""
    rng = np.random.default_rng(seed)
    latency, init, wait = (rng.permutation(np.arange(1, n + 1)) for _ in range(3))
    rows, events = [], []
    for i in range(n):
        env = f"ee-{i}"
        rows.append(row(i, latency_ms=3000.0 + 100 * latency[i], cold=True, environment_id=env,
                        at_s=i * 0.01))  # fmt: skip
        events.append(event("cold_start", env, i * 0.01, init_ms=2000.0 + 10 * init[i],
                            init_wait_ms=5.0 * wait[i]))  # fmt: skip
    rows += [row(n + i, environment_id="ee-0", at_s=30.0 + i) for i in range(5)]
    return rows, events


@pytest.mark.parametrize("n", [5, 6, 9, 20, 31])
def test_the_interval_is_the_textbook_order_statistics_of_each_cold_sample(store, tmp_path, n):
    rows, events = lambda_cold_run(n)
    ingest(store, tmp_path, "r", rows, events, target="local-lambda", scenario="cold_start")
    found = stats(store, "r")
    assert (found["cold_starts"], found["cold_start_n"]) == (n, n)
    assert (found["cold_start_init_n"], found["cold_start_wait_n"]) == (n, n)
    rank = textbook_rank(n)
    if n < 6:
        assert rank == 0
        bounds = (None,) * 6
    else:
        low, high = rank, n + 1 - rank  # the sorted samples' ranks, 1-based
        bounds = (3000.0 + 100 * low, 3000.0 + 100 * high, 2000.0 + 10 * low,
                  2000.0 + 10 * high, 5.0 * low, 5.0 * high)  # fmt: skip
    assert (
        found["cold_start_p50_ci95_low_ms"],
        found["cold_start_p50_ci95_high_ms"],
        found["cold_start_init_p50_ci95_low_ms"],
        found["cold_start_init_p50_ci95_high_ms"],
        found["cold_start_wait_p50_ci95_low_ms"],
        found["cold_start_wait_p50_ci95_high_ms"],
    ) == pytest.approx(bounds, abs=0.01)
    assert found["cold_start_p50_ms"] == pytest.approx(3000.0 + 100 * (n + 1) / 2, abs=0.01)


def test_the_rank_macro_agrees_with_exact_arithmetic_for_every_n_to_400(store):
    store.migrate()
    found = store.query("SELECT n, median_ci95_rank(n) AS rank FROM range(0, 401) t(n)")
    assert found.column("rank").to_pylist() == [textbook_rank(n) for n in range(401)]
    assert [textbook_rank(n) for n in (5, 6, 10, 20, 30)] == [0, 1, 2, 6, 10]  # printed tables


def test_medians_are_run_summarys_and_a_failed_cold_start_is_no_latency_sample(store, tmp_path):
    rows, events = lambda_cold_run(8)
    rows.append(row(90, outcome="http_error", status=502, cold=True, environment_id="ee-x",
                    at_s=0.5))  # fmt: skip
    events.append(event("cold_start", "ee-x", 0.5, init_ms=9000.0, init_wait_ms=1.0))
    summary = ingest(store, tmp_path, "r", rows, events, target="local-lambda")
    found = stats(store, "r")
    assert (found["cold_starts"], found["cold_start_n"], found["cold_start_init_n"]) == (9, 8, 9)
    for column in ("cold_start_p50_ms", "cold_start_init_p50_ms", "cold_start_wait_p50_ms"):
        assert found[column] == pytest.approx(summary[column], abs=1e-9), column


def test_on_kubernetes_the_samples_are_the_pods_starts_and_node_waits(store, tmp_path):
    starts = [6100.0, 5200.0, 7000.0, 5600.0, 6400.0, 5900.0, 8000.0, 5400.0, 6200.0]
    events = [
        PlatformEvent(at=at(i), target="local-k8s", kind="pod_ready", environment_id=f"pod-{i}",
                      init_ms=start, detail={"pending_ms": 100.0 * i})
        for i, start in enumerate(starts)
    ]  # fmt: skip
    summary = ingest(store, tmp_path, "r", [row(0, environment_id="pod-0")], events)
    found = stats(store, "r")
    assert (found["cold_starts"], found["cold_start_n"]) == (0, 0)  # no request waited
    assert (found["cold_start_init_n"], found["cold_start_wait_n"]) == (9, 9)
    assert textbook_rank(9) == 2  # [x_(2), x_(8)]
    assert found["cold_start_init_p50_ci95_low_ms"] == 5400.0
    assert found["cold_start_init_p50_ci95_high_ms"] == 7000.0
    assert found["cold_start_wait_p50_ci95_low_ms"] == 100.0
    assert found["cold_start_wait_p50_ci95_high_ms"] == 700.0
    assert found["cold_start_init_p50_ms"] == summary["cold_start_init_p50_ms"] == 6100.0
    assert found["cold_start_wait_p50_ms"] == summary["cold_start_wait_p50_ms"] == 400.0


def test_a_run_without_cold_starts_has_a_row_with_no_sample(store, tmp_path):
    ingest(store, tmp_path, "r", [row(i) for i in range(10)])
    found = stats(store, "r")
    assert (found["cold_starts"], found["cold_start_n"], found["cold_start_init_n"]) == (0, 0, 0)
    assert found["cold_start_p50_ms"] is None
    assert found["cold_start_p50_ci95_low_ms"] is None
    assert found["cold_start_init_p50_ci95_high_ms"] is None
