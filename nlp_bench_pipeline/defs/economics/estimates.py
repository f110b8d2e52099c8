"""Cost estimates from the latest complete runs: every measured configuration at every traffic
profile, and the break-even at equal SLO per traffic shape. Plain Python over ``costs``.

- Lambda: each measured memory size, on x86 and on Arm (Arm reuses the x86-measured durations
  until an Arm run exists, and its rows say so), from the REPORT records of the latest complete
  runs of the scenario (``costs.measured``). A size meets the SLO when every one of its runs did
  (``run_summary.slo_met``: the corrected p99 over every request, failures ranked last, within
  the run's own bound; docs/adr/0037); the cheapest x86 size that meets it is the one the
  break-even uses (``chosen``). With ``provisioned_concurrency`` N, every size is priced with N
  environments kept warm all month, the traffic above N at the shape's peak on demand
  (``costs.breakeven.lambda_month``). Every Lambda row carries the lines compute, init,
  requests, provisioned, provisioned_duration and gateway, 0 where nothing was billed on one.
- EKS: every node type of the catalog's region, pods sized from the per-pod capacity at the
  SLO (``costs.pod_capacity``: the target's peak-rate search where one fits — measured, warmed,
  the priced pod CPU, a bound no looser than the SLO — else 1000 / mean service time), the
  cluster held at the peak of the traffic shape all month (``costs.breakeven.eks_month``).
  Every EKS row's notes, and the estimates' notes, say which rule gave the capacity. Graviton
  node types reuse the capacity measured on this host's CPU, and say so.
- The break-even: ``costs.breakeven.breakeven_study`` per traffic shape, between the chosen
  Lambda size and pods on the break-even node type.

Rows are plain dicts in the columns of ``cost_estimates`` and ``cost_breakeven``
(``store.economics``), without the computation's id and time, which the asset adds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp_bench_pipeline.costs.breakeven import (
    PEAK_TO_MEAN,
    BreakEvenStudy,
    EksProfile,
    LambdaProfile,
    ShapeName,
    Workload,
    breakeven_study,
    cheapest_profile,
    eks_month,
    lambda_month,
    provisioned_note,
)
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.measured import (
    MeasuredLambda,
    MeasuredPods,
    lambda_measurements,
    latest_profile,
    pod_measurements,
)
from nlp_bench_pipeline.costs.model import CostBreakdown, per_million_inferences
from nlp_bench_pipeline.costs.pod_capacity import PodCapacity, pod_capacity
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION, Architecture, GatewayKind
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.economics import slo_by_memory_size, slo_of_runs

LAMBDA_TARGETS = ("aws-lambda", "local-lambda")
KUBERNETES_TARGETS = ("aws-eks", "local-k8s")
DEFAULT_RATES_RPS = (1.0, 10.0, 100.0, 1000.0)
MEASURED_ARCHITECTURE: Architecture = "x86"
DEFAULT_POD_CPU_CORES = 1.0  # pods whose runs recorded no CPU request
# The lines every Lambda row carries, 0 where nothing was billed on them (issue 12's breakdown:
# compute, requests, init, gateway, provisioned), in the cost model's order.
LAMBDA_LINES = ("compute", "init", "requests", "provisioned", "provisioned_duration", "gateway")


class NoMeasurements(ValueError):
    """No complete runs of the scenario on any Lambda or Kubernetes target."""


@dataclass(frozen=True)
class TrafficProfile:
    """A traffic a user plans for: a shape (steady, diurnal, spiky) at a mean request rate."""

    shape: ShapeName
    mean_rps: float

    @property
    def name(self) -> str:
        return f"{self.shape}-{self.mean_rps:g}rps"

    @property
    def peak_to_mean(self) -> float:
        return PEAK_TO_MEAN[self.shape]


def default_traffic() -> list[TrafficProfile]:
    """Every shape at 1, 10, 100 and 1,000 req/s (mean)."""
    return [TrafficProfile(shape, rate) for shape in PEAK_TO_MEAN for rate in DEFAULT_RATES_RPS]  # type: ignore[arg-type]


@dataclass(frozen=True)
class EstimateSettings:
    """What to estimate: the runs (scenario, profile), the SLO, traffics, platforms' shapes."""

    scenario: str = "warm_steady"
    profile: str | None = None  # the benchmark's profile; without runs of it, the latest
    slo_ms: float = 2000.0  # judges runs that carry no verdict of their own
    traffic: tuple[TrafficProfile, ...] = field(default_factory=lambda: tuple(default_traffic()))
    node_types: tuple[str, ...] | None = None  # None: every node type of the region
    breakeven_node_type: str = "c7i.xlarge"
    utilisation: float = 0.6
    gateway: GatewayKind = "http"
    architectures: tuple[Architecture, ...] = ("x86", "arm")
    pod_memory_mib: float = 2048.0
    region: str = DEFAULT_REGION
    provisioned_concurrency: int = 0  # Lambda environments kept warm all month


