"""[economics] What the benchmark says about money and scale: cost estimates and the break-even
from the latest runs, the memory-size sweep, and the scale simulator's grid with its validation.

Each asset is a few lines over plain Python (``estimates.py``, ``simulation_grid.py``, the
``sweep`` package) and writes its tables through ``store.economics`` under the Dagster run's id.
"""

from typing import Any

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.costs.breakeven import PEAK_TO_MEAN, BreakEvenStudy
from nlp_bench_pipeline.defs.build.assets import model_artifact
from nlp_bench_pipeline.defs.economics.catalog import load, price_catalog
from nlp_bench_pipeline.defs.economics.estimates import (
    DEFAULT_RATES_RPS,
    EstimateSettings,
    TrafficProfile,
    estimate_costs,
)
from nlp_bench_pipeline.defs.economics.metadata import table
from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.defs.economics.simulation_grid import grid_for_profile, simulate_grid
from nlp_bench_pipeline.defs.metrics.assets import run_summary
from nlp_bench_pipeline.defs.peak.assets import peak_rate
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.lib.asset_support import enabled_target
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.store.economics import (
    COST_BREAKEVEN,
    COST_ESTIMATES,
    MEMORY_SWEEP,
    SIMULATION_RESULTS,
    SIMULATION_VALIDATION,
    write,
    write_many,
)
from nlp_bench_pipeline.sweep import SweepPlan, run_sweep
from nlp_bench_pipeline.sweep.capacity import capacity_for
from nlp_bench_pipeline.sweep.plan import DEFAULT_SIZES_MB, QUICK_SIZES_MB

ECONOMICS = "nlp_bench_pipeline/defs/economics"
STORE = ("nlp_bench_pipeline/store/economics.py", "nlp_bench_pipeline/store/migrations")
ESTIMATES_VERSION = source_version("nlp_bench_pipeline/costs", ECONOMICS, *STORE)
SWEEP_VERSION = source_version(
    "nlp_bench_pipeline/sweep", "nlp_bench_pipeline/costs", "nlp_bench_pipeline/targets",
    "nlp_bench_pipeline/client.py", ECONOMICS, *STORE,
)  # fmt: skip
SIMULATION_VERSION = source_version(
    "nlp_bench_pipeline/simulate", "nlp_bench_pipeline/costs", ECONOMICS, *STORE
)

ESTIMATE_COLUMNS = (
    ("platform", "string"), ("configuration", "string"), ("traffic_profile", "string"),
    ("usd_per_month", "float"), ("usd_per_million_inferences", "float"), ("meets_slo", "bool"),
    ("pods", "int"), ("nodes", "int"),
)  # fmt: skip
BREAKEVEN_COLUMNS = (
    ("shape", "string"), ("rate_rps", "float"), ("interval_low_rps", "float"),
    ("interval_high_rps", "float"), ("first_rate_rps", "float"), ("lambda_memory_mb", "int"),
    ("node_type", "string"), ("reason", "string"),
)  # fmt: skip
BEST_COLUMNS = (
    ("strategy", "string"), ("memory_mb", "int"), ("usd_per_million", "float"),
    ("warm_duration_p50_ms", "float"), ("warm_client_p50_ms", "float"),
    ("balanced_score", "float"),
)  # fmt: skip
SWEEP_COLUMNS = (
    ("memory_mb", "int"), ("status", "string"), ("reason", "string"),
    ("warm_invocations", "int"), ("cold_invocations", "int"), ("errors", "int"),
    ("warm_duration_p50_ms", "float"), ("warm_duration_p95_ms", "float"),
    ("warm_duration_p99_ms", "float"), ("warm_client_p50_ms", "float"),
    ("warm_client_p99_ms", "float"), ("cold_init_p50_ms", "float"),
    ("cold_billed_p50_ms", "float"), ("cold_client_p50_ms", "float"), ("init_retries", "int"),
    ("usd_per_million", "float"), ("usd_per_cold_invocation", "float"),
)  # fmt: skip
GRID_COLUMNS = (
    ("platform", "string"), ("pattern", "string"), ("mean_rps", "float"), ("requests", "int"),
    ("p50_ms", "float"), ("p99_ms", "float"), ("cold_starts", "int"), ("throttles", "int"),
    ("slo_met", "bool"), ("usd_per_million", "float"), ("usd_per_month", "float"),
    ("distributions_source", "string"),
)  # fmt: skip
VALIDATION_COLUMNS = (
    ("run_id", "string"), ("target", "string"), ("scenario", "string"), ("metric", "string"),
    ("measured", "float"), ("simulated", "float"), ("low", "float"), ("high", "float"),
    ("passed", "bool"), ("reason", "string"),
)  # fmt: skip


