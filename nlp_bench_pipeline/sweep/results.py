"""A sweep's figures per memory size, their cost, and the best size by cost, speed and balance.

Per size: p50/p95/p99 of the warm invocations' Duration (the REPORT's, what the function took)
and of their latency through the gateway (what a client waited); for the cold ones, Init
Duration, Billed Duration (Init Duration inside it) and the client's wait to the first success.
Percentiles interpolate linearly over the successful invocations, as DuckDB's
``quantile_cont`` does; failed ones are counted in ``errors``. With a handful of cold samples,
their p95 and p99 are close to the slowest one — the counts say how many there were.

Cost per invocation is the cost model's (``costs.lambda_cost``) bill for the size's own REPORT
records scaled to ``PRICING_INVOCATIONS`` a month (the first tier): Billed Duration × memory,
the request fee and the START/END/REPORT log lines — Lambda's own bill, as Power Tuning prices
it. The API Gateway fee is the same at every size and is left to the cost estimates.

The best size among those that ran (AWS Lambda Power Tuning's three strategies, on the warm
p50 Duration rather than a trimmed mean): by cost, the cheapest warm invocation (faster wins a
tie); by speed, the shortest warm p50 (cheaper wins a tie); balanced, the smallest
``w·cost/max(cost) + (1−w)·duration/max(duration)`` (cheaper wins a tie).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import numpy as np

from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage_from_reports
from nlp_bench_pipeline.costs.model import lambda_cost
from nlp_bench_pipeline.sweep.invocations import Sample, SizeSamples
from nlp_bench_pipeline.targets.cpu_quota import lambda_cores

Status = Literal["run", "not run (host)", "not run (quota)", "failed"]
Strategy = Literal["cost", "speed", "balanced"]
PRICING_INVOCATIONS = 1_000_000
PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


def percentiles(values: Sequence[float | None]) -> dict[str, float | None]:
    """p50/p95/p99 by linear interpolation; None for each when there is no value."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if present.size == 0:
        return dict.fromkeys(PERCENTILES)
    return {
        name: float(np.percentile(present, q, method="linear")) for name, q in PERCENTILES.items()
    }


def usd_per_invocation(reports: Sequence[dict[str, Any]], catalog: PriceCatalog) -> float | None:
    """Lambda's bill per invocation for these REPORT records (see the module docstring)."""
    if not reports:
        return None
    usage = lambda_usage_from_reports(reports, PRICING_INVOCATIONS, catalog)
    return lambda_cost(usage, catalog).total_usd / PRICING_INVOCATIONS


@dataclass(frozen=True)
class SizeResult:
    """One memory size: run (with its samples) or not, and why."""

    memory_mb: int
    status: Status
    reason: str | None = None
    measured: SizeSamples | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def warm(self) -> list[Sample]:
        return self.measured.of_kind("warm") if self.measured else []

    @property
    def cold(self) -> list[Sample]:
        return self.measured.of_kind("cold") if self.measured else []

    def figures(self, catalog: PriceCatalog) -> dict[str, Any]:
        """The size's columns of ``memory_sweep`` (durations, costs; no ranking)."""
        warm_ok = [s for s in self.warm if s.ok]
        cold_ok = [s for s in self.cold if s.ok]
        samples = self.measured.samples if self.measured else []
        figures: dict[str, Any] = {
            "memory_mb": self.memory_mb,
            "vcpus": round(lambda_cores(self.memory_mb), 3),
            "status": self.status,
            "reason": self.reason,
            "warm_invocations": len(self.warm),
            "cold_invocations": len(self.cold),
            "errors": sum(not s.ok for s in samples),
            "init_retries": self.measured.init_retries if self.measured else 0,
            "warm_billed_mean_ms": _mean([s.billed_ms for s in warm_ok]),
            "cold_init_p50_ms": percentiles([s.init_ms for s in cold_ok])["p50"],
            "max_memory_used_mb": max(
                (s.max_memory_mb for s in samples if s.max_memory_mb is not None), default=None
            ),
            "usd_per_invocation": usd_per_invocation(_reports(warm_ok), catalog),
            "usd_per_cold_invocation": usd_per_invocation(_reports(cold_ok), catalog),
        }
        for prefix, values in (
            ("warm_duration", [s.duration_ms for s in warm_ok]),
            ("warm_client", [s.client_ms for s in warm_ok]),
            ("cold_billed", [s.billed_ms for s in cold_ok]),
            ("cold_client", [s.client_ms for s in cold_ok]),
        ):
            for name, value in percentiles(values).items():
                figures[f"{prefix}_{name}_ms"] = value
        per_invocation = figures["usd_per_invocation"]
        figures["usd_per_million"] = None if per_invocation is None else per_invocation * 1e6
        return figures