@dataclass(frozen=True)
class CostEstimates:
    """The rows of both tables, and what the metadata shows."""

    estimates: list[dict[str, Any]]
    breakeven: list[dict[str, Any]]
    studies: dict[str, BreakEvenStudy]
    chosen_memory_mb: int | None
    chosen_reason: str
    notes: list[str]
    pod_capacity_source: str | None  # which rule gave the pods' capacity; None without pods


@dataclass(frozen=True)
class _Lambda:
    measured: MeasuredLambda
    slo: dict[str, Any]

    def meets_slo(self, slo_ms: float) -> bool:
        verdict = self.slo.get("slo_met")
        return self.measured.meets_slo(slo_ms) if verdict is None else bool(verdict)


def estimate_costs(
    store: MetricStore, catalog: PriceCatalog, settings: EstimateSettings
) -> CostEstimates:
    """Every configuration at every traffic profile, and the break-even per shape."""
    sizes: list[MeasuredLambda] = (
        _first_measured(store, LAMBDA_TARGETS, settings, lambda_measurements) or []
    )
    pods: MeasuredPods | None = _first_measured(
        store, KUBERNETES_TARGETS, settings, pod_measurements
    )
    if not sizes and pods is None:
        raise NoMeasurements(
            f"no complete {settings.scenario} runs of a Lambda or Kubernetes target: run the "
            "benchmark first"
        )
    lambdas = [
        _Lambda(m, _slo_by_size(store, m, settings.scenario).get(m.memory_mb, {})) for m in sizes
    ]
    workload = Workload(region=settings.region)
    digest = catalog.digest()
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    passing = [lam for lam in lambdas if lam.meets_slo(settings.slo_ms)]
    chosen = (
        cheapest_profile([_lambda_profile(lam, "x86", settings) for lam in passing], catalog)
        if passing
        else None
    )
    for lam in lambdas:
        for arch in settings.architectures:
            profile = _lambda_profile(lam, arch, settings)
            rows += _lambda_rows(lam, profile, chosen, settings, workload, catalog, digest)
    capacity: PodCapacity | None = None
    if pods is not None:
        pod_slo = slo_of_runs(store, pods.target, settings.scenario, pods.profile)
        # The bound the EKS rows state: the pods' runs' own, else the settings'.
        slo_ms = pod_slo.get("slo_p99_ms") or settings.slo_ms
        capacity = pod_capacity(store, pods, slo_ms=slo_ms, pod_cpu=_pod_cpu_cores(pods))
        notes += capacity.notes
        for node_type in settings.node_types or tuple(catalog.instance_types(settings.region)):
            rows += _eks_rows(
                pods, capacity, pod_slo, node_type, settings, workload, catalog, digest
            )
    chosen_reason = _chosen_reason(lambdas, chosen, settings)
    studies: dict[str, BreakEvenStudy] = {}
    if chosen is not None and pods is not None and capacity is not None:
        eks = _eks_profile(pods, capacity, settings.breakeven_node_type, settings)
        alternatives = [
            _lambda_profile(lam, "x86", settings)
            for lam in lambdas
            if lam.measured.memory_mb != chosen.memory_mb
        ]
        for shape in PEAK_TO_MEAN:
            studies[shape] = breakeven_study(
                chosen,
                eks,
                catalog,
                workload=workload,
                shape=shape,
                alternatives=alternatives,  # type: ignore[arg-type]
            )
    else:
        missing = "no Kubernetes runs" if pods is None else chosen_reason
        notes.append(f"no break-even: {missing}")
    if any(m.target.startswith("local") for m in [*sizes, *([pods] if pods else [])]):
        notes.append(
            "local targets emulate the platforms on this host (CPU share per memory size); AWS's "
            "CPUs differ, so read the figures as this host's, not AWS's"
        )
    run_ids = sorted({*(r for m in sizes for r in m.run_ids), *(pods.run_ids if pods else ())})
    breakeven = [_breakeven_row(study, run_ids, notes, digest) for study in studies.values()]
    return CostEstimates(
        estimates=rows,
        breakeven=breakeven,
        studies=studies,
        chosen_memory_mb=chosen.memory_mb if chosen else None,
        chosen_reason=chosen_reason,
        notes=notes,
        pod_capacity_source=capacity.source if capacity else None,
    )


