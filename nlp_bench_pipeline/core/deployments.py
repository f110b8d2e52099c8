"""What is deployed where: the spec a target is given and the deployment it answers with."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.core.records import Frozen, TargetName

DEFAULT_APP = "inference_service.app:app"
DEFAULT_HANDLER = "inference_service.lambda_handler.handler"


class ResourceQuantity(Frozen):
    """A Kubernetes-style request/limit pair (CPU in cores, memory in MiB)."""

    request: float = Field(gt=0)
    limit: float | None = Field(None, gt=0, description="None = unlimited, as in Kubernetes")

    @model_validator(mode="after")
    def _limit_not_below_request(self) -> ResourceQuantity:
        if self.limit is not None and self.limit < self.request:
            raise ValueError(f"limit {self.limit} is below request {self.request}")
        return self


class DeploymentSpec(Frozen):
    """What to deploy and how; ``platform`` holds each target's knobs (validated by the target)."""

    target: TargetName
    model: str = Field("synthetic", description="an NLP_BENCH_MODEL value")
    digest: str | None = Field(None, description="model digest, when known ahead")
    app: str = Field(DEFAULT_APP, description="ASGI app path (k8s-style targets)")
    handler: str = Field(DEFAULT_HANDLER, description="Lambda handler path (Lambda-style targets)")
    env: dict[str, str] = Field(default_factory=dict, description="extra environment, e.g. faults")
    memory_mb: int = Field(
        LAMBDA_DEFAULT_MEMORY_MB,
        ge=LAMBDA_MIN_MEMORY_MB,
        le=LAMBDA_MAX_MEMORY_MB,
        description="Lambda memory size",
    )
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


class Deployment(Frozen):
    """A running (or last-known) deployment; ``details`` carries host-limited notes and figures."""

    deployment_id: str
    endpoint: str
    target: TargetName
    spec: DeploymentSpec
    started_at: datetime
    details: dict[str, Any] = Field(default_factory=dict)
