"""Break-even at equal SLO: the sustained request rate above which EKS costs less than Lambda.

Both platforms serve the same traffic under the same SLO. Lambda is priced from the cheapest
memory size that met the SLO (its mean Billed Duration per request, passed in); EKS from nodes
sized so every pod runs at the utilisation target of the rate it sustains at the SLO. Lambda
pays for each request, so it pays for the mean rate; a cluster without autoscaling must hold the
peak all month, so EKS is sized for ``mean × peak_to_mean`` of the traffic shape (the scale
simulator models autoscaling; this is the static bound). With provisioned concurrency Lambda
pays for its environments all month too, and the shape decides how much traffic spills over to
on-demand environments above them.

The cost curve spans 0.01–10,000 req/s (log-spaced); the break-even rate is the lowest rate at
which EKS's month costs no more than Lambda's, refined between grid points by bisection. Its
interval carries the measurement spread: the low end pairs Lambda's longest plausible duration
with the pods' highest plausible capacity (the case most favourable to EKS), the high end the
opposite. Sensitivities repeat the search over utilisation targets, traffic shapes and memory
sizes. Everything in and out is plain pydantic data; ``model_dump(mode="json")`` serialises it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Literal, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from nlp_bench_pipeline.core.platform_facts import LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.eks_sizing import AlbTraffic, EksSizing, eks_usage, size_eks_cluster
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage, provisioned_invocations
from nlp_bench_pipeline.costs.model import (
    CostBreakdown,
    eks_cost,
    lambda_cost,
    per_million_inferences,
)
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION, Architecture, GatewayKind

ShapeName = Literal["steady", "diurnal", "spiky"]
ModelT = TypeVar("ModelT", bound=BaseModel)
# Peak-to-mean ratio of each traffic shape (assumptions, documented in docs/costs.md): diurnal is
# a daily sine from near zero at night to twice the mean; spiky has short bursts at 5× the mean.
PEAK_TO_MEAN: Mapping[str, float] = {"steady": 1.0, "diurnal": 2.0, "spiky": 5.0}
RATE_RANGE_RPS = (0.01, 10_000.0)
POINTS_PER_DECADE = 25
BISECTION_STEPS = 40
DEFAULT_UTILISATIONS = (0.4, 0.5, 0.6, 0.7, 0.8)


class _Data(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class LambdaProfile(_Data):
    """One memory size's per-request figures, from REPORT records (never client latency)."""

    memory_mb: int = Field(ge=LAMBDA_MIN_MEMORY_MB, le=LAMBDA_MAX_MEMORY_MB)
    billed_ms: float = Field(gt=0, description="mean Billed Duration of a warm invocation")
    billed_ms_low: float | None = Field(None, gt=0, description="low end of its interval")
    billed_ms_high: float | None = Field(None, gt=0, description="high end of its interval")
    init_ms: float = Field(0.0, ge=0, description="mean Init Duration of a cold start")
    environment_lifetime_s: float = Field(
        7200.0,
        gt=0,
        description="how long an environment serves before Lambda replaces it (assumption: AWS "
        "does not publish it); each replacement is a cold start",
    )
    architecture: Architecture = "x86"
    measured_architecture: Architecture = "x86"
    gateway: GatewayKind = "http"
    provisioned_concurrency: int = Field(
        0,
        ge=0,
        description="environments kept warm all period (capacity charge); the traffic above them "
        "at the shape's peak goes on demand",
    )
    p99_ms: float | None = Field(None, description="the measured p99 the SLO was judged on")


class EksProfile(_Data):
    """The cluster's shape: node type, per-pod capacity at the SLO, pod requests, headroom."""

    node_type: str = "c7i.xlarge"
    pod_capacity_rps: float = Field(gt=0, description="req/s one pod sustains at the SLO")
    pod_capacity_rps_low: float | None = Field(None, gt=0)
    pod_capacity_rps_high: float | None = Field(None, gt=0)
    pod_cpu_m: float = Field(1000, gt=0)
    pod_memory_mib: float = Field(2048, gt=0)
    utilisation: float = Field(0.6, gt=0, le=1, description="share of pod capacity used at peak")
    min_pods: int = Field(2, ge=1)
    min_nodes: int = Field(2, ge=1)
    load_balancer: bool = True
    nat_gateways: int = Field(1, ge=0, description="private-subnet nodes reach out through NAT")
    extended_support: bool = False