class CostEstimatesConfig(dg.Config):
    """Which runs to price and for which traffics; empty lists take the defaults."""

    scenario: str = Field("warm_steady", description="the scenario whose runs are priced")
    rates_rps: list[float] = Field(list(DEFAULT_RATES_RPS), description="mean request rates")
    shapes: list[str] = Field(list(PEAK_TO_MEAN), description="steady, diurnal, spiky")
    node_types: list[str] = Field([], description="EKS node types; empty: every one")
    breakeven_node_type: str = "c7i.xlarge"
    utilisation: float = Field(0.6, gt=0, le=1, description="share of pod capacity at peak")
    gateway: str = Field("http", description="API Gateway in front of Lambda: http or rest")
    provisioned_concurrency: int = Field(
        0,
        ge=0,
        description="Lambda environments kept warm all month (capacity charge); the traffic "
        "above them at the shape's peak is billed on demand; 0: on demand only",
    )


@dg.asset(
    deps=[price_catalog, run_summary, peak_rate],  # peak_rate: the pods' capacity where it fits
    group_name="economics",
    kinds={"duckdb", "python"},
    code_version=ESTIMATES_VERSION,
    description="Cost per month and per million inferences of every measured Lambda memory size "
    "(x86 and Arm) and every EKS node type at each traffic profile, line by line, from the "
    "latest complete runs; and the break-even rate at equal SLO per traffic shape. Tables "
    "cost_estimates and cost_breakeven. Look at `breakeven_rps` (the mean rate from which EKS "
    "costs no more than Lambda, steady traffic) with its interval, the `breakeven` table per "
    "shape, `cheapest_lambda_memory_mb_meeting_slo`, `pod_capacity_source` (the peak-rate "
    "search or 1000 / mean service time) and `notes` (the assumptions).",
)
def cost_estimates(
    context: dg.AssetExecutionContext,
    config: CostEstimatesConfig,
    bench: BenchmarkConfig,
    duckdb: MetricStoreResource,
    pricing: PricingResource,
) -> dg.MaterializeResult:
    plan = bench.plan()
    settings = EstimateSettings(
        scenario=config.scenario,
        profile=plan.profile,
        slo_ms=plan.slo_for(config.scenario),
        traffic=tuple(
            TrafficProfile(shape, rate)  # type: ignore[arg-type]
            for shape in config.shapes
            for rate in config.rates_rps
        ),
        node_types=tuple(config.node_types) or None,
        breakeven_node_type=config.breakeven_node_type,
        utilisation=config.utilisation,
        gateway=config.gateway,  # type: ignore[arg-type]
        provisioned_concurrency=config.provisioned_concurrency,
    )
    store = duckdb.get_store()
    try:
        estimates = estimate_costs(store, load(pricing), settings)
    except ValueError as exc:  # NoMeasurements among them: no complete runs to price
        raise dg.Failure(str(exc)) from exc
    stamp = {"estimate_id": context.run.run_id, "computed_at": utcnow()}
    write_many(
        store,
        [
            (COST_ESTIMATES, [{**row, **stamp} for row in estimates.estimates]),
            (COST_BREAKEVEN, [{**row, **stamp} for row in estimates.breakeven]),
        ],
        context.run.run_id,
    )
    steady = estimates.studies.get("steady")
    context.log.info(
        f"{len(estimates.estimates)} estimates; {estimates.chosen_reason}; "
        + (steady.breakeven.reason if steady else "; ".join(estimates.notes))
    )
    chosen = [row for row in estimates.estimates if row["chosen"]]
    return dg.MaterializeResult(
        metadata={
            **_breakeven_rate(steady),
            "breakeven_interval_rps": _interval(steady),
            "breakeven": table(estimates.breakeven, BREAKEVEN_COLUMNS),
            "cheapest_lambda_memory_mb_meeting_slo": estimates.chosen_memory_mb,
            "lambda_choice": estimates.chosen_reason,
            "pod_capacity_source": estimates.pod_capacity_source or "no Kubernetes runs",
            "lambda_provisioned_concurrency": config.provisioned_concurrency,
            "estimates": table(chosen, ESTIMATE_COLUMNS),
            "rows": len(estimates.estimates),
            "notes": dg.MetadataValue.md("\n".join(f"- {n}" for n in estimates.notes) or "none"),
            "estimate_id": context.run.run_id,
        }
    )


