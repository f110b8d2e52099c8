"""One simulated period of one platform: traffic in; percentiles, counts, usage and cost out.

``simulate_lambda`` and ``simulate_eks`` draw the arrivals (``Traffic``), feed them to the
platform model, and reduce what happened to a ``SimulationResult``. Randomness comes from one
seed, split into independent streams (arrivals, the platform's draws), so a seed reproduces a
result exactly. ``lambda_settings_for`` and ``eks_settings_for`` pick the starting state a user
expects of a period cut out of a running service — as many warm environments, or pods, as the
starting rate keeps busy — and size the node group for the traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from pydantic import BaseModel

from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.eks_sizing import pods_per_node
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION, EksUsage, LambdaUsage
from nlp_bench_pipeline.simulate.billing import PeriodCost, eks_usage, lambda_usage, period_cost
from nlp_bench_pipeline.simulate.calibration import Calibration, Platform
from nlp_bench_pipeline.simulate.eks_model import EksSettings, EksSimulation, EksTiming
from nlp_bench_pipeline.simulate.lambda_model import LambdaSettings, LambdaSimulation
from nlp_bench_pipeline.simulate.latency import Percentiles
from nlp_bench_pipeline.simulate.outcomes import RequestTally
from nlp_bench_pipeline.simulate.series import TimeSeries
from nlp_bench_pipeline.simulate.traffic import Traffic
from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig, NodeConfig

DEFAULT_POD_MEMORY_MIB = 2048  # DeploymentSpec's memory request
PEAK_HEADROOM = 2.0  # default max replicas: twice what the HPA holds at the peak rate
UNBOUNDED_REPLICAS = 10**6

TotalsT = TypeVar("TotalsT")
TotalsT_co = TypeVar("TotalsT_co", covariant=True)


@dataclass(frozen=True)
class SloVerdict:
    """p99 over every request (failures ranked last) against the bound."""

    p99_bound_ms: float
    p99_ms: float | None
    met: bool


@dataclass(frozen=True)
class SimulationResult:
    """What a simulated period came to."""

    platform: Platform
    traffic: Traffic
    seed: int
    requests: int
    outcomes: dict[str, int]
    latency: Percentiles  # every request, failures ranked slower than any success
    ok_latency: Percentiles  # successful requests only, as run_summary
    latency_method: str
    counts: dict[str, float]
    slo: SloVerdict
    series: dict[str, object]
    usage: LambdaUsage | EksUsage
    cost: PeriodCost
    calibration: dict[str, object]
    settings: dict[str, Any]
    wall_s: float

    @property
    def requests_per_wall_s(self) -> float:
        return self.requests / self.wall_s if self.wall_s > 0 else math.inf

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``nlp-bench simulate --json`` prints."""
        return {
            "platform": self.platform,
            "traffic": asdict(self.traffic) | {"mean_rate_rps": self.traffic.mean_rate},
            "seed": self.seed,
            "requests": self.requests,
            "outcomes": self.outcomes,
            "latency_ms": self.latency.as_dict() | {"failures": "ranked slower than any success"},
            "ok_latency_ms": self.ok_latency.as_dict(),
            "latency_method": self.latency_method,
            "counts": self.counts,
            "slo": asdict(self.slo),
            "usage": asdict(self.usage),
            "cost": self.cost.to_dict(),
            "distributions": self.calibration,
            "settings": self.settings,
            "series": self.series,
            "wall_s": round(self.wall_s, 3),
            "requests_per_wall_s": round(self.requests_per_wall_s),
        }


def simulate_lambda(
    traffic: Traffic,
    settings: LambdaSettings,
    calibration: Calibration,
    *,
    catalog: PriceCatalog,
    seed: int = 0,
    slo_ms: float = 500.0,
) -> SimulationResult:
    """A period of Lambda behind API Gateway under ``traffic``."""
    timing = calibration.lambda_timing(settings.memory_mb)
    period = _play(
        traffic,
        seed,
        lambda rng, tally, series: LambdaSimulation(settings, timing, rng, tally, series),
    )
    totals = period.totals
    waits = np.array(totals.init_wait_ms) if totals.init_wait_ms else np.zeros(1)
    counts = {
        "cold_starts": totals.cold_starts,
        "throttles": totals.throttled,
        "throttles_concurrency_limit": totals.throttles["concurrency_limit"],
        "throttles_scale_out_rate": totals.throttles["scale_out_rate"],
        "gateway_timeouts": totals.timeouts,
        "rate_limited": totals.rate_limited,
        "init_retries": totals.init_retries,
        "evictions": totals.evictions,
        "invocations": totals.invocations,
        "peak_concurrency": totals.peak_concurrency,
        "init_wait_p50_ms": round(float(np.median(waits)), 3),
        "init_wait_max_ms": round(float(waits.max()), 3),
    }
    usage = lambda_usage(settings, totals, traffic.duration_s, catalog)
    return _result(
        "lambda",
        traffic,
        seed,
        period,
        counts,
        slo_ms,
        usage,
        catalog,
        calibration.describe("lambda", settings.memory_mb),
        settings_dict(settings),
    )