class Workload(_Data):
    """What both platforms serve and how it is billed alike on both."""

    texts_per_request: float = Field(1.0, gt=0)
    request_bytes: float = Field(600, ge=0)
    response_bytes: float = Field(300, ge=0)
    requests_per_connection: float = Field(1.0, gt=0)
    connection_s: float = Field(1.0, ge=0)
    log_lines: bool = Field(True, description="Lambda's START/END/REPORT lines in CloudWatch")
    image_gb: float = Field(0.0, ge=0, description="image in ECR, stored for either platform")
    free_tier: bool = False
    region: str = DEFAULT_REGION
    hours: float | None = Field(None, gt=0, description="period; default the catalog's month")

    def alb_traffic(self) -> AlbTraffic:
        return AlbTraffic(
            request_bytes=self.request_bytes,
            response_bytes=self.response_bytes,
            requests_per_connection=self.requests_per_connection,
            connection_s=self.connection_s,
        )


class CurvePoint(_Data):
    rate_rps: float
    lambda_usd_month: float
    eks_usd_month: float
    lambda_usd_per_million: float
    eks_usd_per_million: float
    eks_pods: int
    eks_nodes: int
    lambda_peak_concurrency: float


class BreakEven(_Data):
    """The rate from which EKS stays cheaper, or why there is none in the range.

    Nodes come in whole units, so EKS's cost climbs in steps and can cross Lambda's more than
    once: ``first_rate_rps`` is where EKS is first no dearer (often just where Lambda's bill
    reaches the smallest cluster), ``rate_rps`` where it stays so at every higher rate of the
    curve — the figure to plan on.
    """

    rate_rps: float | None
    first_rate_rps: float | None
    cheaper_below: Literal["lambda", "eks"]
    reason: str


class BreakEvenStudy(_Data):
    shape: str
    peak_to_mean: float
    breakeven: BreakEven
    interval_rps: tuple[float | None, float | None]
    by_utilisation: dict[str, float | None]
    by_shape: dict[str, float | None]
    by_memory_mb: dict[str, float | None]
    curve: list[CurvePoint]
    lambda_profile: LambdaProfile
    eks_profile: EksProfile
    workload: Workload
    notes: list[str]
    catalog_digest: str


def _hours(workload: Workload, catalog: PriceCatalog) -> float:
    return workload.hours or catalog.fact("month.hours")


def lambda_month(
    profile: LambdaProfile,
    mean_rps: float,
    workload: Workload,
    catalog: PriceCatalog,
    peak_to_mean: float = 1.0,
) -> CostBreakdown:
    """Lambda's bill for ``mean_rps`` sustained over the period.

    Lambda pays for the mean; the shape (``peak_to_mean``) matters only with provisioned
    concurrency, whose environments serve the traffic up to their number at the peak, the rest
    on demand (``lambda_usage.provisioned_invocations``). Cold starts: the on-demand
    environments the mean rate keeps busy (rate × duration × the on-demand share) are each
    replaced once per ``environment_lifetime_s``; provisioned environments initialise before
    traffic, their inits not billed as duration; scale-out cold starts of a varying traffic are
    left to the simulator.
    """
    hours = _hours(workload, catalog)
    seconds = hours * 3600
    invocations = mean_rps * seconds
    on_demand = invocations - provisioned_invocations(
        invocations, profile.provisioned_concurrency, hours, profile.billed_ms, peak_to_mean
    )
    concurrency = mean_rps * profile.billed_ms / 1000
    if profile.provisioned_concurrency:
        concurrency *= on_demand / invocations if invocations else 0.0
    usage = lambda_usage(
        invocations=invocations,
        memory_mb=profile.memory_mb,
        duration_ms=profile.billed_ms,
        catalog=catalog,
        cold_starts=min(on_demand, concurrency * seconds / profile.environment_lifetime_s),
        init_ms=profile.init_ms,
        provisioned_concurrency=profile.provisioned_concurrency,
        hours=workload.hours,
        peak_to_mean=peak_to_mean,
        architecture=profile.architecture,
        gateway=profile.gateway,
        free_tier=workload.free_tier,
        log_lines=workload.log_lines,
        response_bytes=workload.response_bytes,
        ecr_gb_months=workload.image_gb * seconds / 3600 / catalog.fact("month.hours"),
        region=workload.region,
    )
    return lambda_cost(usage, catalog)