class MemorySweepConfig(dg.Config):
    """The sweep's knobs; empty or null fields take the benchmark profile's defaults."""

    target: str = Field("local-lambda", description="a Lambda-style target")
    memory_sizes_mb: list[int] = Field(
        [],
        description=f"empty: quick {QUICK_SIZES_MB[0]}, "
        f"full {DEFAULT_SIZES_MB[0]} … {DEFAULT_SIZES_MB[-1]}",
    )
    warm_invocations: int | None = Field(None, description="per size; null: the profile's")
    cold_invocations: int | None = Field(None, description="per size; null: the profile's")
    balance_weight: float = Field(0.5, ge=0, le=1, description="w of the balanced choice")


@dg.asset(
    deps=[price_catalog, model_artifact],
    group_name="economics",
    kinds={"duckdb", "python"},
    code_version=SWEEP_VERSION,
    pool="nlp_bench_platform",
    description="The function at several memory sizes (quick: 1,769 MB; full: 512 to 10,240 MB), "
    "warm and cold invocations apart: REPORT durations and the client's latency through the "
    "gateway (p50/p95/p99), cold-start time, cost per invocation, and the best size by cost, "
    "speed and balance. Sizes this host cannot hold are 'not run (host)'. Table memory_sweep. "
    "Look at `best` (the size each strategy picks) and the `sizes` table (status and reason "
    "per size).",
)
def memory_sweep(
    context: dg.AssetExecutionContext,
    config: MemorySweepConfig,
    bench: BenchmarkConfig,
    platforms: PlatformsResource,
    aws: AwsConfig,
    duckdb: MetricStoreResource,
    pricing: PricingResource,
) -> dg.MaterializeResult:
    plan = bench.plan()
    target = enabled_target(plan, platforms, aws, config.target)
    try:
        sweep_plan = SweepPlan.for_profile(
            plan.profile,
            memory_sizes_mb=tuple(config.memory_sizes_mb),
            warm_invocations=config.warm_invocations,
            cold_invocations=config.cold_invocations,
            balance_weight=config.balance_weight,
        )
        result = run_sweep(
            sweep_plan,
            target,
            plan.deployment_spec(target.name),
            capacity_for(target),
            load(pricing),
            sweep_id=context.run.run_id,
            profile=plan.profile,
            progress=context.log.info,
        )
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    rows = result.rows()
    write(duckdb.get_store(), MEMORY_SWEEP, result.sweep_id, rows)
    best = _best_rows(rows)
    return dg.MaterializeResult(
        metadata={
            "best": table(best, BEST_COLUMNS),
            **{f"best_by_{r['strategy']}_mb": r["memory_mb"] for r in best},
            "balance_weight": config.balance_weight,
            "sizes": table(rows, SWEEP_COLUMNS),
            "sizes_run": sum(r["status"] == "run" for r in rows),
            "wall_s": dg.MetadataValue.float(
                (result.finished_at - result.started_at).total_seconds()
            ),
            "sweep_id": result.sweep_id,
        }
    )


class ScaleSimulationConfig(dg.Config):
    """The grid's axes; empty or null fields take the benchmark profile's defaults."""

    patterns: list[str] = Field(["steady", "diurnal", "spiky", "bursty"])
    rates_rps: list[float] = Field([], description="mean rates; empty: quick 1-100, full 1-1000")
    hours: float | None = Field(None, description="each period; null: quick 1, full 24")
    seed: int = 0
    memory_mb: int | None = Field(None, description="Lambda's; null: the bench plan's")
    node_type: str = "c6i.xlarge"