@dataclass(frozen=True)
class Best:
    """The memory size each strategy picks (None when no size ran), and the balanced scores."""

    by_cost: int | None
    by_speed: int | None
    balanced: int | None
    weight: float
    scores: dict[int, float]

    def picks(self) -> dict[Strategy, int | None]:
        return {"cost": self.by_cost, "speed": self.by_speed, "balanced": self.balanced}


def choose_best(figures: Sequence[dict[str, Any]], weight: float) -> Best:
    """Power Tuning's three strategies over the sizes that ran with a cost and a duration."""
    ranked = [
        (f["memory_mb"], f["usd_per_invocation"], f["warm_duration_p50_ms"])
        for f in figures
        if f["status"] == "run"
        and f["usd_per_invocation"] is not None
        and f["warm_duration_p50_ms"] is not None
    ]
    if not ranked:
        return Best(None, None, None, weight, {})
    top_cost = max(cost for _, cost, _ in ranked) or 1.0
    top_duration = max(duration for _, _, duration in ranked) or 1.0
    scores = {
        memory: weight * cost / top_cost + (1 - weight) * duration / top_duration
        for memory, cost, duration in ranked
    }

    def pick(key: Callable[[tuple[int, float, float]], tuple[float, ...]]) -> int:
        return min(ranked, key=key)[0]

    return Best(
        by_cost=pick(lambda r: (r[1], r[2])),
        by_speed=pick(lambda r: (r[2], r[1])),
        balanced=pick(lambda r: (scores[r[0]], r[1])),
        weight=weight,
        scores=scores,
    )


@dataclass(frozen=True)
class SweepResult:
    """A whole sweep: every size, the best picks, and what it ran on."""

    sweep_id: str
    target: str
    profile: str
    model: str
    started_at: datetime
    finished_at: datetime
    sizes: tuple[SizeResult, ...]
    catalog: PriceCatalog
    weight: float
    detail: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> list[dict[str, Any]]:
        return [size.figures(self.catalog) for size in self.sizes]

    def best(self) -> Best:
        return choose_best(self.figures(), self.weight)

    def rows(self) -> list[dict[str, Any]]:
        """``memory_sweep`` rows, one per size (docs/schema.md)."""
        all_figures = self.figures()
        best = choose_best(all_figures, self.weight)
        digest = self.catalog.digest()
        return [
            {
                **figures,
                "sweep_id": self.sweep_id,
                "target": self.target,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "profile": self.profile,
                "model": self.model,
                "balance_weight": self.weight,
                "balanced_score": best.scores.get(figures["memory_mb"]),
                "best_by_cost": best.by_cost == figures["memory_mb"],
                "best_by_speed": best.by_speed == figures["memory_mb"],
                "best_balanced": best.balanced == figures["memory_mb"],
                "catalog_digest": digest,
                "detail": {**self.detail, **size.detail, **_size_detail(size)},
            }
            for size, figures in zip(self.sizes, all_figures, strict=True)
        ]


def _size_detail(size: SizeResult) -> dict[str, Any]:
    if size.measured is None:
        return {}
    deployment = size.measured.deployment
    return {
        "extra_environments": size.measured.extra_environments,
        "cpu": deployment.get("cpu"),
        "host_limited": deployment.get("host_limited"),
        "errors": sorted({s.error for s in size.measured.samples if s.error}),
    }


def _reports(samples: Sequence[Sample]) -> list[dict[str, Any]]:
    return [r for r in (s.report for s in samples) if r is not None]


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None