def eks_month(
    profile: EksProfile,
    mean_rps: float,
    peak_to_mean: float,
    workload: Workload,
    catalog: PriceCatalog,
) -> tuple[CostBreakdown, EksSizing]:
    """EKS's bill for ``mean_rps``, the cluster sized for the peak and kept all period."""
    hours = _hours(workload, catalog)
    sizing = size_eks_cluster(
        mean_rps * peak_to_mean,
        pod_capacity_rps=profile.pod_capacity_rps,
        node_type=profile.node_type,
        pod_cpu_m=profile.pod_cpu_m,
        pod_memory_mib=profile.pod_memory_mib,
        utilisation=profile.utilisation,
        catalog=catalog,
        region=workload.region,
        min_pods=profile.min_pods,
        min_nodes=profile.min_nodes,
    )
    usage = eks_usage(
        node_type=profile.node_type,
        nodes=sizing.nodes,
        hours=hours,
        catalog=catalog,
        load_balancer=profile.load_balancer,
        mean_rps=mean_rps,
        traffic=workload.alb_traffic(),
        nat_gateways=profile.nat_gateways,
        ecr_gb_months=workload.image_gb * hours / catalog.fact("month.hours"),
        extended_support=profile.extended_support,
        region=workload.region,
    )
    return eks_cost(usage, catalog), sizing


def default_rates() -> list[float]:
    """0.01–10,000 req/s, log-spaced, ``POINTS_PER_DECADE`` a decade."""
    low, high = (math.log10(r) for r in RATE_RANGE_RPS)
    return [float(r) for r in np.logspace(low, high, round((high - low) * POINTS_PER_DECADE) + 1)]


def cost_curve(
    lambda_profile: LambdaProfile,
    eks_profile: EksProfile,
    catalog: PriceCatalog,
    *,
    workload: Workload,
    peak_to_mean: float = 1.0,
    rates: Sequence[float] | None = None,
) -> list[CurvePoint]:
    """Both platforms' month and cost per million inferences at each mean rate."""
    points = []
    for rate in rates or default_rates():
        lam = lambda_month(lambda_profile, rate, workload, catalog, peak_to_mean)
        eks, sizing = eks_month(eks_profile, rate, peak_to_mean, workload, catalog)
        requests = rate * _hours(workload, catalog) * 3600
        points.append(
            CurvePoint(
                rate_rps=rate,
                lambda_usd_month=lam.total_usd,
                eks_usd_month=eks.total_usd,
                lambda_usd_per_million=per_million_inferences(
                    lam.total_usd, requests, workload.texts_per_request
                ),
                eks_usd_per_million=per_million_inferences(
                    eks.total_usd, requests, workload.texts_per_request
                ),
                eks_pods=sizing.pods,
                eks_nodes=sizing.nodes,
                lambda_peak_concurrency=rate * peak_to_mean * lambda_profile.billed_ms / 1000,
            )
        )
    return points


