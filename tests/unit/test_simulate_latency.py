"""Percentiles over every request (failures ranked last) and over successes, exact or binned."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_bench_pipeline.simulate.latency import LatencyRecorder


def recorder(ok: list[float], failed: int = 0, exact_limit: int = 10**9) -> LatencyRecorder:
    r = LatencyRecorder(exact_limit)
    r.add(np.array(ok))
    r.add_failures(failed)
    return r


def test_failures_rank_slower_than_any_success():
    # 98 successes of 1..98 ms and 2 failures: 100 requests
    r = recorder([float(v) for v in range(1, 99)], failed=2)
    every = r.percentiles(failures_last=True)  # nearest rank, ceil(p n), as run_summary
    assert every.p50 == 50.0
    assert every.p90 == 90.0
    assert every.p99 is None  # rank 99 of 100: a failure
    ok = r.percentiles(failures_last=False)
    assert ok.p99 == pytest.approx(np.quantile(np.arange(1, 99), 0.99))


def test_success_percentiles_are_duckdb_quantile_cont():
    values = np.random.default_rng(1).lognormal(4, 1, 5001)
    r = recorder(values.tolist())
    got = r.percentiles(failures_last=False)
    for q, value in zip((0.5, 0.9, 0.99, 0.999), vars(got).values(), strict=True):
        assert value == pytest.approx(np.quantile(values, q, method="linear"))


def test_past_the_exact_limit_percentiles_come_from_bins_within_0_1_percent():
    values = np.random.default_rng(2).lognormal(5, 0.8, 200_000)
    r = LatencyRecorder(exact_limit=50_000)
    for part in np.array_split(values, 10):
        r.add(part)
    r.add_failures(100)
    assert not r.exact
    every = np.sort(np.concatenate([values, np.full(100, np.inf)]))
    for q in (0.5, 0.9, 0.99, 0.999):
        exact = every[int(np.ceil(q * every.size)) - 1]
        assert r.quantile(q, failures_last=True) == pytest.approx(exact, rel=1e-3)
        ok = np.quantile(values, q)
        assert r.quantile(q, failures_last=False) == pytest.approx(ok, rel=1e-3)


def test_no_requests_no_percentiles():
    assert recorder([]).percentiles(failures_last=True).p50 is None
