"""Sizes, per-vCPU capacity and the host-limited label of a peak-rate search."""

from __future__ import annotations

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.bench.verdict import RunVerdict
from nlp_bench_pipeline.peak.capacity import (
    Size,
    capacity_figures,
    host_refusal,
    sizes_for,
    spec_for,
)
from nlp_bench_pipeline.peak.plan import PeakPlan
from nlp_bench_pipeline.peak.search import ProbeOutcome
from tests.unit.peak_support import LAMBDA_DETAILS

BENCH = BenchmarkPlan(profile="quick")
INVALID = RunVerdict(verdict="INVALID", reasons=["p99 lands on a failed or dropped request"])


def test_quick_searches_the_benchmarks_one_size_and_full_three_per_platform() -> None:
    quick, full = PeakPlan.for_profile("quick"), PeakPlan.for_profile("full")
    assert [s.label for s in sizes_for("local-lambda", BENCH, quick)] == ["1,769 MB"]
    assert [s.label for s in sizes_for("local-k8s", BENCH, quick)] == ["1 CPU x 2 pods"]
    assert [s.memory_mb for s in sizes_for("aws-lambda", BENCH, full)] == [1024, 1769, 3008]
    slugs = [s.slug for s in sizes_for("aws-eks", BENCH, full)]
    assert slugs == ["cpu0p5x2", "cpu1x2", "cpu2x2"]
    assert full.policies == ("warmed", "cold")
    assert quick.policies == ("warmed",)


def test_the_warmed_policy_deploys_every_replica_up_front_and_cold_the_minimum() -> None:
    size = Size("2 CPU x 2 pods", "cpu2x2", pod_cpu=2.0, replicas=2)
    warmed = spec_for(BENCH, "local-k8s", size, "warmed")
    cold = spec_for(BENCH, "local-k8s", size, "cold")
    assert (warmed.min_replicas, warmed.max_replicas, warmed.cpu.limit) == (2, 2, 2.0)
    assert (cold.min_replicas, cold.max_replicas) == (1, 2)
    memory = spec_for(BENCH, "local-lambda", Size("3,008 MB", "3008mb", memory_mb=3008), "cold")
    assert memory.memory_mb == 3008


def test_a_size_the_host_cannot_hold_is_refused_with_its_reason() -> None:
    reason = host_refusal("local-lambda", Size("10,240 MB", "10240mb", memory_mb=10240))
    assert reason is not None
    assert "vCPU" in reason or "memory" in reason
    assert host_refusal("aws-lambda", Size("10,240 MB", "10240mb", memory_mb=10240)) is None
    assert host_refusal("local-k8s", Size("64 CPU", "cpu64", pod_cpu=64.0, replicas=1))


def test_local_capacity_is_per_vcpu_of_the_host_and_labelled_with_every_reason() -> None:
    size = Size("1,769 MB", "1769mb", memory_mb=1769)
    bounding = ProbeOutcome(
        rate_rps=6.0,
        verdict=INVALID,
        figures={"host_limited_share": 0.5, "warming": {"environments_wanted": 3,
                                                        "environments_warm": 1}},
    )  # fmt: skip
    figures = capacity_figures("local-lambda", size, LAMBDA_DETAILS, 3.0, [bounding], bounding)
    assert figures["configured_vcpus"] == 3.0  # 3 environments × 1 vCPU
    assert figures["vcpus"] == 2  # at most the host's cores
    assert figures["per_vcpu_rps"] == 1.5
    assert figures["host_limited"] is True
    reasons = figures["host_limited_reasons"]
    assert reasons[0] == (
        "measured on this host's 2 cores, which the load generator shares: 3 vCPU configured"
    )
    assert "3, host-limited: lowered from AWS's 1,000" in reasons[1]
    assert "50% of the requests of the INVALID probe at 6 req/s met a host limit" in reasons
    assert reasons[-1] == (
        "warming opened fewer environments than the rate needed: 1 of 3 at 6 req/s"
    )


def test_a_cloud_target_is_not_host_limited() -> None:
    size = Size("1 CPU x 2 pods", "cpu1x2", pod_cpu=1.0, replicas=2)
    figures = capacity_figures("aws-eks", size, {"cpu": {"host_cores": 2}}, 30.0, [], None)
    assert (figures["vcpus"], figures["per_vcpu_rps"]) == (2.0, 15.0)
    assert figures["host_limited"] is False
    assert figures["host_limited_reasons"] == []