def simulate_eks(
    traffic: Traffic,
    settings: EksSettings,
    calibration: Calibration,
    *,
    catalog: PriceCatalog,
    seed: int = 0,
    slo_ms: float = 500.0,
    capacity_rps: float | None = None,
) -> SimulationResult:
    """A period of an EKS Deployment behind an ALB under ``traffic``; ``capacity_rps``, when
    given, is a pod's throughput flat out (else the measured service time sets it)."""
    timing = eks_timing(calibration, settings, capacity_rps)
    period = _play(
        traffic,
        seed,
        lambda rng, tally, series: EksSimulation(settings, timing, rng, tally, series),
    )
    totals = period.totals
    counts = {
        "cold_starts": 0,  # requests never wait on a pod's start: pods start ahead of traffic
        "throttles": 0,
        "gateway_timeouts": totals.timeouts,
        "no_ready_endpoint": totals.no_endpoint,
        "scale_outs": totals.scale_outs,
        "scale_ins": totals.scale_ins,
        "pods_started": totals.pods_started,
        "nodes_added": totals.nodes_added,
        "nodes_removed": totals.nodes_removed,
        "peak_replicas": totals.peak_replicas,
        "peak_nodes": totals.peak_nodes,
        "pods_per_node": settings.pods_per_node,
        "pod_capacity_rps": round(1000.0 * settings.parallelism / timing.service.mean_ms, 3),
    }
    usage = eks_usage(settings, totals, traffic.duration_s, catalog)
    return _result(
        "eks",
        traffic,
        seed,
        period,
        counts,
        slo_ms,
        usage,
        catalog,
        calibration.describe("eks"),
        settings_dict(settings),
    )


def eks_timing(
    calibration: Calibration, settings: EksSettings, capacity_rps: float | None = None
) -> EksTiming:
    """The calibration's pod timing at the pods' CPU (``busy_cpu_cores``)."""
    return calibration.eks_timing(
        settings.busy_cpu_cores, capacity_rps=capacity_rps, parallelism=settings.parallelism
    )


def lambda_settings_for(traffic: Traffic, calibration: Calibration, **knobs: Any) -> LambdaSettings:
    """``LambdaSettings(**knobs)`` with the period starting in steady state: as many warm
    environments as a stream at the starting rate keeps alive (mean concurrency by Little's law
    plus three standard deviations), less the provisioned ones."""
    settings = LambdaSettings(**knobs)
    timing = calibration.lambda_timing(settings.memory_mb)
    busy = _starting_rate(traffic) * timing.work.mean_ms / 1000.0
    room = settings.concurrency_limit - settings.provisioned_concurrency
    wanted = math.ceil(busy + 3 * math.sqrt(busy)) - settings.provisioned_concurrency
    return replace(settings, warm_at_start=max(0, min(wanted, room)))


def eks_settings_for(
    traffic: Traffic,
    calibration: Calibration,
    catalog: PriceCatalog,
    *,
    node_type: str = "c6i.xlarge",
    cpu: float = 1.0,
    min_replicas: int = 2,
    max_replicas: int | None = None,
    hpa: HpaConfig | None = None,
    capacity_rps: float | None = None,
    memory_request_mib: float = DEFAULT_POD_MEMORY_MIB,
) -> EksSettings:
    """A Deployment of pods with ``cpu`` (request = limit) on ``node_type`` nodes, sized for the
    traffic: ``max_replicas`` by default twice what the HPA holds at the pattern's peak rate, the
    node group as large as that needs, and the period starting with the pods the HPA holds at
    the starting rate."""
    base = EksSettings(
        node_type=node_type,
        cpu_request=cpu,
        busy_cpu_cores=cpu,
        min_replicas=min_replicas,
        max_replicas=UNBOUNDED_REPLICAS,
        hpa=hpa or HpaConfig(metric="cpu"),
    )
    timing = eks_timing(calibration, base, capacity_rps)
    if max_replicas is None:
        peak = max(segment.rate for segment in traffic.segments())
        max_replicas = max(min_replicas, math.ceil(PEAK_HEADROOM * _held_pods(peak, timing, base)))
    if max_replicas < min_replicas:
        raise ValueError(f"max_replicas {max_replicas} is below min_replicas {min_replicas}")
    node = catalog.instance(node_type, DEFAULT_REGION)
    per_node = pods_per_node(node, cpu * 1000, memory_request_mib, catalog)
    if per_node < 1:
        raise ValueError(f"a pod of {cpu:g} CPU and {memory_request_mib:g} MiB fits no {node_type}")
    nodes = NodeConfig(
        pods_per_node=per_node,
        allocatable_cpu=node.allocatable_cpu_m / 1000.0,
        max_nodes=math.ceil(max_replicas / per_node),
        add_delay_s=calibration.node_add.value,
    )
    settings = replace(base, max_replicas=max_replicas, nodes=nodes)
    held = _held_pods(_starting_rate(traffic), timing, settings)
    return replace(settings, initial_replicas=max(min_replicas, min(max_replicas, math.ceil(held))))


