"""The scale simulator's grid and its validation, as rows of ``simulation_results`` and
``simulation_validation``. Plain Python over ``simulate``.

The grid is both platforms × traffic patterns × mean rates, each a period of ``hours`` with
AWS's rules (Lambda: 1,000 concurrent environments, 1,000 new ones per 10 s, inits in parallel;
EKS: nodes from the catalog, the HPA, the cluster autoscaler), calibrated from the latest
complete runs in DuckDB (``simulate.calibrate``; the documented defaults where there are none,
and each row says which). The validation replays every local run of the latest series with the
local target's own settings (``simulate.validate_runs``), so a reader can tell whether the model
that projects to AWS's scale reproduces what was measured here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.simulate import (
    Calibration,
    SimulationResult,
    Traffic,
    calibrate,
    simulate_eks,
    simulate_lambda,
    validate_runs,
    validation_table,
)
from nlp_bench_pipeline.simulate.simulation import eks_settings_for, lambda_settings_for
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.economics import latest_local_run_ids

PLATFORMS = ("lambda", "eks")
RULES = "aws"


@dataclass(frozen=True)
class GridSettings:
    """The grid's axes and the platforms' shapes."""

    patterns: tuple[str, ...] = ("steady", "diurnal", "spiky", "bursty")
    rates_rps: tuple[float, ...] = (1.0, 10.0, 100.0)
    hours: float = 1.0
    slo_ms: float = 2000.0
    seed: int = 0
    memory_mb: int = LAMBDA_DEFAULT_MEMORY_MB
    node_type: str = "c6i.xlarge"
    pod_cpu: float = 1.0
    validation_resamples: int = 1000


# Quick keeps the grid to seconds (an hour at up to 100 req/s); full simulates days at up to
# 1,000 req/s, the scale the issue asks the projection for.
PROFILE_GRIDS: dict[str, dict[str, Any]] = {
    "smoke": {"rates_rps": (1.0, 10.0), "hours": 0.25, "validation_resamples": 200},
    "quick": {"rates_rps": (1.0, 10.0, 100.0), "hours": 1.0},
    "full": {"rates_rps": (1.0, 10.0, 100.0, 1000.0), "hours": 24.0},
}


def grid_for_profile(profile: str, **overrides: Any) -> GridSettings:
    """The profile's grid with ``overrides`` on top (None or empty: keep the profile's)."""
    if profile not in PROFILE_GRIDS:
        raise ValueError(f"unknown profile {profile!r}; choose from {', '.join(PROFILE_GRIDS)}")
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    return replace(GridSettings(), **{**PROFILE_GRIDS[profile], **given})


@dataclass(frozen=True)
class GridOutcome:
    """Rows of both tables, and the simulated requests and wall time the grid took."""

    results: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    validated_runs: list[str]
    not_replayed: dict[str, str] = field(default_factory=dict)  # run id -> why

    @property
    def requests(self) -> int:
        return sum(int(r["requests"]) for r in self.results)

    @property
    def wall_s(self) -> float:
        return sum(float(r["wall_s"]) for r in self.results)


def simulate_grid(
    store: MetricStore | None, catalog: PriceCatalog, settings: GridSettings
) -> GridOutcome:
    """Every (platform, pattern, rate) of the grid, then the validation of the latest runs."""
    calibrations = {platform: calibrate(store, platform) for platform in PLATFORMS}  # type: ignore[arg-type]
    results = [
        _simulate(platform, pattern, rate, calibrations[platform], catalog, settings)
        for platform in PLATFORMS
        for pattern in settings.patterns
        for rate in settings.rates_rps
    ]
    run_ids = latest_local_run_ids(store) if store is not None else []
    validations = (
        validate_runs(store, run_ids, seed=settings.seed, resamples=settings.validation_resamples)
        if run_ids and store is not None
        else []
    )
    return GridOutcome(
        [result_row(r, settings, catalog) for r in results],
        validation_table(validations),
        [v.run_id for v in validations if v.not_replayed is None],
        {v.run_id: v.not_replayed for v in validations if v.not_replayed is not None},
    )


def _simulate(
    platform: str,
    pattern: str,
    rate: float,
    calibration: Calibration,
    catalog: PriceCatalog,
    settings: GridSettings,
) -> SimulationResult:
    traffic = Traffic(pattern, rate, settings.hours * 3600.0, seed=settings.seed)  # type: ignore[arg-type]
    if platform == "lambda":
        lam = lambda_settings_for(traffic, calibration, memory_mb=settings.memory_mb)
        return simulate_lambda(
            traffic, lam, calibration, catalog=catalog, seed=settings.seed, slo_ms=settings.slo_ms
        )
    eks = eks_settings_for(traffic, calibration, catalog, node_type=settings.node_type,
                           cpu=settings.pod_cpu)  # fmt: skip
    return simulate_eks(
        traffic, eks, calibration, catalog=catalog, seed=settings.seed, slo_ms=settings.slo_ms
    )


def result_row(
    result: SimulationResult, settings: GridSettings, catalog: PriceCatalog
) -> dict[str, Any]:
    """One ``simulation_results`` row (without the simulation's id and time)."""
    counts, cost = result.counts, result.cost.to_dict()
    latency, ok_latency = result.latency.as_dict(), result.ok_latency.as_dict()
    lambda_side = result.platform == "lambda"
    failed = result.requests - int(result.outcomes.get("ok", 0))
    return {
        "platform": result.platform,
        "pattern": result.traffic.pattern,
        "mean_rps": result.traffic.mean_rate,
        "hours": result.traffic.duration_s / 3600.0,
        "configuration": (
            f"{settings.memory_mb} MB"
            if lambda_side
            else f"{settings.node_type}, {settings.pod_cpu:g} CPU pods"
        ),
        "memory_mb": settings.memory_mb if lambda_side else None,
        "node_type": None if lambda_side else settings.node_type,
        "rules": RULES,
        "seed": result.seed,
        "requests": result.requests,
        "ok": result.requests - failed,
        "failed": failed,
        **{key: latency[key] for key in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")},
        **{key.replace("_ms", "_ok_ms"): value for key, value in ok_latency.items()},
        "cold_starts": int(counts.get("cold_starts", 0)),
        "throttles": int(counts.get("throttles", 0)),
        "gateway_timeouts": int(counts.get("gateway_timeouts", 0)),
        "peak_concurrency": counts.get("peak_concurrency"),
        "peak_replicas": counts.get("peak_replicas"),
        "peak_nodes": counts.get("peak_nodes"),
        "outcomes": result.outcomes,
        "counts": counts,
        "slo_p99_ms": result.slo.p99_bound_ms,
        "slo_met": result.slo.met,
        "total_usd": cost["total_usd"],
        "usd_per_million": cost["per_million_requests_usd"],
        "usd_per_month": cost["per_month_usd"],
        "cost": cost,
        "distributions_source": str(result.calibration["source"]),
        "distributions": result.calibration,
        "settings": result.settings,
        "wall_s": result.wall_s,
        "catalog_digest": catalog.digest(),
    }
