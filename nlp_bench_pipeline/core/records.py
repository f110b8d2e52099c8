"""The shared vocabulary of the pipeline: target names, platform events, resource samples.

The ground floor (docs/architecture.md): every pipeline package may import this package, and it
imports none of them. Plain pydantic; every datetime is timezone-aware UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TargetName = Literal["local-lambda", "local-k8s", "aws-lambda", "aws-eks"]
ALL_TARGETS: tuple[TargetName, ...] = ("local-lambda", "local-k8s", "aws-lambda", "aws-eks")
LOCAL_TARGETS: tuple[TargetName, ...] = ("local-lambda", "local-k8s")
# Where readiness gates traffic, so no request waits on an init: scale-out shows as pod events.
K8S_STYLE_TARGETS: frozenset[str] = frozenset({"local-k8s", "aws-eks"})
# One request at a time per execution environment; a request finding none idle starts one.
LAMBDA_STYLE_TARGETS: frozenset[str] = frozenset({"local-lambda", "aws-lambda"})
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


def utcnow() -> datetime:
    return datetime.now(UTC)


class Frozen(BaseModel):
    """An immutable record that refuses unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class PlatformEvent(Frozen):
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


class ResourceSample(Frozen):
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
