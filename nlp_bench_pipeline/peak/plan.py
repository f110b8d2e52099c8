"""What a peak-rate search covers: the bound, the policies, the sizes, and each probe's shape.

A probe is one run of the ``peak`` scenario (``loadgen/scenarios.yaml``) at the rate the search
chose. The catalog entry gives, per profile, the warm-up, the first rate (its measure rate) and
the least a probe measures (its measure duration); a probe at a low rate measures longer, until
its schedule holds ``min_requests`` — so every probe is long enough by construction, as MLPerf
runs until both its minimum duration and its minimum query count are met, and the
:class:`~nlp_bench_pipeline.bench.verdict.ValidityRule` it is judged by is exactly those two.

Two policies (:data:`POLICIES`):

- ``warmed``: the capacity the rate needs is made ready first — on Lambda-style targets the
  environments the probe's whole schedule needs at once (``bench.warming``, as ``warm_steady``),
  on Kubernetes-style targets every replica up to ``max_replicas`` ready before the load — and a
  warm-up phase at the probe's rate; both are recorded with the run and left out of its figures;
- ``cold``: nothing is warmed beyond the deploy's first success and one warm-up request, so the
  scale-out under the probe's load (inits, pods the HPA starts) is inside what is measured.

Profiles: ``quick`` (``make bench``) runs the warmed policy at the benchmark's one size, with a
short rule (10 s, 100 requests); ``full`` both policies at three sizes per platform under the
report's rule (60 s, 100 requests); ``smoke`` seconds, for tests.
"""

from __future__ import annotations

import math
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlp_bench_pipeline.bench.verdict import ValidityRule
from nlp_bench_pipeline.core.platform_facts import LAMBDA_MB_PER_VCPU
from nlp_bench_pipeline.core.profiles import profile_fields
from nlp_bench_pipeline.loadgen.scenarios import ScenarioConfig, load_scenario
from nlp_bench_pipeline.peak.search import SearchBounds
from nlp_bench_pipeline.store.peak import PEAK_SCENARIO

Policy = Literal["warmed", "cold"]
POLICIES: tuple[Policy, ...] = ("warmed", "cold")
DEFAULT_SLO_MS = 500.0
# MLPerf Inference's Server latency bound for BERT (99th percentile, 130 ms).
MLPERF_BERT_SLO_MS = 130.0
# A probe's client timeout is at least this many times its bound, so a request that timed out
# would have missed the bound anyway (a failure counts as a miss either way).
TIMEOUT_OVER_BOUND = 4.0
COLD_WARMUP = [{"duration_s": 1, "rate": 1, "arrivals": "uniform"}]  # one request


