"""A pod's capacity at the SLO: from the latest measured, warmed peak-rate search where one fits
(the priced pod CPU, a bound no looser than the SLO, a peak), else 1000 / mean service time —
and every estimate says which.

The rule is checked on hand-made search rows; the store path on the estimates' store of
hand-made runs (``test_economics_estimates.bench_store``: local-k8s pods of 1 CPU, 50 ms of
service time, runs judged at 2,000 ms) with search rows written as the peak search writes them.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.costs.measured import MeasuredPods, Spread
from nlp_bench_pipeline.costs.pod_capacity import (
    SERVICE_TIME_RULE,
    capacity_at_slo,
    pod_capacity,
)
from nlp_bench_pipeline.defs.economics.estimates import EstimateSettings, estimate_costs
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.peak import write_searches
from tests.unit.test_costs_command import run
from tests.unit.test_economics_estimates import POD_SERVICE_MS, TRAFFIC, bench_store, rows_of

SEARCHED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOST_REASON = "measured on this host's 2 cores, which the load generator shares: 2 vCPU configured"
PODS = MeasuredPods(
    target="local-k8s",
    profile="quick",
    run_ids=("s1-local-k8s",),
    requests=40,
    service_ms=Spread(50.0, 40.0, 62.5),
    cpu_request_cores=1.0,
    p99_corrected_ms=55.0,
)


def search(bound_ms: float = 500.0, **changes: Any) -> dict[str, Any]:
    """A ``peak_searches`` row of local-k8s, 1 CPU x 2 pods, warmed: 18 req/s held, 21 failed."""
    invocation = changes.pop("invocation_id", "inv-1")
    method, policy = changes.get("method", "measured"), changes.get("policy", "warmed")
    return {
        "invocation_id": invocation,
        "search_id": f"{invocation}-local-k8s-cpu1x2-{policy}-{bound_ms:g}ms-{method}",
        "searched_at": SEARCHED_AT,
        "target": "local-k8s",
        "method": method,
        "size": "1 CPU x 2 pods",
        "memory_mb": None,
        "pod_cpu": 1.0,
        "replicas": 2,
        "policy": policy,
        "slo_p99_ms": bound_ms,
        "rates_chosen_for_ms": 500.0,
        "profile": "quick",
        "model": "synthetic",
        "status": "found",
        "peak_rps": 18.0,
        "upper_rps": 21.0,
        "reason": "VALID at 18 req/s, INVALID at 21 req/s; within 20% after 5 probes",
        "probes": 5,
        "min_duration_s": 10.0,
        "min_requests": 100,
        "tolerance": 0.2,
        "configured_vcpus": 2.0,
        "host_cores": 2,
        "vcpus": 2.0,
        "per_vcpu_rps": 9.0,
        "host_limited": False,  # a search on EKS; a local one is host-limited (test below)
        "host_limited_reasons": [],
        "bounding_host_limited_share": None,
        "run_ids": [],
        "detail": {},
        **changes,
    }


# ------------------------------------------------------------------------------------ the rule


def test_a_warmed_search_at_a_tighter_bound_gives_the_peak_per_pod() -> None:
    capacity = capacity_at_slo(PODS, [search(500.0)], slo_ms=2000.0, pod_cpu=1.0)
    # 18 req/s held by 2 pods: 9 each; the true peak is below the 21 req/s that failed.
    assert capacity.rps == Spread(9.0, 9.0, 10.5)
    assert (
        capacity.source
        == "peak search inv-1-local-k8s-cpu1x2-warmed-500ms-measured at p99 ≤ 500 ms"
    )
    assert capacity.search_id == "inv-1-local-k8s-cpu1x2-warmed-500ms-measured"
    notes = "\n".join(capacity.notes)
    assert "18 req/s over 2 warmed pods of 1 CPU = 9 req/s per pod" in notes
    assert "tighter than the 2000 ms SLO" in notes
    assert "conservative for EKS" in notes


def test_a_host_limited_search_is_not_used_and_the_note_says_why() -> None:
    bent = search(500.0, host_limited=True, host_limited_reasons=[HOST_REASON])
    capacity = capacity_at_slo(PODS, [bent], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source == SERVICE_TIME_RULE
    [note] = [n for n in capacity.notes if "host-limited" in n]
    assert "not used" in note
    assert HOST_REASON in note


def test_a_search_at_a_looser_bound_than_the_slo_is_not_used_and_says_why() -> None:
    capacity = capacity_at_slo(PODS, [search(3000.0)], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source == SERVICE_TIME_RULE
    assert capacity.rps == PODS.capacity_rps
    assert capacity.search_id is None
    [ignored] = [n for n in capacity.notes if "not used" in n]
    assert "inv-1-local-k8s-cpu1x2-warmed-3000ms-measured" in ignored
    assert "p99 ≤ 3000 ms is looser than the 2000 ms SLO" in ignored


def test_the_loosest_bound_within_the_slo_is_used_and_a_looser_one_is_passed_over() -> None:
    rows = [search(3000.0, peak_rps=30.0), search(500.0), search(130.0, peak_rps=6.0)]
    capacity = capacity_at_slo(PODS, rows, slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source.endswith("at p99 ≤ 500 ms")
    assert capacity.rps.mean == pytest.approx(9.0)
    assert any("3000 ms is looser than the 2000 ms SLO" in n for n in capacity.notes)


def test_a_search_at_exactly_the_slo_is_used_without_the_conservative_note() -> None:
    capacity = capacity_at_slo(PODS, [search(2000.0)], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source.endswith("at p99 ≤ 2000 ms")
    assert not any("conservative" in n for n in capacity.notes)


def test_a_peak_that_is_a_lower_bound_says_so_and_has_no_interval_above_it() -> None:
    row = search(500.0, status="at ceiling", upper_rps=None, peak_rps=64.0,
                 reason="VALID at the ceiling 64 req/s: the peak is at least that")  # fmt: skip
    capacity = capacity_at_slo(PODS, [row], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.rps == Spread(32.0, 32.0, 32.0)
    assert any(n.startswith("the peak is a lower bound (at ceiling") for n in capacity.notes)


@pytest.mark.parametrize("status", ["no rate passed", "failed", "not run (host)"])
def test_a_search_that_found_no_peak_leaves_the_service_time_rule(status: str) -> None:
    row = search(500.0, status=status, peak_rps=None, upper_rps=None, reason="why")
    capacity = capacity_at_slo(PODS, [row], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source == SERVICE_TIME_RULE
    assert any(f"found no peak ({status}: why)" in n for n in capacity.notes)


def test_a_search_of_another_pod_size_is_not_used() -> None:
    rows = [search(500.0, pod_cpu=2.0), search(500.0, pod_cpu=0.5)]
    capacity = capacity_at_slo(PODS, rows, slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source == SERVICE_TIME_RULE
    assert any("ran 0.5, 2 CPU pods, not the priced 1 CPU" in n for n in capacity.notes)


def test_without_a_search_the_capacity_is_1000_over_the_mean_service_time() -> None:
    capacity = capacity_at_slo(PODS, [], slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.source == SERVICE_TIME_RULE
    assert capacity.rps == Spread(20.0, 1000 / 62.5, 25.0)
    assert capacity.notes == (
        "pod capacity: 1000 / mean service time (50.0 ms) = 20 req/s per pod",
        "no measured, warmed peak search of local-k8s",
    )


# ----------------------------------------------------------------------------------- the store


def store_with_searches(path: Path, *invocations: tuple[str, list[dict[str, Any]]]) -> MetricStore:
    store = bench_store(path)
    for invocation_id, rows in invocations:
        write_searches(store, invocation_id, rows, [])
    return store


def test_only_the_latest_measured_warmed_search_of_the_target_is_read(tmp_path: Path) -> None:
    older = [search(500.0, invocation_id="inv-0", peak_rps=40.0, upper_rps=44.0)]
    latest = [
        search(500.0, invocation_id="inv-1"),
        search(500.0, invocation_id="inv-1", method="simulated", peak_rps=100.0),
        search(500.0, invocation_id="inv-1", policy="cold", peak_rps=4.0),
    ]
    latest[0]["searched_at"] = latest[1]["searched_at"] = latest[2]["searched_at"] = (
        SEARCHED_AT + timedelta(hours=1)
    )
    lambda_search = [search(500.0, invocation_id="inv-2", target="local-lambda",
                            search_id="inv-2-lambda", pod_cpu=None, memory_mb=1769)]  # fmt: skip
    store = store_with_searches(tmp_path, ("inv-0", older), ("inv-1", latest),
                                ("inv-2", lambda_search))  # fmt: skip
    capacity = pod_capacity(store, PODS, slo_ms=2000.0, pod_cpu=1.0)
    assert capacity.search_id == "inv-1-local-k8s-cpu1x2-warmed-500ms-measured"
    assert capacity.rps.mean == pytest.approx(9.0)


def test_estimates_size_pods_from_the_peak_search_and_every_row_says_so(tmp_path: Path) -> None:
    store = store_with_searches(tmp_path, ("inv-1", [search(500.0), search(130.0, peak_rps=6.0)]))
    settings = EstimateSettings(traffic=TRAFFIC, node_types=("c7i.xlarge",))
    estimates = estimate_costs(store, load_catalog(), settings)
    source = "peak search inv-1-local-k8s-cpu1x2-warmed-500ms-measured at p99 ≤ 500 ms"
    assert estimates.pod_capacity_source == source
    [spiky] = rows_of(estimates, configuration="c7i.xlarge", traffic_profile="spiky-100rps")
    # 500 req/s at the peak over pods of 9 req/s at 60 %: 93 pods (not 42 at 1000 / 50 ms).
    assert spiky["pod_capacity_rps"] == pytest.approx(9.0)
    assert spiky["pods"] == 93
    for r in rows_of(estimates, platform="eks"):
        assert any(n.startswith(f"pod capacity: {source}") for n in r["notes"])
    assert all(any(source in n for n in b["notes"]) for b in estimates.breakeven)
    assert estimates.breakeven
    assert all(b["pod_capacity_rps"] == pytest.approx(9.0) for b in estimates.breakeven)


def test_estimates_of_a_local_search_keep_the_service_time_rule(tmp_path: Path) -> None:
    bent = search(500.0, host_limited=True, host_limited_reasons=[HOST_REASON])
    store = store_with_searches(tmp_path, ("inv-1", [bent]))
    settings = EstimateSettings(traffic=TRAFFIC, node_types=("c7i.xlarge",))
    estimates = estimate_costs(store, load_catalog(), settings)
    assert estimates.pod_capacity_source == SERVICE_TIME_RULE
    for r in rows_of(estimates, platform="eks"):
        assert any("host-limited" in n and "not used" in n for n in r["notes"])


def test_estimates_ignore_a_search_looser_than_the_runs_slo(tmp_path: Path) -> None:
    store = store_with_searches(tmp_path, ("inv-1", [search(5000.0, peak_rps=60.0)]))
    settings = EstimateSettings(traffic=TRAFFIC, node_types=("c7i.xlarge",))
    estimates = estimate_costs(store, load_catalog(), settings)
    assert estimates.pod_capacity_source == SERVICE_TIME_RULE
    [steady] = rows_of(estimates, configuration="c7i.xlarge", traffic_profile="steady-10rps")
    assert steady["pod_capacity_rps"] == pytest.approx(1000 / POD_SERVICE_MS)
    assert any("5000 ms is looser than the 2000 ms SLO" in n for n in steady["notes"])
    assert any("5000 ms is looser" in n for n in estimates.notes)


def test_estimates_without_a_search_use_the_service_time_rule(tmp_path: Path) -> None:
    estimates = estimate_costs(
        bench_store(tmp_path), load_catalog(), EstimateSettings(traffic=TRAFFIC)
    )
    assert estimates.pod_capacity_source == SERVICE_TIME_RULE
    eks = rows_of(estimates, platform="eks")
    assert eks
    rule = f"pod capacity: {SERVICE_TIME_RULE} (50.0 ms)"
    assert all(any(n.startswith(rule) for n in r["notes"]) for r in eks)


def test_the_breakeven_command_takes_the_capacity_from_the_peak_search(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store_with_searches(tmp_path, ("inv-1", [search(500.0)]))
    code, out, _ = run(
        ["cost", "breakeven", "--db", str(tmp_path / "bench.duckdb"), "--json"], capsys
    )
    assert code == 0
    document = json.loads(out)
    assert document["eks_profile"]["pod_capacity_rps"] == pytest.approx(9.0)
    kubernetes = document["measured"]["kubernetes"]
    assert kubernetes["capacity_source"].startswith("peak search inv-1-local-k8s")
    assert kubernetes["capacity_search_id"] == "inv-1-local-k8s-cpu1x2-warmed-500ms-measured"