@dg.asset(
    deps=[price_catalog, run_summary],
    group_name="economics",
    kinds={"duckdb", "numpy"},
    code_version=SIMULATION_VERSION,
    description="The scale simulator calibrated from DuckDB: Lambda and EKS with AWS's rules "
    "over traffic patterns and mean rates (percentiles, cold starts, throttles, SLO, cost), and "
    "its validation against every local run of the latest series. Tables simulation_results "
    "and simulation_validation. Look at `validation_passed` and the `validation` table (each "
    "measured figure against the simulated one, with its bound) before trusting the `grid`.",
)
def scale_simulation(
    context: dg.AssetExecutionContext,
    config: ScaleSimulationConfig,
    bench: BenchmarkConfig,
    duckdb: MetricStoreResource,
    pricing: PricingResource,
) -> dg.MaterializeResult:
    plan = bench.plan()
    settings = grid_for_profile(
        plan.profile,
        patterns=tuple(config.patterns),
        rates_rps=tuple(config.rates_rps),
        hours=config.hours,
        seed=config.seed,
        memory_mb=config.memory_mb or plan.lambda_memory_mb,
        node_type=config.node_type,
        slo_ms=plan.slo_for("warm_steady"),
        pod_cpu=plan.pod_cpu,
    )
    store = duckdb.get_store()
    try:
        outcome = simulate_grid(store, load(pricing), settings)
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    stamp = {"simulation_id": context.run.run_id}
    now = utcnow()
    write_many(
        store,
        [
            (SIMULATION_RESULTS, [{**r, **stamp, "simulated_at": now} for r in outcome.results]),
            (
                SIMULATION_VALIDATION,
                [{**r, **stamp, "validated_at": now} for r in outcome.validation],
            ),
        ],
        context.run.run_id,
    )
    passed = sum(r["passed"] for r in outcome.validation)
    context.log.info(
        f"{outcome.requests:,} requests simulated in {outcome.wall_s:.1f} s; validation "
        f"{passed}/{len(outcome.validation)} figures within bounds over "
        f"{len(outcome.validated_runs)} runs"
        + (
            f"; {len(outcome.not_replayed)} runs not replayed (too few warm ok requests to "
            "measure their service time)"
            if outcome.not_replayed
            else ""
        )
    )
    return dg.MaterializeResult(
        metadata={
            "validation": table(outcome.validation, VALIDATION_COLUMNS),
            "validation_passed": f"{passed} of {len(outcome.validation)}",
            "validated_runs": len(outcome.validated_runs),
            "not_replayed": dg.MetadataValue.json(outcome.not_replayed),
            "grid": table(outcome.results, GRID_COLUMNS),
            "simulated_requests": outcome.requests,
            "simulation_wall_s": dg.MetadataValue.float(outcome.wall_s),
            "requests_per_wall_s": dg.MetadataValue.float(
                outcome.requests / outcome.wall_s if outcome.wall_s else 0.0
            ),
            "simulation_id": context.run.run_id,
        }
    )


def _breakeven_rate(study: BreakEvenStudy | None) -> dict[str, Any]:
    """The steady break-even as a number where there is one (a plot of it skips the others),
    and in words always."""
    if study is None:
        return {"breakeven": "no break-even (see notes)"}
    rate = study.breakeven.rate_rps
    found = {} if rate is None else {"breakeven_rps": dg.MetadataValue.float(rate)}
    return {**found, "breakeven": study.breakeven.reason}


def _interval(study: BreakEvenStudy | None) -> str:
    if study is None:
        return "no break-even (see notes)"
    low, high = study.interval_rps
    return " – ".join("none in range" if r is None else f"{r:,.3g} req/s" for r in (low, high))


def _best_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sweep's three choices, one row each (none when no size ran)."""
    flags = {"cost": "best_by_cost", "speed": "best_by_speed", "balanced": "best_balanced"}
    return [
        {**row, "strategy": strategy}
        for strategy, flag in flags.items()
        for row in rows
        if row[flag]
    ]
