"""The one interface every platform implements, and the records it produces (DESIGN.md "Targets").

Plain pydantic, no Dagster: the pipeline, the load generator and the tests all speak these types.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TargetName = Literal["local-lambda", "local-k8s", "aws-lambda", "aws-eks"]
EventKind = Literal[
    "init_start",
    "cold_start",
    "report",
    "evict",
    "throttle",
    "timeout",
    "crash",
    "pod_scheduled",
    "pod_ready",
    "pod_killed",
    "pod_restarted",
    "scale_out",
    "scale_in",
    "node_added",
]

DEFAULT_APP = "inference_service.app:app"
DEFAULT_HANDLER = "inference_service.lambda_handler.handler"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ResourceQuantity(_Frozen):
    """A Kubernetes-style request/limit pair (CPU in cores, memory in MiB)."""

    request: float = Field(gt=0)
    limit: float | None = Field(None, gt=0, description="None = unlimited, as in Kubernetes")

    @model_validator(mode="after")
    def _limit_not_below_request(self) -> ResourceQuantity:
        if self.limit is not None and self.limit < self.request:
            raise ValueError(f"limit {self.limit} is below request {self.request}")
        return self


class DeploymentSpec(_Frozen):
    """What to deploy and how; ``platform`` holds each target's knobs (validated by the target)."""

    target: TargetName
    model: str = Field("synthetic", description="an NLP_BENCH_MODEL value")
    digest: str | None = Field(None, description="model digest, when known ahead")
    app: str = Field(DEFAULT_APP, description="ASGI app path (k8s-style targets)")
    handler: str = Field(DEFAULT_HANDLER, description="Lambda handler path (Lambda-style targets)")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment, e.g. faults")
    memory_mb: int = Field(1769, ge=128, le=10240, description="Lambda memory size")
    cpu: ResourceQuantity = ResourceQuantity(request=1.0, limit=1.0)
    memory: ResourceQuantity = ResourceQuantity(request=2048, limit=2048)
    min_replicas: int = Field(1, ge=0)
    max_replicas: int = Field(1, ge=1)
    platform: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _replica_bounds(self) -> DeploymentSpec:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} exceeds max_replicas {self.max_replicas}"
            )
        return self


class Deployment(_Frozen):
    """A running (or last-known) deployment; ``details`` carries host-limited notes and figures."""

    deployment_id: str
    endpoint: str
    target: TargetName
    spec: DeploymentSpec
    started_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)


class PlatformEvent(_Frozen):
    """Something the platform did: a cold start, a REPORT record, a throttle, a pod event..."""

    at: datetime
    target: TargetName
    kind: EventKind
    environment_id: str | None = None
    init_ms: float | None = None
    duration_ms: float | None = None
    billed_ms: float | None = None
    memory_mb: float | None = None
    max_memory_mb: float | None = None
    detail: dict[str, Any] = Field(default_factory=dict)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _require_utc(value)


class ResourceSample(_Frozen):
    """CPU and memory of one environment (Lambda execution environment or pod) at one time."""

    at: datetime
    target: TargetName
    environment_id: str
    cpu_pct: float = Field(ge=0, description="percent of one core, as top reports it")
    rss_mb: float = Field(ge=0)

    @field_validator("at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return _require_utc(value)


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware (UTC)")
    return value.astimezone(UTC)


@runtime_checkable
class Target(Protocol):
    """A platform the service can be deployed to and measured on."""

    name: TargetName

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy, or return the existing deployment for an identical spec (idempotent)."""
        ...

    def deployed(self, spec: DeploymentSpec) -> contextlib.AbstractContextManager[Deployment]:
        """Deploy for the duration of a ``with`` block and always tear down after."""
        ...

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Block until the deployment serves at its minimum capacity.

        Pods ready on Kubernetes; on Lambda ``deploy`` already initialised any provisioned
        environments and on-demand ones are created by requests, so it returns at once.
        """
        ...

    def teardown(self) -> None:
        """Stop everything this target started; events and samples stay readable."""
        ...

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        """Events at or after ``since`` (all when None), oldest first; does not drain."""
        ...

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        """Resource samples at or after ``since`` (all when None), oldest first; does not drain."""
        ...


class DeployedContext:
    """Mixin giving a target ``deployed(spec)`` from its ``deploy`` and ``teardown``."""

    def deploy(self, spec: DeploymentSpec) -> Deployment:  # pragma: no cover - overridden
        raise NotImplementedError

    def teardown(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    @contextlib.contextmanager
    def deployed(self, spec: DeploymentSpec) -> Iterator[Deployment]:
        try:
            yield self.deploy(spec)
        finally:
            self.teardown()
