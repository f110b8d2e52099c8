"""The platform knobs of the local Kubernetes target, with Kubernetes' and EKS's defaults.

Validated from ``DeploymentSpec.platform``; an unknown key is an error, so a typo never silently
runs with a default. Probe fields keep Kubernetes' names (``initialDelaySeconds``...) so a
manifest's values can be pasted in. A ``preset`` key picks a named set of shortened timers
(``"quick"``) that the other keys then override.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.local_k8s.service import REQUEST_TIMEOUT_S

DEFAULT_HPA_TARGETS = {"cpu": 80.0, "inflight": 2.0}


class _Knobs(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ProbeConfig(BaseModel):
    """A Kubernetes HTTP probe; the defaults are the API server's defaults for a probe."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )

    path: str
    initial_delay_seconds: float = Field(0.0, ge=0)
    period_seconds: float = Field(10.0, gt=0)
    timeout_seconds: float = Field(1.0, gt=0)
    success_threshold: int = Field(1, ge=1)
    failure_threshold: int = Field(3, ge=1)


class ReadinessProbe(ProbeConfig):
    """Traffic only once the model is loaded."""

    path: str = "/readyz"


class StartupProbe(ProbeConfig):
    """Holds the other probes off until the process answers (up to 5 minutes of imports)."""

    path: str = "/healthz"
    period_seconds: float = Field(1.0, gt=0)
    failure_threshold: int = Field(300, ge=1)


class LivenessProbe(ProbeConfig):
    """Restart a process that stopped answering (a hung event loop, a failed model load)."""

    path: str = "/healthz"


