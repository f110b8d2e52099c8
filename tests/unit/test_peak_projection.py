"""The simulator's projection: the same search on the same configuration under AWS's rules."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.peak.capacity import Size
from nlp_bench_pipeline.peak.plan import PeakPlan
from nlp_bench_pipeline.peak.projection import SimulatedProbes
from nlp_bench_pipeline.peak.search import SearchResult, find_peak
from nlp_bench_pipeline.simulate.calibration import Calibration
from tests.unit.peak_support import FIVE_PROBES

PLAN = PeakPlan.for_profile("quick", **FIVE_PROBES)
LAMBDA = Size("1,769 MB", "1769mb", memory_mb=1769)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def project(catalog, target: str, size: Size, policy: str, concurrency: int | None = None,
            bound_ms: float = 500.0) -> SearchResult:  # fmt: skip
    probes = SimulatedProbes(
        target=target, size=size, policy=policy, calibration=Calibration(), catalog=catalog,
        concurrency_limit=concurrency, min_replicas=1, bound_ms=bound_ms, rule=PLAN.rule(),
        seed=7,
    )  # fmt: skip
    bounds = PLAN.search_bounds().model_copy(update={"max_probes": 10, "tolerance": 0.1})
    return find_peak(probes, bounds)


def test_more_capacity_projects_a_higher_peak_on_both_platforms(catalog) -> None:
    four = project(catalog, "local-lambda", LAMBDA, "warmed", concurrency=4)
    eight = project(catalog, "local-lambda", LAMBDA, "warmed", concurrency=8)
    assert four.status == eight.status == "found"
    assert eight.peak_rps > four.peak_rps
    two_pods = project(catalog, "local-k8s", Size("1 CPU x 2", "a", pod_cpu=1.0, replicas=2),
                       "warmed")  # fmt: skip
    four_pods = project(catalog, "local-k8s", Size("1 CPU x 4", "b", pod_cpu=1.0, replicas=4),
                        "warmed")  # fmt: skip
    assert four_pods.peak_rps > two_pods.peak_rps


def test_cold_starts_counted_never_project_a_higher_peak_than_warm_capacity(catalog) -> None:
    size = Size("1 CPU x 4", "b", pod_cpu=1.0, replicas=4)
    warmed = project(catalog, "local-k8s", size, "warmed")
    cold = project(catalog, "local-k8s", size, "cold")
    assert cold.peak_rps is not None
    assert cold.peak_rps <= warmed.peak_rps
    # Lambda from no warm environment: an 8 s default init is in every probe's p99.
    lambda_cold = project(catalog, "local-lambda", LAMBDA, "cold", concurrency=8)
    assert lambda_cold.status == "no rate passed"


def test_simulated_probes_are_judged_by_the_reports_verdict_at_their_bound(catalog) -> None:
    result = project(catalog, "local-lambda", LAMBDA, "warmed", concurrency=4, bound_ms=130.0)
    for probe in result.probes:
        assert probe.run_id is None
        assert probe.figures["requests"] >= PLAN.min_requests
        assert probe.figures["slo_p99_ms"] == 130.0
        if not probe.valid:
            assert (
                "130 ms bound" in probe.verdict.describe() or "failed" in probe.verdict.describe()
            )
        assert probe.figures["p99_is_failure"] == (probe.figures["p99_corrected_ms"] is None)