def find_breakeven(
    lambda_profile: LambdaProfile,
    eks_profile: EksProfile,
    catalog: PriceCatalog,
    *,
    workload: Workload,
    peak_to_mean: float = 1.0,
    rates: Sequence[float] | None = None,
) -> BreakEven:
    """The lowest mean rate at which EKS's month costs no more than Lambda's."""
    rates = list(rates or default_rates())

    def eks_minus_lambda(rate: float) -> float:
        eks, _ = eks_month(eks_profile, rate, peak_to_mean, workload, catalog)
        lam = lambda_month(lambda_profile, rate, workload, catalog, peak_to_mean)
        return eks.total_usd - lam.total_usd

    gaps = [eks_minus_lambda(rate) for rate in rates]
    span = f"{rates[0]:g}–{rates[-1]:,g} req/s"
    dearer = [i for i, gap in enumerate(gaps) if gap > 0]
    if not dearer:
        return BreakEven(
            rate_rps=None,
            first_rate_rps=None,
            cheaper_below="eks",
            reason=f"EKS is cheaper at {span}",
        )
    if dearer[-1] == len(rates) - 1:
        first = next((i for i, gap in enumerate(gaps) if gap <= 0), None)
        reason = f"Lambda is cheaper at {rates[-1]:,g} req/s, the top of the range"
        if first is not None:
            # Only a fixed Lambda charge (provisioned concurrency) outweighs the cluster at the
            # bottom of the range; higher up, EKS dips below Lambda between node additions.
            why = "under Lambda's fixed charges" if first == 0 else "between node additions"
            reason += f" (EKS was no dearer at {rates[first]:,.3g} req/s, {why})"
        return BreakEven(
            rate_rps=None,
            first_rate_rps=None if first is None else _crossing(eks_minus_lambda, rates, first),
            cheaper_below="lambda",
            reason=reason,
        )
    rate = _crossing(eks_minus_lambda, rates, dearer[-1] + 1)
    first_index = next(i for i, gap in enumerate(gaps) if gap <= 0)
    first = (
        rate if first_index == dearer[-1] + 1 else _crossing(eks_minus_lambda, rates, first_index)
    )
    reason = f"EKS costs no more than Lambda from {rate:,.3g} req/s on"
    if first < rate:
        reason += f"; first at {first:,.3g} req/s, then dearer again as nodes are added"
    return BreakEven(rate_rps=rate, first_rate_rps=first, cheaper_below="lambda", reason=reason)


def _crossing(gap: Callable[[float], float], rates: Sequence[float], index: int) -> float:
    """Bisect in log rate between ``rates[index - 1]`` (EKS dearer) and ``rates[index]``."""
    if index == 0:
        return rates[0]
    low, high = math.log(rates[index - 1]), math.log(rates[index])
    for _ in range(BISECTION_STEPS):
        middle = (low + high) / 2
        low, high = (low, middle) if gap(math.exp(middle)) <= 0 else (middle, high)
    return math.exp(high)


def breakeven_study(
    lambda_profile: LambdaProfile,
    eks_profile: EksProfile,
    catalog: PriceCatalog,
    *,
    workload: Workload | None = None,
    shape: ShapeName = "steady",
    alternatives: Sequence[LambdaProfile] = (),
    utilisations: Sequence[float] = DEFAULT_UTILISATIONS,
    rates: Sequence[float] | None = None,
) -> BreakEvenStudy:
    """The curve, the break-even rate, its interval and its sensitivities, for one traffic shape.

    ``lambda_profile`` is the cheapest memory size that met the SLO; ``alternatives`` are the
    other measured sizes, for the sensitivity to memory size.
    """
    workload = workload or Workload()
    peak_to_mean = PEAK_TO_MEAN[shape]

    def search(lam: LambdaProfile, eks: EksProfile, ratio: float = peak_to_mean) -> BreakEven:
        return find_breakeven(lam, eks, catalog, workload=workload, peak_to_mean=ratio, rates=rates)

    central = search(lambda_profile, eks_profile)
    favouring_eks = search(
        _with(lambda_profile, billed_ms=lambda_profile.billed_ms_high),
        _with(eks_profile, pod_capacity_rps=eks_profile.pod_capacity_rps_high),
    )
    favouring_lambda = search(
        _with(lambda_profile, billed_ms=lambda_profile.billed_ms_low),
        _with(eks_profile, pod_capacity_rps=eks_profile.pod_capacity_rps_low),
    )
    return BreakEvenStudy(
        shape=shape,
        peak_to_mean=peak_to_mean,
        breakeven=central,
        interval_rps=(favouring_eks.rate_rps, favouring_lambda.rate_rps),
        by_utilisation={
            f"{u:g}": search(lambda_profile, _with(eks_profile, utilisation=u)).rate_rps
            for u in utilisations
        },
        by_shape={
            name: search(lambda_profile, eks_profile, ratio).rate_rps
            for name, ratio in PEAK_TO_MEAN.items()
        },
        by_memory_mb={
            str(p.memory_mb): search(p, eks_profile).rate_rps
            for p in sorted({lambda_profile, *alternatives}, key=lambda p: p.memory_mb)
        },
        curve=cost_curve(
            lambda_profile,
            eks_profile,
            catalog,
            workload=workload,
            peak_to_mean=peak_to_mean,
            rates=rates,
        ),
        lambda_profile=lambda_profile,
        eks_profile=eks_profile,
        workload=workload,
        notes=_notes(lambda_profile, eks_profile, workload, peak_to_mean, catalog),
        catalog_digest=catalog.digest(),
    )


