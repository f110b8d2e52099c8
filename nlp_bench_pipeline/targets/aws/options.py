"""How the AWS targets are built for the registry: the account side of a deployment.

What differs between deployments (image, memory, concurrency, authorisation) is in the
``DeploymentSpec``; what is the same for every deployment of a run is here: region and
profile (for boto3's default credential chain), who owns it, how long it may live, the
Terraform environment (whose outputs name the EKS cluster, and which deploys Lambda where a
binary exists) and an endpoint for every AWS API (a VPC endpoint; moto in tests). The caller
(the Dagster resource, the CLI) fills these from its settings; nothing here reads any.
"""

from __future__ import annotations

from pathlib import Path

import boto3
from pydantic import Field

from nlp_bench_pipeline.core.records import Frozen
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.terraform import TerraformCli, TerraformError


class AwsSetupError(RuntimeError):
    """Something the AWS targets need is missing; the message says what and where to set it."""


class AwsTargetOptions(Frozen):
    """The account side of the AWS targets; every field has a working default but the image."""

    region: str | None = Field(None, description="None: AWS_REGION or the profile's region")
    profile: str | None = Field(None, description="an AWS profile; None: the default chain")
    owner: str | None = Field(
        None, max_length=256, description="the owner tag; None: the caller's ARN (STS)"
    )
    expiry_hours: float = Field(4.0, gt=0, le=24 * 14, description="each deployment's lifetime")
    project: str = Field("nlp-bench", pattern=r"^[a-z][a-z0-9-]{1,20}$")
    terraform_dir: Path | None = Field(
        None, description="e.g. infra/terraform/envs/bench: outputs, and the Terraform path"
    )
    cluster_name: str | None = Field(None, description="None: Terraform's eks.cluster_name")
    endpoint_url: str | None = Field(None, description="one endpoint for every AWS API")
    lambda_endpoint: str | None = Field(
        None, description="send Lambda load here instead of the API's URL (a custom domain)"
    )

    def clients(self) -> AwsClients:
        session = boto3.Session(profile_name=self.profile, region_name=self.region)
        return AwsClients(session, endpoint_url=self.endpoint_url)

    def terraform(self) -> TerraformCli | None:
        return TerraformCli(self.terraform_dir) if self.terraform_dir is not None else None

    def eks_cluster(self) -> str:
        """The cluster to deploy to: as given, else the Terraform environment's output."""
        if self.cluster_name:
            return self.cluster_name
        terraform = self.terraform()
        if terraform is not None and terraform.available():
            try:
                eks = terraform.outputs().get("eks") or {}
            except TerraformError as exc:
                raise AwsSetupError(
                    f"aws-eks: reading the Terraform outputs failed: {exc}"
                ) from exc
            if eks.get("cluster_name"):
                return str(eks["cluster_name"])
        raise AwsSetupError(
            "aws-eks needs the EKS cluster's name: give the cluster name, or a Terraform "
            "environment (infra/terraform/envs/bench, initialised) whose output eks.cluster_name "
            "names it"
        )