class PeakPlan(BaseModel):
    """The knobs of one search invocation; ``for_profile`` fills in the profile's defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile: Literal["smoke", "quick", "full"] = "quick"
    slo_ms: float = Field(DEFAULT_SLO_MS, gt=0, le=60_000, description="the p99 bound searched")
    also_slo_ms: tuple[float, ...] = Field(
        (MLPERF_BERT_SLO_MS,), description="other bounds, judged on the same probes"
    )
    policies: tuple[Policy, ...] = Field(("warmed",), min_length=1)
    memory_sizes_mb: tuple[int, ...] = Field((), description="Lambda sizes; empty: the plan's")
    pod_cpus: tuple[float, ...] = Field((), description="pod CPU (request = limit); empty: plan's")
    min_requests: int = Field(100, ge=1, description="scheduled requests a probe measures")
    start_rps: float | None = Field(None, gt=0, description="None: the peak scenario's rate")
    min_rps: float = Field(0.5, gt=0)
    max_rps: float = Field(64.0, gt=0)
    growth: float = Field(2.0, gt=1)
    tolerance: float = Field(0.2, gt=0, lt=1)
    max_probes: int = Field(5, ge=1, le=100)
    seed_offset: int = Field(0, ge=0, description="added to the catalog seed (repeat a search)")

    @field_validator("policies", "also_slo_ms", "memory_sizes_mb", "pod_cpus")
    @classmethod
    def _distinct(cls, values: tuple) -> tuple:
        return tuple(dict.fromkeys(values))

    @classmethod
    def for_profile(cls, profile: str, **overrides: object) -> Self:
        """The profile's defaults with ``overrides`` on top (None or empty: keep the default)."""
        return cls(profile=profile, **profile_fields(PROFILE_DEFAULTS, profile, overrides))

    @property
    def bounds(self) -> tuple[float, ...]:
        """The searched bound first, then the others judged on its probes."""
        return (self.slo_ms, *(b for b in self.also_slo_ms if b != self.slo_ms))

    def template(self) -> ScenarioConfig:
        """The ``peak`` scenario of this profile, as the catalog has it."""
        return load_scenario(PEAK_SCENARIO, self.profile)

    def rule(self) -> ValidityRule:
        """What a probe must be to count: the catalog's measure length, ``min_requests``."""
        return ValidityRule(
            min_duration_s=_measure_s(self.template()), min_requests=self.min_requests
        )

    def search_bounds(self) -> SearchBounds:
        return SearchBounds(
            start_rps=self.start_rps or self.template().measure[0].rate,
            min_rps=self.min_rps,
            max_rps=self.max_rps,
            growth=self.growth,
            tolerance=self.tolerance,
            max_probes=self.max_probes,
        )

    def probe_scenario(self, rate_rps: float, policy: Policy) -> ScenarioConfig:
        """One probe at ``rate_rps``: Poisson at that rate for at least the catalog's length and
        until the (seeded, fixed) schedule holds ``min_requests``; warm-up per ``policy``."""
        template = self.template()
        warmup = (
            [{"duration_s": template.warmup[0].duration_s, "rate": rate_rps}]
            if policy == "warmed"
            else COLD_WARMUP
        )
        fixed = {
            "warmup": warmup,
            "warm_capacity": "schedule" if policy == "warmed" else "none",
            "timeout_s": max(template.timeout_s, TIMEOUT_OVER_BOUND * max(self.bounds) / 1000),
            "seed": template.seed + self.seed_offset,
        }
        duration = max(_measure_s(template), math.ceil(self.min_requests / rate_rps))
        while True:
            scenario = load_scenario(
                PEAK_SCENARIO,
                self.profile,
                overrides={**fixed, "measure": [{"duration_s": duration, "rate": rate_rps}]},
            )
            scheduled = scenario.schedule().count("measure")
            if scheduled >= self.min_requests:
                return scenario
            duration += math.ceil((self.min_requests - scheduled) / rate_rps) + 1


def _measure_s(scenario: ScenarioConfig) -> float:
    return float(sum(segment.duration_s for segment in scenario.measure))


PROFILE_DEFAULTS: dict[str, dict[str, object]] = {
    "smoke": {"min_requests": 30, "tolerance": 0.3, "max_probes": 4, "max_rps": 64.0},
    # quick is one short series per target inside make bench's 12 minutes: three probes, and a
    # floor that stops a host passing no rate after two (6, 3 req/s; a probe at 1.5 req/s needs
    # 67 s for its 100 requests). Its peak is then a bracket to within 50 %, or "probes
    # exhausted" — full searches to 5 %.
    "quick": {
        "min_requests": 100,
        "tolerance": 0.5,
        "max_probes": 3,
        "min_rps": 3.0,
        "max_rps": 64.0,
    },
    "full": {
        "policies": POLICIES,
        "memory_sizes_mb": (1024, LAMBDA_MB_PER_VCPU, 3008),
        "pod_cpus": (0.5, 1.0, 2.0),
        "min_requests": 100,
        "tolerance": 0.05,
        "max_probes": 12,
        "min_rps": 0.25,
        "max_rps": 1000.0,
    },
}
