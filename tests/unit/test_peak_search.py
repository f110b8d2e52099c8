"""The peak-rate search's bisection on a scripted server whose p99 grows with the rate."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.bench.verdict import ValidityRule, judge_run
from nlp_bench_pipeline.peak.search import (
    ProbeFailed,
    ProbeOutcome,
    SearchBounds,
    Step,
    bracket,
    find_peak,
)

BOUND_MS = 500.0
RULE = ValidityRule(min_duration_s=10, min_requests=100)


class ScriptedServer:
    """p99 = service / (1 − rate / capacity), as a queue whose wait grows with its load; at or
    past capacity every request's fate is a failure. The true peak solves p99 = bound."""

    def __init__(self, capacity_rps: float = 21.0, service_ms: float = 50.0) -> None:
        self.capacity_rps = capacity_rps
        self.service_ms = service_ms
        self.rates: list[float] = []
        self.steps: list[Step] = []

    @property
    def true_peak(self) -> float:
        return self.capacity_rps * (1 - self.service_ms / BOUND_MS)

    def p99(self, rate: float) -> float | None:
        if rate >= self.capacity_rps:
            return None
        return self.service_ms / (1 - rate / self.capacity_rps)

    def __call__(self, rate: float, step: Step) -> ProbeOutcome:
        self.rates.append(rate)
        self.steps.append(step)
        p99 = self.p99(rate)
        row = {
            "requests": 200,
            "measure_s": 10.0,
            "slo_p99_ms": BOUND_MS,
            "slo_met": p99 is not None and p99 <= BOUND_MS,
            "p99_corrected_ms": p99,
            "p99_is_failure": p99 is None,
            "failed_share": 0.0 if p99 is not None else 0.4,
        }
        return ProbeOutcome(rate_rps=rate, verdict=judge_run(row, RULE), step=step, figures=row)


def bounds(**changes: float) -> SearchBounds:
    fields = {"start_rps": 4.0, "min_rps": 0.5, "max_rps": 64.0, "tolerance": 0.1,
              "max_probes": 12} | changes  # fmt: skip
    return SearchBounds(**fields)


def test_the_search_widens_by_doubling_then_bisects_to_the_true_peak() -> None:
    server = ScriptedServer()
    result = find_peak(server, bounds())
    assert result.status == "found"
    assert result.peak_rps is not None
    assert result.upper_rps is not None
    assert result.peak_rps <= server.true_peak < result.upper_rps
    assert result.upper_rps - result.peak_rps <= 0.1 * result.peak_rps
    assert server.rates[:4] == [4.0, 8.0, 16.0, 32.0]  # widened until the first INVALID
    assert server.steps[:4] == ["start", "widen", "widen", "widen"]
    assert set(server.steps[4:]) == {"bisect"}
    assert server.rates[4:6] == [24.0, 20.0]  # midpoints of [16, 32) then [16, 24)
    assert [p.rate_rps for p in result.probes] == server.rates


@pytest.mark.parametrize("capacity", [3.0, 7.7, 41.0, 55.0])
def test_the_peak_is_a_probed_valid_rate_within_tolerance_of_the_truth(capacity: float) -> None:
    server = ScriptedServer(capacity_rps=capacity)
    result = find_peak(server, bounds(tolerance=0.05, max_probes=20))
    assert result.status == "found"
    assert result.peak_rps <= server.true_peak < result.upper_rps
    assert result.upper_rps <= result.peak_rps * 1.05
    peak = next(p for p in result.probes if p.rate_rps == result.peak_rps)
    assert peak.verdict.verdict == "VALID"


def test_a_start_over_the_peak_steps_down_until_a_probe_passes() -> None:
    server = ScriptedServer(capacity_rps=12.0)  # true peak 10.8
    result = find_peak(server, bounds(start_rps=40.0))
    assert server.rates[:3] == [40.0, 20.0, 10.0]
    assert server.steps[:3] == ["start", "lower", "lower"]
    assert result.status == "found"
    assert result.peak_rps <= server.true_peak < result.upper_rps


def test_no_rate_passes_when_even_the_floor_misses_and_the_reason_says_why() -> None:
    server = ScriptedServer(service_ms=600.0)  # slower than the bound at any rate
    result = find_peak(server, bounds(start_rps=4.0, min_rps=1.0))
    assert result.status == "no rate passed"
    assert result.peak_rps is None
    assert result.upper_rps == 1.0
    assert server.rates == [4.0, 2.0, 1.0]  # halved down to the floor, not below
    assert (
        "the lowest, 1 req/s, was INVALID (p99 630 ms (corrected, every request) over the "
        "500 ms bound)" in result.reason
    )


def test_a_server_that_never_misses_stops_at_the_ceiling() -> None:
    server = ScriptedServer(capacity_rps=1e6)
    result = find_peak(server, bounds(max_rps=50.0))
    assert server.rates == [4.0, 8.0, 16.0, 32.0, 50.0]
    assert result.status == "at ceiling"
    assert result.peak_rps == 50.0
    assert result.upper_rps is None


def test_the_probe_budget_ends_the_search_and_says_the_bracket_is_wide() -> None:
    server = ScriptedServer()
    result = find_peak(server, bounds(max_probes=5))
    assert len(server.rates) == 5
    assert result.status == "probes exhausted"
    assert (result.peak_rps, result.upper_rps) == (16.0, 24.0)
    assert "50% wide, over the 10% tolerance, after the 5 probes allowed" in result.reason


def test_a_probe_that_cannot_run_stops_the_search_with_its_error() -> None:
    server = ScriptedServer()

    def probe(rate: float, step: Step) -> ProbeOutcome:
        if rate > 10:
            raise ProbeFailed("local-k8s did not deploy: no pod became ready")
        return server(rate, step)

    result = find_peak(probe, bounds())
    assert result.status == "failed"
    assert result.peak_rps is None
    assert "rates probed: 4, 8" in result.reason
    assert "no pod became ready" in result.reason


def test_the_peak_is_read_below_the_lowest_invalid_rate_when_results_are_not_monotone() -> None:
    server = ScriptedServer()
    probes = [server(r, "start") for r in (4.0, 16.0)]
    failed = ProbeOutcome(
        rate_rps=8.0,
        verdict=judge_run({"slo_met": False, "slo_p99_ms": 500, "p99_is_failure": True,
                           "failed_share": 0.05, "requests": 200, "measure_s": 10}, RULE),
    )  # fmt: skip
    result = bracket([*probes, failed], bounds())
    assert (result.peak_rps, result.upper_rps) == (4.0, 8.0)
    assert "not monotone: VALID at 16 req/s above the INVALID 8 req/s" in result.reason
    assert "p99 lands on a failed or dropped request (5.0% failed)" in result.reason


def test_bounds_refuse_a_start_outside_the_floor_and_the_ceiling() -> None:
    with pytest.raises(ValueError, match=r"must lie between min_rps 0\.5 and max_rps 64"):
        bounds(start_rps=100.0)
