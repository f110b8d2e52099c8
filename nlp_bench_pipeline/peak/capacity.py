"""The sizes a search runs at, and what its peak means per vCPU and where the host bent it.

A size is a Lambda memory size (its CPU share: 1,769 MB = 1 vCPU) or a pod's CPU (request =
limit) with the most replicas the plan allows. The capacity behind a peak is the configuration's
vCPUs at its largest — environments up to the concurrency limit times each one's share, or
``max_replicas`` pods times their CPU — and on a local target at most the host's cores, which
the load generator shares too; the peak per vCPU is what compares across sizes and platforms.

**Host-limited** (docs/schema.md, "Host-limited"): every local search is labelled so, since its
capacity is this host's, not the platform's; the reasons name what the target lowered to fit
the host (its deployment's ``host_limited`` notes), the host's cores against the configured
vCPUs, and the share of requests that met a host limit in the INVALID probe that bounded the
peak (``run_summary.host_limited_share``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS, LOCAL_TARGETS
from nlp_bench_pipeline.peak.plan import PeakPlan, Policy
from nlp_bench_pipeline.peak.search import ProbeOutcome
from nlp_bench_pipeline.sweep.capacity import LocalHost
from nlp_bench_pipeline.targets.cpu_quota import available_cpus, lambda_cores


@dataclass(frozen=True)
class Size:
    """One configuration a search runs at."""

    label: str
    slug: str  # for run ids
    memory_mb: int | None = None
    pod_cpu: float | None = None
    replicas: int | None = None

    @property
    def configured_vcpus(self) -> float | None:
        """Kubernetes-style: pods × CPU (Lambda-style needs the concurrency limit: see below)."""
        return self.replicas * self.pod_cpu if self.pod_cpu and self.replicas else None


def sizes_for(target: str, bench: BenchmarkPlan, plan: PeakPlan) -> list[Size]:
    """The plan's sizes for ``target`` (default: the benchmark plan's one size)."""
    if target in LAMBDA_STYLE_TARGETS:
        return [
            Size(f"{m:,} MB", f"{m}mb", memory_mb=m)
            for m in plan.memory_sizes_mb or (bench.lambda_memory_mb,)
        ]
    replicas = bench.max_replicas
    return [
        Size(
            f"{c:g} CPU x {replicas} pod{'s' if replicas != 1 else ''}",
            f"cpu{c:g}x{replicas}".replace(".", "p"),
            pod_cpu=c,
            replicas=replicas,
        )
        for c in plan.pod_cpus or (bench.pod_cpu,)
    ]


def spec_for(bench: BenchmarkPlan, target: str, size: Size, policy: Policy) -> DeploymentSpec:
    """The deployment of one probe: the size, and on Kubernetes-style targets under the warmed
    policy every replica up front (min = max), so no pod starts inside the probe."""
    changes: dict[str, Any] = {}
    if size.memory_mb is not None:
        changes["lambda_memory_mb"] = size.memory_mb
    if size.pod_cpu is not None:
        changes["pod_cpu"] = size.pod_cpu
        if policy == "warmed":
            changes["min_replicas"] = bench.max_replicas
    sized = BenchmarkPlan.model_validate({**bench.model_dump(), **changes})
    return sized.deployment_spec(target)  # type: ignore[arg-type]


def host_refusal(target: str, size: Size) -> str | None:
    """Why this host cannot run ``size`` faithfully (a local target only), or None."""
    if target not in LOCAL_TARGETS:
        return None
    if size.memory_mb is not None:
        refusal = LocalHost.measure().refusal(size.memory_mb)
        return refusal.reason if refusal else None
    cores = available_cpus()
    if size.pod_cpu is not None and size.pod_cpu > cores:
        return f"a pod of {size.pod_cpu:g} CPU does not fit this host's {cores} cores"
    return None


def capacity_figures(
    target: str,
    size: Size,
    deployment: Mapping[str, Any] | None,
    peak_rps: float | None,
    probes: Sequence[ProbeOutcome],
    bounding: ProbeOutcome | None,
) -> dict[str, Any]:
    """``configured_vcpus``, ``host_cores``, ``vcpus``, ``per_vcpu_rps`` and the host-limited
    label with its reasons, from a probe's deployment details (``benchmark_runs.host``)."""
    details = dict(deployment or {})
    cpu = details.get("cpu") or {}
    host_cores = cpu.get("host_cores") if target in LOCAL_TARGETS else None
    configured = configured_vcpus(target, size, details)
    vcpus = min(configured, host_cores) if configured and host_cores else configured
    reasons = host_limited_reasons(target, details, configured, host_cores, bounding)
    reasons += warming_shortfalls(probes)
    return {
        "configured_vcpus": configured,
        "host_cores": host_cores,
        "vcpus": vcpus,
        "per_vcpu_rps": peak_rps / vcpus if peak_rps is not None and vcpus else None,
        "host_limited": target in LOCAL_TARGETS,
        "host_limited_reasons": reasons,
        "bounding_host_limited_share": bounding.figures.get("host_limited_share")
        if bounding
        else None,
    }


def configured_vcpus(target: str, size: Size, details: Mapping[str, Any]) -> float | None:
    """The configuration's vCPUs at its most: concurrency limit × share, or pods × CPU."""
    if target in LAMBDA_STYLE_TARGETS and size.memory_mb is not None:
        limit = (details.get("limits") or {}).get("concurrency_limit")
        return limit * lambda_cores(size.memory_mb) if limit else None
    return size.configured_vcpus


def host_limited_reasons(
    target: str,
    details: Mapping[str, Any],
    configured: float | None,
    host_cores: int | None,
    bounding: ProbeOutcome | None,
) -> list[str]:
    if target not in LOCAL_TARGETS:
        return []
    reasons = []
    if host_cores:
        reasons.append(
            f"measured on this host's {host_cores} cores, which the load generator shares: "
            f"{_vcpu(configured)} configured"
        )
    notes = details.get("notes") or {}
    for item in details.get("host_limited") or []:
        reasons.append(str(notes.get(item, item)) if isinstance(notes, Mapping) else str(item))
    share = bounding.figures.get("host_limited_share") if bounding else None
    if bounding is not None and share:
        reasons.append(
            f"{share:.0%} of the requests of the INVALID probe at {bounding.rate_rps:.3g} req/s "
            "met a host limit"
        )
    return reasons


def warming_shortfalls(probes: Sequence[ProbeOutcome]) -> list[str]:
    """Probes whose warming did not open every environment their rate needed (the warming's
    record, ``benchmark_runs.host.warming``): on a busy host inits queue for its init slots."""
    short = []
    for probe in probes:
        warming = probe.figures.get("warming") or {}
        wanted, warm = warming.get("environments_wanted"), warming.get("environments_warm")
        if wanted and warm is not None and warm < wanted:
            short.append(f"{warm} of {wanted} at {probe.rate_rps:.3g} req/s")
    if not short:
        return []
    return [f"warming opened fewer environments than the rate needed: {'; '.join(short)}"]


def _vcpu(value: float | None) -> str:
    return "an unknown number of vCPUs" if value is None else f"{value:.3g} vCPU"