def _starting_rate(traffic: Traffic) -> float:
    return traffic.segments()[0].rate


def _held_pods(rate: float, timing: EksTiming, settings: EksSettings) -> float:
    """Pods the HPA settles on at ``rate``: busy slots over the busy share its CPU target asks
    for, or requests in flight over the in-flight target."""
    busy = rate * timing.service.mean_ms / 1000.0
    if settings.hpa.metric == "inflight":
        return busy / settings.hpa.target
    share = settings.hpa.target / 100.0 * settings.cpu_request / settings.busy_cpu_cores
    return busy / (settings.parallelism * min(1.0, share))


class _Model(Protocol[TotalsT_co]):
    """What either platform model is to a period: arrivals fed in order, then its totals."""

    def feed(self, t: np.ndarray, labels: np.ndarray | None = None) -> None: ...

    def finish(self, end_s: float) -> TotalsT_co: ...


@dataclass(frozen=True)
class _Period(Generic[TotalsT]):
    """A period played through a platform model."""

    tally: RequestTally
    series: TimeSeries
    totals: TotalsT
    wall_s: float  # feeding and finishing the model, not building it


def _play(
    traffic: Traffic,
    seed: int,
    model: Callable[[np.random.Generator, RequestTally, TimeSeries], _Model[TotalsT]],
) -> _Period[TotalsT]:
    """Feed ``traffic``'s arrivals to the model ``model`` builds from the platform's stream of
    ``seed`` and a fresh tally and series, to the end of the period."""
    arrivals_rng, platform_rng = _streams(seed)
    tally, series = RequestTally(), TimeSeries(traffic.duration_s)
    simulation = model(platform_rng, tally, series)
    started = time.perf_counter()
    for chunk in traffic.arrivals(arrivals_rng):
        simulation.feed(chunk)
    totals = simulation.finish(traffic.duration_s)
    return _Period(tally, series, totals, time.perf_counter() - started)


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    arrivals, platform = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(arrivals), np.random.default_rng(platform)


def _result(
    platform: Platform,
    traffic: Traffic,
    seed: int,
    period: _Period[Any],
    counts: dict[str, float],
    slo_ms: float,
    usage: LambdaUsage | EksUsage,
    catalog: PriceCatalog,
    calibration: dict[str, object],
    settings: dict[str, Any],
) -> SimulationResult:
    tally = period.tally
    phase = tally.phases[tally.labels[0]]
    latency = phase.recorder.percentiles(failures_last=True)
    return SimulationResult(
        platform=platform,
        traffic=traffic,
        seed=seed,
        requests=phase.requests,
        outcomes=dict(phase.outcomes),
        latency=latency,
        ok_latency=phase.recorder.percentiles(failures_last=False),
        latency_method=phase.recorder.method,
        counts=counts,
        slo=SloVerdict(slo_ms, latency.p99, latency.p99 is not None and latency.p99 <= slo_ms),
        series=period.series.as_dict(),
        usage=usage,
        cost=period_cost(usage, phase.requests, traffic.duration_s, catalog),
        calibration=calibration,
        settings=settings,
        wall_s=period.wall_s,
    )


def settings_dict(settings: LambdaSettings | EksSettings) -> dict[str, Any]:
    """Settings as JSON values (the HPA and node configs are pydantic models)."""
    out: dict[str, Any] = {}
    for f in fields(settings):
        value = getattr(settings, f.name)
        out[f.name] = value.model_dump() if isinstance(value, BaseModel) else value
    return out
