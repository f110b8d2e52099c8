"""The ``aws-eks`` target's knobs, from ``DeploymentSpec.platform`` (unknown keys are an error).

Pod CPU and memory come from the spec (request = limit: Guaranteed QoS, as the manifests
render them), replicas from ``min_replicas``/``max_replicas`` (an HPA when they differ), the
image always by digest. The waits are the original project's "LoadBalancer takes time": the ALB
controller provisions a load balancer for the Ingress in two to three minutes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.targets.aws.knobs import validate_knobs
from nlp_bench_pipeline.targets.aws_eks.manifests import Hpa, check_image


class AwsEksConfig(BaseModel):
    """The service on EKS behind an ALB; defaults are the manifests' and Kubernetes' own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(description="the service image, <repository>@sha256:<64 hex>")
    namespace: str = "nlp-bench"
    ingress_scheme: Literal["internal", "internet-facing"] = "internal"
    inbound_cidrs: tuple[str, ...] = Field(
        ("10.42.0.0/16",),
        min_length=1,
        description="the VPC: Terraform output eks.ingress_inbound_cidrs",
    )
    cpu_utilization: int = Field(60, ge=1, le=100, description="HPA target, percent of request")
    scale_down_stabilization_s: int = Field(300, ge=0, le=3600)
    rollout_timeout_s: float = Field(600.0, gt=0)
    load_balancer_timeout_s: float = Field(600.0, gt=0)
    health_path: str = Field("/readyz", pattern=r"^/")
    health_budget_s: float = Field(300.0, gt=0, description="for the ALB to pass its first check")
    health_check: bool = Field(
        True, description="false where the ALB is internal and this process is outside the VPC"
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @classmethod
    def from_spec(cls, spec: DeploymentSpec) -> AwsEksConfig:
        if spec.min_replicas < 1:
            raise ValueError("aws-eks: min_replicas must be at least 1 (an HPA's minReplicas)")
        return validate_knobs(cls, spec.target, spec.platform)

    def hpa(self, spec: DeploymentSpec) -> Hpa | None:
        """An HPA when the spec lets the replicas vary, None for a fixed count."""
        if spec.max_replicas == spec.min_replicas:
            return None
        return Hpa(
            min_replicas=spec.min_replicas,
            max_replicas=spec.max_replicas,
            cpu_utilization=self.cpu_utilization,
            scale_down_stabilization_s=self.scale_down_stabilization_s,
        )


def cpu_quantity(cpu: ResourceQuantity) -> str:
    """Cores as a Kubernetes quantity in millicores (the request; it is the limit too)."""
    return f"{round(cpu.request * 1000)}m"


def memory_quantity(memory: ResourceQuantity) -> str:
    """MiB as a Kubernetes quantity."""
    return f"{round(memory.request)}Mi"