class HpaConfig(_Knobs):
    """The HorizontalPodAutoscaler (kubernetes/kubernetes podautoscaler defaults).

    Active when the spec's ``max_replicas`` exceeds ``min_replicas``. ``metric="cpu"`` is the
    average CPU utilisation of the pods as a percentage of their CPU request (a Resource metric);
    ``"inflight"`` is the average number of requests in flight per pod, as a Pods metric from
    an adapter would give it.
    """

    metric: Literal["cpu", "inflight"] = "cpu"
    target: float = Field(gt=0, description="default 80 (% of request, kubectl autoscale) or 2")
    sync_period_s: float = Field(15.0, gt=0, description="--horizontal-pod-autoscaler-sync-period")
    tolerance: float = Field(0.1, ge=0, description="no change while |metric/target - 1| <= this")
    scale_down_stabilization_s: float = Field(300.0, ge=0)
    scale_up_stabilization_s: float = Field(0.0, ge=0)
    scale_up_limit_pods: int = Field(4, ge=1, description="default scaleUp policy: +4 pods...")
    scale_up_limit_percent: float = Field(100.0, gt=0, description="...or +100 %, the larger")

    @model_validator(mode="before")
    @classmethod
    def _default_target(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("target") is None:
            metric = data.get("metric", "cpu")
            return {**data, "target": DEFAULT_HPA_TARGETS.get(metric)}
        return data


class NodeConfig(_Knobs):
    """Worker nodes and the cluster autoscaler that adds them.

    ``pods_per_node`` None derives the capacity from the CPU request and a t3.medium's
    allocatable CPU on EKS (1.93 of 2 vCPU). Nodes are bookkeeping only: every pod runs on this
    host, so node capacity decides when a pod may start, not how fast it runs.
    """

    pods_per_node: int | None = Field(None, ge=1)
    allocatable_cpu: float = Field(1.93, gt=0, description="cores a pod may request per node")
    initial_nodes: int | None = Field(
        None, ge=1, description="None: as many as the initial replicas need"
    )
    max_nodes: int = Field(10, ge=1, description="the node group's maximum size")
    add_delay_s: float = Field(
        120.0,
        ge=0,
        description="pending pod seen to node Ready: autoscaler scan (10 s) + EC2 boot and join "
        "(1-5 min on EKS; an assumption within that range)",
    )

    def capacity(self, cpu_request: float) -> int:
        """Pods that fit on one node."""
        if self.pods_per_node is not None:
            return self.pods_per_node
        return max(1, math.floor(self.allocatable_cpu / cpu_request + 1e-9))


class RolloutConfig(_Knobs):
    """The Deployment's RollingUpdate strategy."""

    max_surge: int = Field(1, ge=0)
    max_unavailable: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _can_progress(self) -> RolloutConfig:
        if self.max_surge == 0 and self.max_unavailable == 0:
            raise ValueError("max_surge and max_unavailable cannot both be 0 (Kubernetes rule)")
        return self


class ServiceConfig(_Knobs):
    """The Service front (an ALB-style HTTP proxy over the ready pods)."""

    upstream_timeout_s: float = Field(60.0, gt=0, description="ALB idle timeout: then 504")
    request_timeout_s: float = Field(
        REQUEST_TIMEOUT_S,
        gt=0,
        description="a request's headers and body must all arrive within this of its first "
        "byte: then 408 and the connection closes (the pods' own: NLP_BENCH_BODY_TIMEOUT_S)",
    )
    port: int = Field(0, ge=0, le=65535, description="0: any free port")


class BatchingConfig(_Knobs):
    """Dynamic micro-batching in every pod: the service's ``NLP_BENCH_BATCH_MAX_SIZE`` and
    ``NLP_BENCH_BATCH_MAX_WAIT_MS``, set in the pod template's environment.

    On by default, where Lambda has it off: a pod serves many requests at once, and requests
    that queue while one forward pass runs go in the next, up to ``max_size`` texts — the raw
    pass's gain over batch 1 is about 1.7x at 8 texts of 16 tokens on this CPU (issue 15;
    the design: docs/adr/0042). ``max_wait_ms`` 0 means a batch never waits for company, so a
    request that arrives alone runs at once and latency at low load is unchanged. The spec's
    own ``env`` (e.g. ``NLP_BENCH_SERVICE_ENV``) overrides both.
    """

    max_size: int = Field(8, ge=1, description="most texts in one forward pass (1: off)")
    max_wait_ms: float = Field(
        0.0, ge=0, description="how long a batch that is not full waits for company"
    )

    def env(self) -> dict[str, str]:
        """The pod environment that sets this batching."""
        return {
            "NLP_BENCH_BATCH_MAX_SIZE": str(self.max_size),
            "NLP_BENCH_BATCH_MAX_WAIT_MS": f"{self.max_wait_ms:g}",
        }


class LocalK8sConfig(_Knobs):
    """Everything ``platform`` may set for ``local-k8s``."""

    startup_probe: StartupProbe = StartupProbe()
    readiness_probe: ReadinessProbe = ReadinessProbe()
    liveness_probe: LivenessProbe = LivenessProbe()
    hpa: HpaConfig = HpaConfig()
    nodes: NodeConfig = NodeConfig()
    rollout: RolloutConfig = RolloutConfig()
    service: ServiceConfig = ServiceConfig()
    batching: BatchingConfig = BatchingConfig()
    pod_start_latency_s: float = Field(
        2.0, ge=0, description="scheduling to container start: image pull (cached) and create"
    )
    termination_grace_period_s: float = Field(30.0, ge=0)
    restart_backoff_s: float = Field(10.0, ge=0, description="CrashLoopBackOff first delay")
    restart_backoff_max_s: float = Field(300.0, ge=0, description="CrashLoopBackOff cap")
    sample_interval_s: float = Field(
        1.0, gt=0, description="resource samples, and the window the HPA's metrics average over"
    )

    @classmethod
    def from_platform(cls, platform: Mapping[str, Any]) -> LocalK8sConfig:
        """Validate ``DeploymentSpec.platform``: a named ``preset``, then the keys given."""
        knobs = dict(platform)
        preset = knobs.pop("preset", "default")
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        return cls.model_validate(_deep_merge(PRESETS[preset], knobs))

    def restart_delay_s(self, restarts_so_far: int) -> float:
        """CrashLoopBackOff: the first restart at once, then 10 s doubling to the cap."""
        if restarts_so_far == 0:
            return 0.0
        return min(self.restart_backoff_max_s, self.restart_backoff_s * 2 ** (restarts_so_far - 1))


def validate_spec(spec: DeploymentSpec) -> LocalK8sConfig:
    """The config for ``spec``, after the checks Kubernetes would make of the spec itself."""
    if spec.min_replicas < 1:
        raise ValueError(
            "min_replicas must be at least 1: an HPA on EKS cannot scale to zero "
            "(HPAScaleToZero is an alpha feature gate EKS does not enable)"
        )
    return LocalK8sConfig.from_platform(spec.platform)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


# Named timer sets. "quick" keeps every mechanism but shortens what a run would otherwise wait
# for; results produced with it are labelled quick by the pipeline.
PRESETS: dict[str, dict[str, Any]] = {
    "default": {},
    "quick": {
        "startup_probe": {"periodSeconds": 0.2, "failureThreshold": 1500},
        "readiness_probe": {"periodSeconds": 0.5},
        "liveness_probe": {"periodSeconds": 1.0},
        "hpa": {"sync_period_s": 3.0, "scale_down_stabilization_s": 30.0},
        "nodes": {"add_delay_s": 10.0},
        "pod_start_latency_s": 0.5,
        "termination_grace_period_s": 5.0,
        "restart_backoff_s": 1.0,
        "restart_backoff_max_s": 10.0,
        "sample_interval_s": 0.5,
    },
}