def _first_measured(
    store: MetricStore,
    targets: Sequence[str],
    settings: EstimateSettings,
    measure: Callable[[MetricStore, str, str, str], Any],
) -> Any:
    """The measurements of the first target with complete runs: AWS before the local emulator;
    the settings' profile when it has runs, else the target's latest (full before quick)."""
    for target in targets:
        profiles = dict.fromkeys(
            [settings.profile, latest_profile(store, target, settings.scenario)]
        )
        for profile in profiles:
            found = measure(store, target, settings.scenario, profile) if profile else None
            if found:
                return found
    return None


def _slo_by_size(store: MetricStore, m: MeasuredLambda, scenario: str) -> dict[int, dict]:
    return slo_by_memory_size(store, m.target, scenario, m.profile)


def _lambda_profile(lam: _Lambda, arch: Architecture, settings: EstimateSettings) -> LambdaProfile:
    spread = lam.measured.warm_billed_ms
    return LambdaProfile(
        memory_mb=lam.measured.memory_mb,
        billed_ms=spread.mean,
        billed_ms_low=spread.low,
        billed_ms_high=spread.high,
        init_ms=lam.measured.init_ms or 0.0,
        architecture=arch,
        measured_architecture=MEASURED_ARCHITECTURE,
        gateway=settings.gateway,
        provisioned_concurrency=settings.provisioned_concurrency,
        p99_ms=lam.measured.p99_corrected_ms,
    )


def _pod_cpu_cores(pods: MeasuredPods) -> float:
    return pods.cpu_request_cores or DEFAULT_POD_CPU_CORES


def _eks_profile(
    pods: MeasuredPods, capacity: PodCapacity, node_type: str, settings: EstimateSettings
) -> EksProfile:
    return EksProfile(
        node_type=node_type,
        pod_capacity_rps=capacity.rps.mean,
        pod_capacity_rps_low=capacity.rps.low,
        pod_capacity_rps_high=capacity.rps.high,
        pod_cpu_m=_pod_cpu_cores(pods) * 1000,
        pod_memory_mib=settings.pod_memory_mib,
        utilisation=settings.utilisation,
    )


def _lambda_rows(
    lam: _Lambda,
    profile: LambdaProfile,
    chosen: LambdaProfile | None,
    settings: EstimateSettings,
    workload: Workload,
    catalog: PriceCatalog,
    digest: str,
) -> list[dict[str, Any]]:
    m = lam.measured
    extra = ["Lambda pays for the mean rate; scale-out cold starts of a varying traffic are the "
             "simulator's (scale_simulation)"]  # fmt: skip
    if profile.architecture != MEASURED_ARCHITECTURE:
        extra.append(f"{profile.architecture} durations reused from x86 runs (no Arm run measured)")
    configuration = f"{m.memory_mb} MB {profile.architecture}"
    if profile.provisioned_concurrency:
        configuration += f", {profile.provisioned_concurrency} provisioned"
    common = {
        "platform": "lambda",
        "configuration": configuration,
        "architecture": profile.architecture,
        "memory_mb": m.memory_mb,
        "chosen": chosen is not None and profile == chosen,
        "meets_slo": lam.meets_slo(settings.slo_ms),
        "p99_ms": m.p99_corrected_ms,
        "slo_p99_ms": lam.slo.get("slo_p99_ms") or settings.slo_ms,
        "host_limited_share": lam.slo.get("host_limited_share"),
        "billed_ms": profile.billed_ms,
        "init_ms": profile.init_ms,
        "measured_on": m.target,
        "profile": m.profile,
        "run_ids": list(m.run_ids),
    }
    rows = []
    for traffic in settings.traffic:
        month = lambda_month(profile, traffic.mean_rps, workload, catalog, traffic.peak_to_mean)
        notes = [*extra]
        if profile.provisioned_concurrency:
            notes.append(provisioned_note(profile.provisioned_concurrency, traffic.peak_to_mean))
        breakdown = CostBreakdown(_every_line(month.lines, LAMBDA_LINES), month.notes)
        rows.append(_row(common, traffic, breakdown, workload, catalog, digest, notes))
    return rows


def _every_line(lines: dict[str, float], names: Sequence[str]) -> dict[str, float]:
    """``lines`` with each of ``names`` present, 0 where the model billed nothing on it.

    ``names`` lead in the model's own order and the other lines follow in theirs, so the lines
    that carry money keep their order and the total (their sum in order) stays the model's to
    the last bit: adding 0.0 changes no float.
    """
    return {**{name: lines.get(name, 0.0) for name in names}, **lines}


