"""The Terraform path: ``terraform apply`` the ``lambda_api`` module, then read its outputs.

Used where a terraform binary and an initialised environment exist
(``infra/terraform/envs/bench``); the boto3 deployer otherwise. The function, alias and API are
Terraform's: teardown leaves them to ``terraform destroy`` (and to the expiry guard, which
reports them). Each deployment passes its id in the function's environment, so it publishes a
new version and starts with cold environments, as a fresh boto3 deployment does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.expiry import DeploymentTags
from nlp_bench_pipeline.targets.aws.terraform import TerraformCli, TerraformError
from nlp_bench_pipeline.targets.aws_lambda.config import AwsLambdaConfig, function_environment
from nlp_bench_pipeline.targets.aws_lambda.deployer import LambdaResources

MODULE = "module.lambda_api"
DEPLOYMENT_ENV = "NLP_BENCH_DEPLOYMENT_ID"


def terraform_variables(
    config: AwsLambdaConfig, spec: DeploymentSpec, deployment_id: str
) -> dict[str, Any]:
    """The environment's variables (``infra/terraform/envs/bench/variables.tf``) for a spec."""
    return {
        "service_image": config.image,
        "lambda_architecture": config.architecture,
        "lambda_memory_mb": spec.memory_mb,
        "lambda_timeout_s": config.timeout_s,
        "lambda_reserved_concurrency": config.reserved_concurrency,
        "lambda_provisioned_concurrency": config.provisioned_concurrency,
        "lambda_log_format": config.log_format,
        "lambda_environment": {**function_environment(spec), DEPLOYMENT_ENV: deployment_id},
        "api_authorization": config.authorization,
        "jwt_issuer": config.jwt_issuer,
        "jwt_audience": list(config.jwt_audience),
        "api_throttle_rate_limit": config.throttle_rate_limit,
        "api_throttle_burst_limit": config.throttle_burst_limit,
    }


@dataclass(frozen=True)
class TerraformLambdaDeployer:
    """Applies the spec through Terraform and adopts what its ``lambda`` output names."""

    cli: TerraformCli

    def apply(
        self, config: AwsLambdaConfig, spec: DeploymentSpec, tags: DeploymentTags
    ) -> tuple[LambdaResources, list[str]]:
        self.cli.apply(terraform_variables(config, spec, tags.deployment_id), targets=[MODULE])
        outputs = self.cli.outputs()
        lambda_output = outputs.get("lambda")
        if not lambda_output:
            raise TerraformError(
                f"terraform in {self.cli.directory} has no `lambda` output after apply: "
                "is service_image set?"
            )
        resources = resources_from_outputs(lambda_output, tags=outputs.get("tags") or {})
        return resources, [f"terraform apply -target={MODULE}"]

    def destroy(self, config: AwsLambdaConfig) -> list[str]:
        """Nothing: Terraform owns these resources (``terraform destroy`` removes them)."""
        return []


def resources_from_outputs(output: dict[str, Any], *, tags: dict[str, str]) -> LambdaResources:
    """The ``lambda`` and ``tags`` outputs of ``infra/terraform/envs/bench/outputs.tf``."""
    return LambdaResources(
        function_name=output["function_name"],
        function_arn=output["function_arn"],
        version=str(output["function_version"]),
        alias_name=output["alias_name"],
        alias_arn=output["alias_arn"],
        execution_role_arn=output["execution_role_arn"],
        api_id=output["api_id"],
        api_endpoint=output["api_endpoint"].rstrip("/"),
        api_execution_arn=output["api_execution_arn"],
        authorization=output["authorization"],
        log_group=output["log_group_name"],
        log_format=output["log_format"],
        provisioned_concurrency=int(output.get("provisioned_concurrency") or 0),
        tags=dict(tags),
    )
