"""[peak] The peak rate under an SLO: each enabled target's highest Poisson rate with its p99
over every request within the bound — a few lines over ``nlp_bench_pipeline.peak``.

Every probe is an ordinary run of scenario ``peak`` (through the cell machinery and Dagster
Pipes, like ``load_test_run``); the searches and their probes go into ``peak_searches`` and
``peak_probes`` under this Dagster run's id (docs/peak.md).
"""

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.defs.bench.assets import pipes_launcher
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.economics.catalog import load
from nlp_bench_pipeline.defs.economics.metadata import table
from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.lib.asset_support import enabled_target, latest_materialization
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.peak import (
    DEFAULT_SLO_MS,
    MLPERF_BERT_SLO_MS,
    SOURCES,
    PeakPlan,
    PeakRequest,
    run_peak,
)

PEAK_VERSION = source_version(*SOURCES, "nlp_bench_pipeline/defs/peak")
SEARCH_COLUMNS = (
    ("target", "string"), ("method", "string"), ("size", "string"), ("policy", "string"),
    ("slo_p99_ms", "float"), ("status", "string"), ("peak_rps", "float"),
    ("upper_rps", "float"), ("per_vcpu_rps", "float"), ("vcpus", "float"),
    ("host_limited", "bool"), ("probes", "int"), ("reason", "string"),
)  # fmt: skip
PROBE_COLUMNS = (
    ("search_id", "string"), ("probe", "int"), ("step", "string"), ("rate_rps", "float"),
    ("verdict", "string"), ("reason", "string"), ("p99_corrected_ms", "float"),
    ("failed_share", "float"), ("run_id", "string"),
)  # fmt: skip


class PeakConfig(dg.Config):
    """The search's knobs; empty lists take the benchmark profile's defaults (docs/peak.md)."""

    targets: list[str] = Field([], description="targets to search; empty: the bench plan's")
    slo_ms: float = Field(DEFAULT_SLO_MS, gt=0, description="the p99 bound searched")
    also_slo_ms: list[float] = Field(
        [MLPERF_BERT_SLO_MS], description="other bounds judged on the same probes"
    )
    policies: list[str] = Field([], description="warmed, cold; empty: the profile's")
    memory_sizes_mb: list[int] = Field([], description="Lambda sizes; empty: the profile's")
    pod_cpus: list[float] = Field([], description="pod CPUs; empty: the profile's")
    max_probes: int | None = Field(None, ge=1, le=100, description="null: the profile's")
    projection: bool = Field(True, description="project each search with the simulator")


@dg.asset(
    deps=[model_artifact, service_image],
    group_name="peak",
    kinds={"locust", "duckdb"},
    code_version=PEAK_VERSION,
    pool="nlp_bench_platform",
    description="The highest Poisson rate each target holds with its p99 over every request "
    "(failures count as misses) within the bound, as MLPerf LoadGen's FindPeakPerformance "
    "finds it: per size and warming policy, each probe an ordinary run of scenario 'peak' "
    "judged VALID or INVALID with its reasons; per-vCPU capacity and the host-limited label on "
    "local targets, the simulator's projection under AWS's rules, MLPerf's 130 ms bound judged "
    "on the same probes. Tables peak_searches and peak_probes. Look at "
    "`<target>_<policy>_peak_rps`, the `searches` table (status, peak, per vCPU, host-limited, "
    "reason per size, policy and bound) and the `probes` table (each rate's verdict and why).",
)
def peak_rate(
    context: dg.AssetExecutionContext,
    config: PeakConfig,
    bench: BenchmarkConfig,
    platforms: PlatformsResource,
    aws: AwsConfig,
    duckdb: MetricStoreResource,
    pricing: PricingResource,
    pipes_subprocess_client: dg.PipesSubprocessClient,
) -> dg.MaterializeResult:
    plan = bench.plan()
    try:
        peak = PeakPlan.for_profile(
            plan.profile,
            slo_ms=config.slo_ms,
            policies=tuple(config.policies),
            memory_sizes_mb=tuple(config.memory_sizes_mb),
            pod_cpus=tuple(config.pod_cpus),
            max_probes=config.max_probes,
        ).model_copy(update={"also_slo_ms": tuple(config.also_slo_ms)})
    except ValueError as exc:
        raise dg.Failure(str(exc)) from exc
    targets = [
        enabled_target(plan, platforms, aws, name) for name in config.targets or plan.targets
    ]
    model = latest_materialization(context.instance, model_artifact.key)
    request = PeakRequest(
        bench=plan,
        plan=peak,
        invocation_id=context.run.run_id,
        provenance=Provenance(
            model_id=model.metadata_text("model_id"),
            model_digest=model.data_version,
            image_digest=latest_materialization(context.instance, service_image.key).data_version,
            code_version=PEAK_VERSION,
            dagster_run_id=context.run.run_id,
        ),
        work_dir=platforms.work_path,
        catalog=load(pricing) if config.projection else None,
    )
    outcome = run_peak(
        targets,
        duckdb.get_store(),
        request,
        launch=pipes_launcher(context, pipes_subprocess_client),
        progress=context.log.info,
    )
    failed = [s for s in outcome.searches if s["status"] == "failed" and s["method"] == "measured"]
    if failed:
        raise dg.Failure(
            "; ".join(f"{s['target']} {s['size']} {s['policy']}: {s['reason']}" for s in failed),
            metadata={"stored_as": "peak_searches rows with status 'failed'"},
        )
    headline = {
        f"{s['target']}_{s['policy']}_peak_rps": dg.MetadataValue.float(s["peak_rps"])
        for s in outcome.searches
        if s["method"] == "measured" and s["slo_p99_ms"] == peak.slo_ms and s["peak_rps"]
    }
    return dg.MaterializeResult(
        metadata={
            **headline,
            "profile": plan.profile,
            "slo_p99_ms": peak.slo_ms,
            "searches": table(outcome.searches, SEARCH_COLUMNS),
            "probes": table(outcome.probes, PROBE_COLUMNS),
            "run_ids": sorted({p["run_id"] for p in outcome.probes if p["run_id"]}),
            "invocation_id": outcome.invocation_id,
        }
    )