def _eks_rows(
    pods: MeasuredPods,
    capacity: PodCapacity,
    slo: dict[str, Any],
    node_type: str,
    settings: EstimateSettings,
    workload: Workload,
    catalog: PriceCatalog,
    digest: str,
) -> list[dict[str, Any]]:
    profile = _eks_profile(pods, capacity, node_type, settings)
    node = catalog.instance(node_type, settings.region)
    extra = list(capacity.notes)
    if node.arch != MEASURED_ARCHITECTURE:
        extra.append(f"{node.arch} nodes reuse the pod capacity measured on x86 (no Arm run)")
    verdict = slo.get("slo_met")
    common = {
        "platform": "eks",
        "configuration": node_type,
        "architecture": node.arch,
        "node_type": node_type,
        "chosen": node_type == settings.breakeven_node_type,
        "meets_slo": pods.meets_slo(settings.slo_ms) if verdict is None else bool(verdict),
        "p99_ms": pods.p99_corrected_ms,
        "slo_p99_ms": slo.get("slo_p99_ms") or settings.slo_ms,
        "host_limited_share": slo.get("host_limited_share"),
        "pod_capacity_rps": profile.pod_capacity_rps,
        "utilisation": profile.utilisation,
        "measured_on": pods.target,
        "profile": pods.profile,
        "run_ids": list(pods.run_ids),
    }
    rows = []
    for traffic in settings.traffic:
        breakdown, sizing = eks_month(
            profile, traffic.mean_rps, traffic.peak_to_mean, workload, catalog
        )
        sized = {
            **common,
            "pods": sizing.pods,
            "nodes": sizing.nodes,
        }
        notes = [
            *extra,
            f"sized for the peak ({traffic.peak_to_mean:g}× the mean) all month: {sizing.pods} "
            f"pods on {sizing.nodes} nodes at {profile.utilisation:.0%} of "
            f"{profile.pod_capacity_rps:.3g} req/s per pod",
        ]
        rows.append(_row(sized, traffic, breakdown, workload, catalog, digest, notes))
    return rows


def _row(
    common: dict[str, Any],
    traffic: TrafficProfile,
    breakdown: CostBreakdown,
    workload: Workload,
    catalog: PriceCatalog,
    digest: str,
    notes: Sequence[str],
) -> dict[str, Any]:
    requests = traffic.mean_rps * catalog.fact("month.hours") * 3600
    return {
        **common,
        "traffic_profile": traffic.name,
        "shape": traffic.shape,
        "mean_rps": traffic.mean_rps,
        "peak_to_mean": traffic.peak_to_mean,
        "requests_per_month": requests,
        "texts_per_request": workload.texts_per_request,
        "usd_per_month": breakdown.total_usd,
        "usd_per_million_inferences": per_million_inferences(
            breakdown.total_usd, requests, workload.texts_per_request
        ),
        "breakdown": dict(breakdown.lines),
        "catalog_digest": digest,
        "region": workload.region,
        "notes": [*breakdown.notes, *notes],
    }


def _chosen_reason(
    lambdas: Sequence[_Lambda], chosen: LambdaProfile | None, settings: EstimateSettings
) -> str:
    if not lambdas:
        return "no Lambda runs"
    if chosen is None:
        sizes = ", ".join(f"{lam.measured.memory_mb} MB" for lam in lambdas)
        return f"no Lambda memory size met its SLO ({sizes} measured)"
    failing = [
        f"{lam.measured.memory_mb} MB" for lam in lambdas if not lam.meets_slo(settings.slo_ms)
    ]
    reason = f"{chosen.memory_mb} MB: the cheapest measured size whose runs all met their SLO"
    return reason + (f" ({', '.join(failing)} did not)" if failing else "")


def _breakeven_row(
    study: BreakEvenStudy, run_ids: Sequence[str], notes: Sequence[str], digest: str
) -> dict[str, Any]:
    lam, eks = study.lambda_profile, study.eks_profile
    return {
        "shape": study.shape,
        "peak_to_mean": study.peak_to_mean,
        "rate_rps": study.breakeven.rate_rps,
        "first_rate_rps": study.breakeven.first_rate_rps,
        "interval_low_rps": study.interval_rps[0],
        "interval_high_rps": study.interval_rps[1],
        "cheaper_below": study.breakeven.cheaper_below,
        "reason": study.breakeven.reason,
        "lambda_memory_mb": lam.memory_mb,
        "lambda_architecture": lam.architecture,
        "lambda_billed_ms": lam.billed_ms,
        "node_type": eks.node_type,
        "pod_capacity_rps": eks.pod_capacity_rps,
        "utilisation": eks.utilisation,
        "by_utilisation": study.by_utilisation,
        "by_shape": study.by_shape,
        "by_memory_mb": study.by_memory_mb,
        "curve": [point.model_dump() for point in study.curve],
        "run_ids": list(run_ids),
        "catalog_digest": digest,
        "notes": [*study.notes, *notes],
    }
