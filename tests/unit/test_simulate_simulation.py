"""One simulated period end to end: starting state, usage records, cost, the SLO verdict."""

from __future__ import annotations

import math

import pytest

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.simulate.calibration import Calibration, Figure
from nlp_bench_pipeline.simulate.distributions import Distribution
from nlp_bench_pipeline.simulate.simulation import (
    eks_settings_for,
    lambda_settings_for,
    simulate_eks,
    simulate_lambda,
)
from nlp_bench_pipeline.simulate.traffic import Traffic


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def fixed(work_ms: float, init_ms: float = 1000.0) -> Calibration:
    return Calibration(
        lambda_work={1769: Distribution.constant(work_ms, "test")},
        lambda_overhead=Figure(0.0, "test"),
        init=Distribution.constant(init_ms, "test"),
        pod_service=Distribution.constant(work_ms, "test"),
        pod_overhead=Figure(0.0, "test"),
    )


def test_a_lambda_period_starts_warm_and_bills_its_billed_durations(catalog):
    traffic = Traffic("steady", 10.0, 600.0)
    calibration = fixed(100.2)
    settings = lambda_settings_for(traffic, calibration)
    assert settings.warm_at_start == math.ceil(1.002 + 3 * math.sqrt(1.002))
    result = simulate_lambda(traffic, settings, calibration, catalog=catalog, seed=1)
    usage = result.usage
    cold = result.counts["cold_starts"]
    gb = 1769 / 1024
    assert usage.invocations == result.requests
    assert usage.billed_gb_s == pytest.approx((101 * result.requests + 1000 * cold) / 1000 * gb)
    assert usage.init_gb_s == pytest.approx(1000 * cold / 1000 * gb)
    assert usage.gateway == "http"
    assert usage.gateway_requests == result.requests
    breakdown = result.cost.breakdown
    assert breakdown.total_usd == pytest.approx(sum(breakdown.lines.values()))
    assert {"compute", "requests", "gateway", "logs"} <= set(breakdown.lines)
    assert result.slo.met  # every request 100.2 ms against 500 ms


def test_provisioned_capacity_is_billed_for_the_whole_period(catalog):
    traffic = Traffic("steady", 1.0, 3600.0)
    settings = lambda_settings_for(traffic, fixed(50.0), provisioned_concurrency=2)
    result = simulate_lambda(traffic, settings, fixed(50.0), catalog=catalog)
    assert result.usage.provisioned_capacity_gb_s == pytest.approx(2 * 1769 / 1024 * 3600)
    assert result.usage.provisioned_invocations > 0.9 * result.requests
    assert "provisioned" in result.cost.breakdown.lines


def test_throttled_beyond_one_percent_the_p99_is_a_failure_and_the_slo_not_met(catalog):
    traffic = Traffic("steady", 50.0, 120.0)
    settings = lambda_settings_for(traffic, fixed(500.0), concurrency_limit=5)
    result = simulate_lambda(traffic, settings, fixed(500.0), catalog=catalog)
    assert result.counts["throttles"] > 0.01 * result.requests
    assert result.latency.p99 is None
    assert result.ok_latency.p99 == pytest.approx(500.0)
    assert not result.slo.met


def test_an_eks_deployment_is_sized_for_the_traffic(catalog):
    traffic = Traffic("diurnal", 100.0, 86_400.0)
    settings = eks_settings_for(traffic, fixed(100.0), catalog, node_type="c6i.xlarge")
    rates = [segment.rate for segment in traffic.segments()]
    peak, start = max(rates), rates[0]
    assert peak == pytest.approx(160.0, rel=1e-3)  # 1.6 x the mean at noon, 0.4 x at midnight
    assert settings.pods_per_node == 3  # 1 CPU / 2 GiB pods beside the DaemonSets
    assert settings.max_replicas == math.ceil(2 * peak * 0.1 / 0.8)
    assert settings.replicas_at_start == math.ceil(start * 0.1 / 0.8)
    assert settings.nodes.max_nodes == math.ceil(settings.max_replicas / 3)


def test_a_fixed_eks_cluster_bills_its_nodes_for_the_period(catalog):
    traffic = Traffic("steady", 5.0, 1800.0)
    settings = eks_settings_for(traffic, fixed(100.0), catalog, min_replicas=3, max_replicas=3)
    result = simulate_eks(traffic, settings, fixed(100.0), catalog=catalog)
    assert result.usage.node_hours == pytest.approx(0.5)  # 3 pods on one c6i.xlarge
    assert result.usage.cluster_hours == pytest.approx(0.5)
    assert result.cost.breakdown.lines["nodes"] == pytest.approx(0.5 * 0.17)
    assert result.outcomes["ok"] == result.requests
