"""The scale simulator's projection: the same search on the same configuration, under AWS's rules.

A local peak is this host's: environments and pods share its cores (and the load generator's),
inits wait for the host's init slots, and the concurrency limit was lowered to fit it. The
simulator (``nlp_bench_pipeline.simulate``) replays the platform's own rules with durations
calibrated from the search's own probe runs, so the projection answers "what would this
configuration — this memory size and concurrency limit, these pods — hold on AWS, at the service
time measured here?". Its probes are simulated periods of steady Poisson traffic as long as the
measured probes (the same rule), judged by the same ``bench.verdict.judge_run`` and searched by
the same ``find_peak``. The warmed policy starts each period with the configuration's whole
capacity warm — every environment its concurrency limit allows, every replica ready — as the
measured warming prepares the capacity a rate needs within that limit; the cold policy from no
warm environment (Lambda) or the minimum replicas (EKS).

The calibration's service times carry the host's contention (docs/simulator.md says so): the
projection removes the host's *limits*, not its slowness.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from nlp_bench_pipeline.bench.verdict import ValidityRule, judge_run
from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.peak.capacity import Size
from nlp_bench_pipeline.peak.plan import Policy
from nlp_bench_pipeline.peak.search import ProbeOutcome, Step
from nlp_bench_pipeline.simulate.calibration import Calibration
from nlp_bench_pipeline.simulate.lambda_model import LambdaSettings
from nlp_bench_pipeline.simulate.simulation import (
    SimulationResult,
    eks_settings_for,
    lambda_settings_for,
    settings_dict,
    simulate_eks,
    simulate_lambda,
)
from nlp_bench_pipeline.simulate.traffic import Traffic

# Simulated Poisson counts vary; a period this many standard deviations longer than the minimum
# request count needs is never short of it in practice.
COUNT_MARGIN_SIGMAS = 4.0


class SimulatedProbes:
    """``probe(rate, step)`` for ``find_peak``: one simulated period per rate."""

    def __init__(
        self,
        *,
        target: str,
        size: Size,
        policy: Policy,
        calibration: Calibration,
        catalog: PriceCatalog,
        concurrency_limit: int | None,
        min_replicas: int,
        bound_ms: float,
        rule: ValidityRule,
        seed: int,
    ) -> None:
        self.target = target
        self.size = size
        self.policy = policy
        self.calibration = calibration
        self.catalog = catalog
        self.concurrency_limit = concurrency_limit
        self.min_replicas = min_replicas
        self.bound_ms = bound_ms
        self.rule = rule
        self.seed = seed
        self.last_settings: dict[str, Any] = {}

    @property
    def lambda_style(self) -> bool:
        return self.target in LAMBDA_STYLE_TARGETS

    def __call__(self, rate_rps: float, step: Step) -> ProbeOutcome:
        needed = self.rule.min_requests + COUNT_MARGIN_SIGMAS * math.sqrt(self.rule.min_requests)
        duration_s = max(self.rule.min_duration_s, needed / rate_rps)
        traffic = Traffic("steady", rate_rps, duration_s, seed=self.seed)
        result = self._simulate(traffic)
        row = simulated_row(result, duration_s)
        return ProbeOutcome(
            rate_rps=rate_rps, verdict=judge_run(row, self.rule), step=step, figures=row
        )

    def _simulate(self, traffic: Traffic) -> SimulationResult:
        common = {"catalog": self.catalog, "seed": self.seed, "slo_ms": self.bound_ms}
        if self.lambda_style:
            knobs: dict[str, Any] = {"memory_mb": self.size.memory_mb or LAMBDA_DEFAULT_MEMORY_MB}
            if self.concurrency_limit:
                knobs["concurrency_limit"] = self.concurrency_limit
            if self.policy == "cold":
                settings = LambdaSettings(**knobs)
            elif self.concurrency_limit:  # every environment the limit allows, warm
                settings = LambdaSettings(**knobs, warm_at_start=self.concurrency_limit)
            else:
                settings = lambda_settings_for(traffic, self.calibration, **knobs)
            self.last_settings = settings_dict(settings)
            return simulate_lambda(traffic, settings, self.calibration, **common)
        replicas = self.size.replicas or 1
        low = replicas if self.policy == "warmed" else min(self.min_replicas, replicas)
        eks = eks_settings_for(
            traffic,
            self.calibration,
            self.catalog,
            cpu=self.size.pod_cpu or 1.0,
            min_replicas=low,
            max_replicas=replicas,
        )
        if self.policy == "cold":
            eks = replace(eks, initial_replicas=low)
        self.last_settings = settings_dict(eks)
        return simulate_eks(traffic, eks, self.calibration, **common)


def simulated_row(result: SimulationResult, duration_s: float) -> dict[str, Any]:
    """A simulated period as the ``run_summary`` columns ``judge_run`` reads."""
    ok = int(result.outcomes.get("ok", 0))
    p99 = result.latency.p99
    return {
        "requests": result.requests,
        "measure_s": round(duration_s, 3),
        "slo_p99_ms": result.slo.p99_bound_ms,
        "slo_met": result.slo.met,
        "p99_corrected_ms": p99,
        "p99_is_failure": p99 is None,
        "failed_share": (result.requests - ok) / result.requests if result.requests else 0.0,
        "cold_starts": int(result.counts.get("cold_starts", 0)),
        "throughput_rps": ok / duration_s,
        "offered_rps": result.requests / duration_s,
        "p99_ok_ms": result.ok_latency.p99,
    }


def calibration_runs(measured: Sequence[ProbeOutcome]) -> list[str]:
    """The measured probes' runs a projection calibrates from (every one that was stored)."""
    return [probe.run_id for probe in measured if probe.run_id]
