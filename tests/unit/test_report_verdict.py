"""MLPerf-style verdicts: VALID only when the bound held over every request and the run was long
enough; every failed condition is named."""

from __future__ import annotations

from typing import Any

from nlp_bench_pipeline.bench.verdict import DEFAULT_RULE, MLPERF_RULE, ValidityRule, judge_run


def run(**changes: Any) -> dict[str, Any]:
    fields = {
        "slo_met": True,
        "slo_p99_ms": 2000.0,
        "p99_corrected_ms": 812.4,
        "p99_is_failure": False,
        "failed_share": 0.0,
        "requests": 1200,
        "measure_s": 120.0,
    }
    return fields | changes


def test_a_long_run_within_its_bound_is_valid_and_says_by_how_much() -> None:
    verdict = judge_run(run())
    assert verdict.valid
    assert verdict.reasons == [
        "p99 812 ms (corrected, every request) within 2,000 ms over 1,200 requests in 120 s"
    ]


def test_a_p99_over_the_bound_is_invalid() -> None:
    verdict = judge_run(run(slo_met=False, p99_corrected_ms=2500.0))
    assert verdict.verdict == "INVALID"
    assert verdict.reasons == ["p99 2,500 ms (corrected, every request) over the 2,000 ms bound"]


def test_a_p99_on_a_failure_is_invalid_with_the_failed_share() -> None:
    verdict = judge_run(
        run(slo_met=False, p99_corrected_ms=None, p99_is_failure=True, failed_share=0.034)
    )
    assert verdict.reasons == ["p99 lands on a failed or dropped request (3.4% failed)"]


def test_a_short_run_that_met_its_bound_is_still_invalid_and_names_both_minimums() -> None:
    verdict = judge_run(run(requests=50, measure_s=20.0))
    assert not verdict.valid
    assert verdict.reasons == [
        f"measured 20 s, under the {DEFAULT_RULE.min_duration_s:g} s minimum",
        f"50 requests, under the {DEFAULT_RULE.min_requests} minimum",
    ]


def test_every_failed_condition_is_named_together() -> None:
    verdict = judge_run(run(slo_met=False, p99_corrected_ms=2500.0, requests=10))
    assert len(verdict.reasons) == 2
    assert "over the 2,000 ms bound" in verdict.describe()
    assert "10 requests" in verdict.describe()


def test_a_run_without_a_bound_cannot_be_valid() -> None:
    verdict = judge_run(run(slo_met=None, slo_p99_ms=None))
    assert verdict.reasons == ["no SLO bound recorded for this run"]


def test_the_rule_is_a_parameter_and_mlperfs_own_is_stricter() -> None:
    assert judge_run(run(), ValidityRule(min_duration_s=0, min_requests=0)).valid
    assert not judge_run(run(), MLPERF_RULE).valid
