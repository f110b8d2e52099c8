"""The search for the highest rate that holds the bound, as MLPerf LoadGen's FindPeakPerformance.

LoadGen (``loadgen.cc``, ``FindPeakPerformanceMode``) runs the Server scenario at the user's
target rate; if that run meets its constraints it widens the rate (×2) until a run does not,
then bisects the interval ``[last pass, first fail)`` until it is narrower than its precision,
and reports the lower bound. This module does the same over any ``probe(rate)`` that answers
with a VALID or INVALID verdict (``bench.verdict``), so the local targets, AWS and the scale
simulator are searched by one rule. Two differences, both for a laptop's budget:

- a start that fails is not an error: the rate is divided by the same factor until a probe
  passes or the rate falls below ``min_rps``. LoadGen leaves the lower bound to the user because
  a Server result need not be monotone in the rate; so the search never probes below a rate
  that passed, and the peak it reports is always a rate that was probed and passed;
- the bisection stops at a *relative* width (``tolerance`` of the lower bound) or after
  ``max_probes`` probes, whichever comes first, and the result says which.

The result is read from the probes alone (:func:`bracket`): the peak is the highest VALID rate
below the lowest INVALID one, so the same function judges the same probes against another bound.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from nlp_bench_pipeline.bench.verdict import RunVerdict

Step = Literal["start", "lower", "widen", "bisect"]
SearchStatus = Literal[
    "found", "no rate passed", "at ceiling", "probes exhausted", "failed", "not run (host)"
]


class SearchBounds(BaseModel):
    """Where the search starts, how far it may go, and when it is narrow enough."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_rps: float = Field(gt=0, description="the first probe's rate")
    min_rps: float = Field(gt=0, description="the lowest rate it steps down to")
    max_rps: float = Field(gt=0, description="the ceiling: the most the load generator offers")
    growth: float = Field(2.0, gt=1, description="factor between rates while widening/lowering")
    tolerance: float = Field(0.1, gt=0, lt=1, description="stop at upper − peak ≤ this × peak")
    max_probes: int = Field(8, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> SearchBounds:
        if not self.min_rps <= self.start_rps <= self.max_rps:
            raise ValueError(
                f"the start rate {self.start_rps:g} req/s must lie between min_rps "
                f"{self.min_rps:g} and max_rps {self.max_rps:g}"
            )
        return self

    def narrow(self, peak_rps: float, upper_rps: float) -> bool:
        return upper_rps - peak_rps <= self.tolerance * peak_rps


class ProbeOutcome(BaseModel):
    """One probe: the rate offered, the verdict on it, and what it was (run id, figures)."""

    model_config = ConfigDict(frozen=True)

    rate_rps: float
    verdict: RunVerdict
    step: Step = "start"
    run_id: str | None = None
    figures: dict[str, Any] = Field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.verdict.valid


class ProbeFailed(RuntimeError):
    """A probe could not run at all (the platform did not deploy or serve): the search stops."""


Prober = Callable[[float, Step], ProbeOutcome]


class SearchResult(BaseModel):
    """What a search found: the peak (a probed VALID rate), the bracket above it, and why."""

    model_config = ConfigDict(frozen=True)

    status: SearchStatus
    peak_rps: float | None
    upper_rps: float | None
    reason: str
    probes: list[ProbeOutcome]


def find_peak(probe: Prober, bounds: SearchBounds) -> SearchResult:
    """Probe rates as LoadGen does (start, widen ×growth, bisect) and read the peak off them."""
    probes: list[ProbeOutcome] = []

    def run(rate: float, step: Step) -> ProbeOutcome:
        outcome = probe(rate, step)
        probes.append(outcome)
        return outcome

    def budget_left() -> bool:
        return len(probes) < bounds.max_probes

    try:
        first = run(bounds.start_rps, "start")
        lower = bounds.start_rps if first.valid else None
        upper = None if first.valid else bounds.start_rps
        while lower is None and upper is not None and budget_left():
            rate = upper / bounds.growth
            if rate < bounds.min_rps:
                break
            if run(rate, "lower").valid:
                lower = rate
            else:
                upper = rate
        while lower is not None and upper is None and lower < bounds.max_rps and budget_left():
            rate = min(lower * bounds.growth, bounds.max_rps)
            if run(rate, "widen").valid:
                lower = rate
            else:
                upper = rate
        while (
            lower is not None
            and upper is not None
            and not bounds.narrow(lower, upper)
            and budget_left()
        ):
            rate = (lower + upper) / 2
            if run(rate, "bisect").valid:
                lower = rate
            else:
                upper = rate
    except ProbeFailed as exc:
        rates = ", ".join(f"{p.rate_rps:g}" for p in probes) or "none"
        return SearchResult(
            status="failed",
            peak_rps=None,
            upper_rps=None,
            reason=f"a probe could not run, so the search stopped (rates probed: {rates}): {exc}",
            probes=probes,
        )
    return bracket(probes, bounds)


def bracket(probes: Sequence[ProbeOutcome], bounds: SearchBounds, note: str = "") -> SearchResult:
    """The peak the probes show: the highest VALID rate below the lowest INVALID one.

    ``note`` is added to the reason (e.g. which search chose the rates).
    """
    invalid = [p for p in probes if not p.valid]
    upper = min(invalid, key=lambda p: p.rate_rps) if invalid else None
    below = [p for p in probes if p.valid and (upper is None or p.rate_rps < upper.rate_rps)]
    peak = max(below, key=lambda p: p.rate_rps) if below else None
    status, reason = _status(peak, upper, probes, bounds)
    ignored = [p for p in probes if p.valid and upper is not None and p.rate_rps > upper.rate_rps]
    if ignored:
        reason += (
            f"; not monotone: VALID at {_rates(ignored)} above the INVALID {_rate(upper)}, so "
            "the peak is taken below the lowest INVALID rate"
        )
    return SearchResult(
        status=status,
        peak_rps=peak.rate_rps if peak else None,
        upper_rps=upper.rate_rps if upper else None,
        reason=reason + (f"; {note}" if note else ""),
        probes=list(probes),
    )


def _status(
    peak: ProbeOutcome | None,
    upper: ProbeOutcome | None,
    probes: Sequence[ProbeOutcome],
    bounds: SearchBounds,
) -> tuple[SearchStatus, str]:
    count = f"{len(probes)} probe{'s' if len(probes) != 1 else ''}"
    if peak is None:
        assert upper is not None  # a search probes at least once
        return (
            "no rate passed",
            f"no probed rate held the bound: the lowest, {_rate(upper)}, was INVALID "
            f"({upper.verdict.describe()}); {count}",
        )
    if upper is None:
        if peak.rate_rps >= bounds.max_rps:
            return (
                "at ceiling",
                f"VALID at the ceiling {_rate(peak)} ({peak.verdict.describe()}): the peak is "
                f"at least that; {count}",
            )
        return (
            "probes exhausted",
            f"VALID up to {_rate(peak)} and no INVALID rate found before the {count} allowed "
            "ran out: the peak is at least that",
        )
    found = (
        f"VALID at {_rate(peak)} ({peak.verdict.describe()}), INVALID at {_rate(upper)} "
        f"({upper.verdict.describe()})"
    )
    if bounds.narrow(peak.rate_rps, upper.rate_rps):
        return "found", f"{found}; within {bounds.tolerance:.0%} after {count}"
    return (
        "probes exhausted",
        f"{found}; the bracket is {upper.rate_rps / peak.rate_rps - 1:.0%} wide, over the "
        f"{bounds.tolerance:.0%} tolerance, after the {count} allowed",
    )


def _rate(probe: ProbeOutcome) -> str:
    return f"{probe.rate_rps:.3g} req/s"


def _rates(probes: Sequence[ProbeOutcome]) -> str:
    return ", ".join(_rate(p) for p in probes)
