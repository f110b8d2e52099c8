"""Is a run a valid result? MLPerf's rule, on this benchmark's own figures.

MLPerf's Server scenario calls a run VALID only when its latency bound held over *every* query
and the run was long enough to say so: a minimum duration and a minimum query count. A run that
misses either is INVALID, whatever its numbers look like. Here:

- **the bound** is the run's ``slo_met`` (``run_summary``): the p99 from the intended send time
  over every scheduled request of the measure phase, failures and drops ranked slowest, within
  ``slo_p99_ms`` — so more than 1 % failed is never met;
- **the length** is the measure phase's configured duration (``benchmark_runs.measure_s``) and
  its scheduled request count (``run_summary.requests``), against a :class:`ValidityRule`. The
  default asks for 100 requests, the fewest for which a p99 is one request's latency rather than
  the maximum, and 60 s, MLPerf's own minimum divided by ten (a laptop run cannot give ten
  minutes per cell; a run that wants MLPerf's own rule passes ``MLPERF_RULE``).

One function for every caller — the report's SLO table and the peak-rate search — so "valid"
means one thing. It reads plain mappings (``run_summary`` rows with ``measure_s``), no store.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Verdict = Literal["VALID", "INVALID"]


class ValidityRule(BaseModel):
    """How long a run must be for its result to count."""

    model_config = ConfigDict(frozen=True)

    min_duration_s: float = Field(60.0, ge=0, description="measure phase, configured length")
    min_requests: int = Field(100, ge=0, description="scheduled requests of the measure phase")


DEFAULT_RULE = ValidityRule()
# MLPerf Inference's Server scenario: 600 s and 270,336 queries.
MLPERF_RULE = ValidityRule(min_duration_s=600.0, min_requests=270_336)


class RunVerdict(BaseModel):
    """VALID or INVALID, and every reason for it in a sentence each."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    reasons: list[str]

    @property
    def valid(self) -> bool:
        return self.verdict == "VALID"

    def describe(self) -> str:
        return "; ".join(self.reasons)


def judge_run(run: Mapping[str, Any], rule: ValidityRule = DEFAULT_RULE) -> RunVerdict:
    """The verdict on one run from its ``run_summary`` row and ``measure_s``.

    Every failed condition is named, so a short run that also missed its bound says both.
    """
    problems = _bound_problems(run) + _length_problems(run, rule)
    if problems:
        return RunVerdict(verdict="INVALID", reasons=problems)
    return RunVerdict(
        verdict="VALID",
        reasons=[
            f"p99 {_ms(run.get('p99_corrected_ms'))} (corrected, every request) within "
            f"{_ms(run.get('slo_p99_ms'))} over {run.get('requests'):,} requests in "
            f"{float(run.get('measure_s') or 0):g} s"
        ],
    )


def _bound_problems(run: Mapping[str, Any]) -> list[str]:
    bound = run.get("slo_p99_ms")
    if bound is None or run.get("slo_met") is None:
        return ["no SLO bound recorded for this run"]
    if run["slo_met"]:
        return []
    if run.get("p99_is_failure") or run.get("p99_corrected_ms") is None:
        share = float(run.get("failed_share") or 0.0)
        return [f"p99 lands on a failed or dropped request ({share:.1%} failed)"]
    return [
        f"p99 {_ms(run['p99_corrected_ms'])} (corrected, every request) over the {_ms(bound)} bound"
    ]


def _length_problems(run: Mapping[str, Any], rule: ValidityRule) -> list[str]:
    problems = []
    duration = run.get("measure_s")
    if duration is None:
        problems.append("measure phase length unknown")
    elif float(duration) < rule.min_duration_s:
        problems.append(
            f"measured {float(duration):g} s, under the {rule.min_duration_s:g} s minimum"
        )
    requests = int(run.get("requests") or 0)
    if requests < rule.min_requests:
        problems.append(f"{requests:,} requests, under the {rule.min_requests:,} minimum")
    return problems


def _ms(value: Any) -> str:
    return "–" if value is None else f"{float(value):,.0f} ms"
