"""The ``aws-lambda`` target's knobs, from ``DeploymentSpec.platform`` (unknown keys are an error).

Defaults follow the Terraform module ``infra/terraform/modules/lambda_api`` (so a function the
pipeline makes and one Terraform makes are the same function): 30 s timeout (the HTTP API's
integration timeout), Text logs, reserved concurrency unset (new accounts' quota of 10 refuses
reservations), no provisioned concurrency, IAM authorisation and a throttled default route.
Memory comes from ``DeploymentSpec.memory_mb``, the image from ``image`` — always by digest.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from nlp_bench_pipeline.core.deployments import DEFAULT_HANDLER, DeploymentSpec
from nlp_bench_pipeline.targets.aws.knobs import validate_knobs
from nlp_bench_pipeline.targets.aws_eks.manifests import check_image

LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)
# The image's entrypoint runs awslambdaric with ${HANDLER} (infra/docker/entrypoint.sh).
HANDLER_ENV = "HANDLER"
_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[^@]+)@(?P<digest>sha256:[0-9a-f]{64})$"
)
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+$")
_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/[\w+=,.@/-]+$")


class AwsLambdaConfig(BaseModel):
    """One function behind one HTTP API; each default matches the Terraform module's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str = Field(description="the service image in ECR, <repository>@sha256:<64 hex>")
    function_name: str = Field("nlp-bench", pattern=r"^[A-Za-z0-9_-]{1,54}$")
    alias: str = Field("live", pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
    architecture: Literal["x86_64", "arm64"] = "x86_64"
    timeout_s: int = Field(30, ge=1, le=900)
    ephemeral_storage_mb: int = Field(512, ge=512, le=10_240)
    reserved_concurrency: int | None = Field(None, ge=0)
    provisioned_concurrency: int = Field(0, ge=0)
    log_format: Literal["Text", "JSON"] = "Text"
    log_retention_days: int = 14
    authorization: Literal["AWS_IAM", "JWT"] = "AWS_IAM"
    jwt_issuer: str | None = None
    jwt_audience: tuple[str, ...] = ()
    throttle_rate_limit: float = Field(100.0, gt=0)
    throttle_burst_limit: int = Field(200, gt=0)
    execution_role_arn: str | None = Field(
        None, description="an existing execution role; None creates one for this function"
    )
    execution_role_boundary_arn: str | None = Field(
        None,
        description="the permissions boundary a created execution role carries (Terraform's "
        "deployer.execution_boundary_arn): the deployer role may create roles only under it",
    )

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        check_image(value)
        if not _ECR_IMAGE.match(value):
            raise ValueError(
                f"image {value!r} is not in ECR: Lambda runs images from "
                "<account>.dkr.ecr.<region>.amazonaws.com/<repository>@sha256:<64 hex>"
            )
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"log_retention_days {value} is not one CloudWatch Logs accepts")
        return value

    @field_validator("execution_role_arn")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE_ARN.match(value):
            raise ValueError(f"execution_role_arn {value!r} is not an IAM role ARN")
        return value

    @field_validator("execution_role_boundary_arn")
    @classmethod
    def _boundary(cls, value: str | None) -> str | None:
        if value is not None and not _POLICY_ARN.match(value):
            raise ValueError(f"execution_role_boundary_arn {value!r} is not an IAM policy ARN")
        return value

    @model_validator(mode="after")
    def _jwt_needs_issuer_and_audience(self) -> AwsLambdaConfig:
        if self.authorization == "JWT":
            if not (self.jwt_issuer or "").startswith("https://"):
                raise ValueError("authorization JWT needs jwt_issuer, an https:// URL")
            if not self.jwt_audience:
                raise ValueError("authorization JWT needs at least one jwt_audience")
        return self

    @classmethod
    def from_spec(cls, spec: DeploymentSpec) -> AwsLambdaConfig:
        return validate_knobs(cls, spec.target, spec.platform)

    @property
    def repository(self) -> str:
        match = _ECR_IMAGE.match(self.image)
        assert match is not None  # validated
        return match["repository"]

    @property
    def image_digest(self) -> str:
        return self.image.rsplit("@", 1)[1]

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function_name}"


def function_environment(spec: DeploymentSpec) -> dict[str, str]:
    """The function's environment: the spec's extra variables and a non-default handler.

    The model is baked into the image (ADR 0003), so ``NLP_BENCH_MODEL`` is the image's own.
    """
    variables = dict(spec.env)
    if spec.handler != DEFAULT_HANDLER:
        variables[HANDLER_ENV] = spec.handler
    return variables


def function_fingerprint(config: AwsLambdaConfig, spec: DeploymentSpec, role_arn: str) -> str:
    """A digest of everything that makes a new function version: same digest, nothing to do.

    Kept as a tag on the function, because not every field reads back the way it was written
    (logging config, architectures after an update); the image URI is compared as well.
    """
    desired: dict[str, Any] = {
        "image": config.image,
        "architecture": config.architecture,
        "memory_mb": spec.memory_mb,
        "timeout_s": config.timeout_s,
        "ephemeral_storage_mb": config.ephemeral_storage_mb,
        "log_format": config.log_format,
        "environment": function_environment(spec),
        "role": role_arn,
    }
    text = json.dumps(desired, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