def cheapest_profile(
    profiles: Sequence[LambdaProfile], catalog: PriceCatalog, workload: Workload | None = None
) -> LambdaProfile:
    """The memory size whose requests cost least (at 1 req/s; Lambda's cost is near linear)."""
    if not profiles:
        raise ValueError("no Lambda memory size to choose from")
    workload = workload or Workload()
    return min(profiles, key=lambda p: lambda_month(p, 1.0, workload, catalog).total_usd)


def provisioned_note(environments: int, peak_to_mean: float) -> str:
    """What a Lambda month with provisioned concurrency assumes, in words."""
    return (
        f"Lambda with {environments} provisioned environments: their capacity billed all period; "
        f"they serve the share of the traffic's peak ({peak_to_mean:g}× the mean) they cover, at "
        "the provisioned duration rate, the rest on demand — that share taken for the whole "
        "period, the most on-demand share a traffic with this peak can have; their inits run "
        "before traffic and are not billed as duration"
    )


def _with(model: ModelT, **changes: float | None) -> ModelT:
    """A copy with the given fields replaced; a None change keeps the field (no interval)."""
    updates = {name: value for name, value in changes.items() if value is not None}
    return model.model_copy(update=updates) if updates else model


def _notes(
    lam: LambdaProfile,
    eks: EksProfile,
    workload: Workload,
    peak_to_mean: float,
    catalog: PriceCatalog,
) -> list[str]:
    notes = [
        f"EKS sized for the peak ({peak_to_mean:g}× the mean) all month, pods at "
        f"{eks.utilisation:.0%} of {eks.pod_capacity_rps:.3g} req/s each; Lambda pays for the mean",
        f"Lambda cold starts: each busy environment replaced every {lam.environment_lifetime_s:g} "
        "s (assumption; AWS does not publish lifetimes); scale-out cold starts not counted",
        "per million inferences: one inference per text, "
        f"{workload.texts_per_request:g} text(s) per request",
    ]
    if lam.architecture != lam.measured_architecture:
        notes.append(
            f"{lam.architecture} durations reused from {lam.measured_architecture} runs "
            f"(no {lam.architecture} run measured)"
        )
    if lam.provisioned_concurrency:
        notes.append(provisioned_note(lam.provisioned_concurrency, peak_to_mean))
    if not workload.free_tier:
        notes.append("free tier not applied (an account that spends it elsewhere)")
    quota = catalog.fact("lambda.default_concurrency")
    above = quota / (peak_to_mean * lam.billed_ms / 1000)
    if above <= RATE_RANGE_RPS[1]:
        notes.append(
            f"Lambda above {above:,.0f} req/s (mean) needs more than the default {quota:,.0f} "
            "concurrent environments: a quota increase"
        )
    return notes
