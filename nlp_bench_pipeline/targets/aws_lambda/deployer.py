"""Create, update and delete the function, its alias and its HTTP API with boto3 (no Terraform).

The same resources the Terraform module ``lambda_api`` makes, by the same names: a container
image function, a published version per change, an alias the API invokes (provisioned
concurrency attaches to it), an execution role that may write only its own log group, the log
group with a retention, and an HTTP API (payload 2.0) whose one ``$default`` route requires IAM
or JWT authorisation, on a throttled ``$default`` stage.

Every call is idempotent: :meth:`LambdaDeployer.apply` reads what exists and changes only what
differs, so the same spec twice changes nothing, and a changed one publishes a new version and
moves the alias. Lambda's own state machine is waited out with botocore's waiters
(``function_active_v2`` after a create, ``function_updated_v2`` after each update: a second
update while one is in progress is refused), and provisioned concurrency until ``READY``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError, WaiterError
from pydantic import BaseModel, ConfigDict, Field
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_exponential

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import (
    MANAGED_BY_TAG,
    PIPELINE_MANAGER,
    DeploymentTags,
)
from nlp_bench_pipeline.targets.aws_lambda.config import (
    AwsLambdaConfig,
    function_environment,
    function_fingerprint,
)

FINGERPRINT_TAG = "nlp-bench/config-sha256"
PROVISIONED_TAG = "nlp-bench/provisioned-concurrency"
ROLE_PATH = "/nlp-bench/"
INTEGRATION_TIMEOUT_MS = 30_000  # the HTTP API's maximum, fixed
PERMISSION_ID = "AllowInvokeFromHttpApi"
# Image manifests Lambda refuses: an index (several platforms, or attestations beside the image).
INDEX_MEDIA_TYPES = {
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


class LambdaDeployError(RuntimeError):
    """The deployment cannot proceed; the message says what AWS reported and what to do."""


class WaitPolicy(BaseModel):
    """How long to wait for Lambda's states (botocore waiter delays and attempts)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    delay_s: int = Field(5, ge=1)
    max_attempts: int = Field(120, ge=1, description="× delay_s: 10 minutes by default")
    role_propagation_s: float = Field(
        60.0, ge=0, description="retry a create while IAM has not yet propagated a new role"
    )

    def waiter_config(self) -> dict[str, int]:
        return {"Delay": self.delay_s, "MaxAttempts": self.max_attempts}


@dataclass(frozen=True)
class LambdaResources:
    """What one deployment consists of, as the target's details report it."""

    function_name: str
    function_arn: str
    version: str
    alias_name: str
    alias_arn: str
    execution_role_arn: str
    api_id: str
    api_endpoint: str
    api_execution_arn: str
    authorization: str
    log_group: str
    log_format: str
    provisioned_concurrency: int
    tags: dict[str, str] = field(default_factory=dict)

    def details(self) -> dict[str, Any]:
        return dict(vars(self))


@dataclass
class LambdaDeployer:
    """The boto3 path: applies an :class:`AwsLambdaConfig` and a spec, or removes them."""

    clients: AwsClients
    wait: WaitPolicy = field(default_factory=WaitPolicy)
    sleep: Callable[[float], None] = time.sleep

    @property
    def _lambda(self) -> Any:
        return self.clients.client("lambda")

    # -- apply --------------------------------------------------------------------------------

    def apply(
        self, config: AwsLambdaConfig, spec: DeploymentSpec, tags: DeploymentTags
    ) -> tuple[LambdaResources, list[str]]:
        """Make the deployment match; returns it and what changed (empty: nothing did)."""
        changes: list[str] = []
        aws_tags = tags.aws()
        self.check_image(config)
        existing = self._get_function(config.function_name)
        if existing is not None:  # before anything is made: never adopt another's function
            claim(existing.get("Tags", {}), "function", config.function_name)
        account = self._account()
        log_group_arn = self._ensure_log_group(config, aws_tags, changes)
        role_arn = config.execution_role_arn or self._ensure_role(
            config, log_group_arn, aws_tags, changes
        )
        function_arn, version = self._ensure_function(config, spec, role_arn, aws_tags, changes)
        alias_arn = self._ensure_alias(config, version, changes)
        self._ensure_reserved_concurrency(config, changes)
        self.ensure_provisioned_concurrency(config, function_arn, changes)
        api_id, api_endpoint = self._ensure_api(config, alias_arn, aws_tags, changes)
        execution_arn = (
            f"arn:{self._partition()}:execute-api:{self.clients.region}:{account}:{api_id}"
        )
        self._ensure_permission(config, execution_arn, changes)
        resources = LambdaResources(
            function_name=config.function_name,
            function_arn=function_arn,
            version=version,
            alias_name=config.alias,
            alias_arn=alias_arn,
            execution_role_arn=role_arn,
            api_id=api_id,
            api_endpoint=api_endpoint,
            api_execution_arn=execution_arn,
            authorization=config.authorization,
            log_group=config.log_group,
            log_format=config.log_format,
            provisioned_concurrency=config.provisioned_concurrency,
            tags=aws_tags,
        )
        return resources, changes

    def check_image(self, config: AwsLambdaConfig) -> None:
        """The image exists in ECR and is a single-platform manifest Lambda accepts."""
        ecr = self.clients.client("ecr")
        try:
            found = ecr.describe_images(
                repositoryName=config.repository, imageIds=[{"imageDigest": config.image_digest}]
            )["imageDetails"]
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("ImageNotFoundException", "RepositoryNotFoundException"):
                raise LambdaDeployError(
                    f"image {config.image} is not in ECR ({code}): push it first and deploy "
                    "by its digest (docs/deploy-aws.md, step 2)"
                ) from None
            raise
        media_type = found[0].get("imageManifestMediaType") if found else None
        if media_type in INDEX_MEDIA_TYPES:
            raise LambdaDeployError(
                f"image {config.image} is an image index ({media_type}); Lambda refuses indexes: "
                "build one platform with --provenance=false --sbom=false"
            )

    def _ensure_log_group(
        self, config: AwsLambdaConfig, tags: dict[str, str], changes: list[str]
    ) -> str:
        logs = self.clients.client("logs")
        groups = logs.describe_log_groups(logGroupNamePrefix=config.log_group)["logGroups"]
        group = next((g for g in groups if g["logGroupName"] == config.log_group), None)
        if group is None:
            logs.create_log_group(logGroupName=config.log_group, tags=tags)
            changes.append(f"log group {config.log_group} created")
            groups = logs.describe_log_groups(logGroupNamePrefix=config.log_group)["logGroups"]
            group = next(g for g in groups if g["logGroupName"] == config.log_group)
        else:  # this deployment's id and expiry, on a group the pipeline made
            arn = str(group["arn"]).removesuffix(":*")
            claim(
                logs.list_tags_for_resource(resourceArn=arn).get("tags", {}),
                "log group",
                config.log_group,
            )
            logs.tag_resource(resourceArn=arn, tags=tags)
        if group.get("retentionInDays") != config.log_retention_days:
            logs.put_retention_policy(
                logGroupName=config.log_group, retentionInDays=config.log_retention_days
            )
            changes.append(f"log retention {config.log_retention_days} days")
        return str(group["arn"]).removesuffix(":*")

    def _ensure_role(
        self,
        config: AwsLambdaConfig,
        log_group_arn: str,
        tags: dict[str, str],
        changes: list[str],
    ) -> str:
        iam = self.clients.client("iam")
        name = role_name(config)
        try:
            arn = iam.get_role(RoleName=name)["Role"]["Arn"]
            existing = role_tags(iam, name)
            claim(existing, "execution role", name)
            iam.tag_role(RoleName=name, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "NoSuchEntity":
                raise
            # The deployer role may create a role only under the logs-only boundary Terraform
            # made (else CreateRole + PutRolePolicy would let it mint an administrator).
            boundary = config.execution_role_boundary_arn
            arn = iam.create_role(
                RoleName=name,
                Path=ROLE_PATH,
                Description=f"Lambda {config.function_name}: write its own log group, nothing else",
                AssumeRolePolicyDocument=json.dumps(LAMBDA_TRUST),
                Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
                **({"PermissionsBoundary": boundary} if boundary else {}),
            )["Role"]["Arn"]
            changes.append(f"execution role {name} created")
        # Its only AWS call is its own logging; the group exists, so no CreateLogGroup either.
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": f"{log_group_arn}:*",
                }
            ],
        }
        iam.put_role_policy(
            RoleName=name, PolicyName="write-own-logs", PolicyDocument=json.dumps(policy)
        )
        return str(arn)

    def _ensure_function(
        self,
        config: AwsLambdaConfig,
        spec: DeploymentSpec,
        role_arn: str,
        tags: dict[str, str],
        changes: list[str],
    ) -> tuple[str, str]:
        fingerprint = function_fingerprint(config, spec, role_arn)
        current = self._get_function(config.function_name)
        if current is None:
            created = self.create_function(
                config, spec, role_arn, {**tags, FINGERPRINT_TAG: fingerprint}
            )
            self.wait_for("function_active_v2", config.function_name)
            changes.append(
                f"function {config.function_name} created (version {created['Version']})"
            )
            return str(created["FunctionArn"]), str(created["Version"])
        function_arn = str(current["Configuration"]["FunctionArn"])
        unchanged = (
            current.get("Tags", {}).get(FINGERPRINT_TAG) == fingerprint
            and current["Code"].get("ImageUri") == config.image
        )
        if unchanged:
            self._lambda.tag_resource(Resource=function_arn, Tags=tags)
            version = self._alias_version(config) or self._publish(config.function_name)
            return function_arn, version
        self.wait_for("function_updated_v2", config.function_name)  # one update at a time
        self._lambda.update_function_code(
            FunctionName=config.function_name,
            ImageUri=config.image,
            Architectures=[config.architecture],
        )
        self.wait_for("function_updated_v2", config.function_name)
        self._lambda.update_function_configuration(
            FunctionName=config.function_name, **self._configuration(config, spec, role_arn)
        )
        self.wait_for("function_updated_v2", config.function_name)
        version = self._publish(config.function_name)
        self._lambda.tag_resource(
            Resource=function_arn, Tags={**tags, FINGERPRINT_TAG: fingerprint}
        )
        changes.append(f"function {config.function_name} updated (version {version})")
        return function_arn, version

    def create_function(
        self, config: AwsLambdaConfig, spec: DeploymentSpec, role_arn: str, tags: dict[str, str]
    ) -> dict[str, Any]:
        def role_not_ready(exc: BaseException) -> bool:
            # A role IAM has just made is not assumable everywhere for a few seconds.
            return (
                isinstance(exc, ClientError)
                and exc.response["Error"]["Code"] == "InvalidParameterValueException"
                and "cannot be assumed" in str(exc)
            )

        retrying = Retrying(
            retry=retry_if_exception(role_not_ready),
            stop=stop_after_delay(self.wait.role_propagation_s),
            wait=wait_exponential(multiplier=1, max=10),
            sleep=self.sleep,
            reraise=True,
        )
        return retrying(
            self._lambda.create_function,
            FunctionName=config.function_name,
            PackageType="Image",
            Code={"ImageUri": config.image},
            Architectures=[config.architecture],
            Publish=True,
            Tags=tags,
            **self._configuration(config, spec, role_arn),
        )

    @staticmethod
    def _configuration(
        config: AwsLambdaConfig, spec: DeploymentSpec, role_arn: str
    ) -> dict[str, Any]:
        return {
            "Role": role_arn,
            "MemorySize": spec.memory_mb,
            "Timeout": config.timeout_s,
            "EphemeralStorage": {"Size": config.ephemeral_storage_mb},
            "Environment": {"Variables": function_environment(spec)},
            "LoggingConfig": {"LogFormat": config.log_format, "LogGroup": config.log_group},
        }

    def _get_function(self, name: str) -> dict[str, Any] | None:
        try:
            return self._lambda.get_function(FunctionName=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise

    def _publish(self, name: str) -> str:
        version = str(self._lambda.publish_version(FunctionName=name)["Version"])
        self.wait_for("published_version_active", name, qualifier=version)
        return version

    def _alias_version(self, config: AwsLambdaConfig) -> str | None:
        try:
            alias = self._lambda.get_alias(FunctionName=config.function_name, Name=config.alias)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        return str(alias["FunctionVersion"])

    def _ensure_alias(self, config: AwsLambdaConfig, version: str, changes: list[str]) -> str:
        current = self._alias_version(config)
        if current is None:
            alias = self._lambda.create_alias(
                FunctionName=config.function_name,
                Name=config.alias,
                FunctionVersion=version,
                Description="What the HTTP API invokes",
            )
            changes.append(f"alias {config.alias} → version {version}")
            return str(alias["AliasArn"])
        if current != version:
            alias = self._lambda.update_alias(
                FunctionName=config.function_name, Name=config.alias, FunctionVersion=version
            )
            changes.append(f"alias {config.alias} → version {version} (was {current})")
            return str(alias["AliasArn"])
        alias = self._lambda.get_alias(FunctionName=config.function_name, Name=config.alias)
        return str(alias["AliasArn"])

    def _ensure_reserved_concurrency(self, config: AwsLambdaConfig, changes: list[str]) -> None:
        current = self._lambda.get_function_concurrency(FunctionName=config.function_name).get(
            "ReservedConcurrentExecutions"
        )
        if current == config.reserved_concurrency:
            return
        if config.reserved_concurrency is None:
            self._lambda.delete_function_concurrency(FunctionName=config.function_name)
            changes.append("reserved concurrency removed")
        else:
            self._lambda.put_function_concurrency(
                FunctionName=config.function_name,
                ReservedConcurrentExecutions=config.reserved_concurrency,
            )
            changes.append(f"reserved concurrency {config.reserved_concurrency}")

    def ensure_provisioned_concurrency(
        self, config: AwsLambdaConfig, function_arn: str, changes: list[str]
    ) -> None:
        """Provisioned concurrency on the alias, READY before ``apply`` returns.

        Whether the alias has any is kept as a tag on the function, so a spec without it
        removes what an earlier spec provisioned, and one that never had any calls nothing.
        """
        wanted = config.provisioned_concurrency
        tags = self._lambda.list_tags(Resource=function_arn).get("Tags", {})
        had = int(tags.get(PROVISIONED_TAG, "0"))
        if wanted == 0:
            if had:
                self._lambda.delete_provisioned_concurrency_config(
                    FunctionName=config.function_name, Qualifier=config.alias
                )
                self._lambda.tag_resource(Resource=function_arn, Tags={PROVISIONED_TAG: "0"})
                changes.append("provisioned concurrency removed")
            return
        current = self._provisioned(config)
        if current is None or current["RequestedProvisionedConcurrentExecutions"] != wanted:
            self._lambda.put_provisioned_concurrency_config(
                FunctionName=config.function_name,
                Qualifier=config.alias,
                ProvisionedConcurrentExecutions=wanted,
            )
            self._lambda.tag_resource(Resource=function_arn, Tags={PROVISIONED_TAG: str(wanted)})
            changes.append(f"provisioned concurrency {wanted} on {config.alias}")
        self._wait_provisioned_ready(config)

    def _provisioned(self, config: AwsLambdaConfig) -> dict[str, Any] | None:
        try:
            return self._lambda.get_provisioned_concurrency_config(
                FunctionName=config.function_name, Qualifier=config.alias
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ProvisionedConcurrencyConfigNotFoundException":
                return None
            raise

    def _wait_provisioned_ready(self, config: AwsLambdaConfig) -> None:
        """Poll until READY: botocore has no waiter for it; FAILED says why (a quota, an init)."""
        for _ in range(self.wait.max_attempts):
            status = self._provisioned(config) or {}
            if status.get("Status") == "READY":
                return
            if status.get("Status") == "FAILED":
                raise LambdaDeployError(
                    f"provisioned concurrency on {config.function_name}:{config.alias} failed: "
                    f"{status.get('StatusReason', 'no reason given')}"
                )
            self.sleep(self.wait.delay_s)
        raise LambdaDeployError(
            f"provisioned concurrency on {config.function_name}:{config.alias} not READY after "
            f"{self.wait.delay_s * self.wait.max_attempts} s"
        )

    def _ensure_api(
        self, config: AwsLambdaConfig, alias_arn: str, tags: dict[str, str], changes: list[str]
    ) -> tuple[str, str]:
        gateway = self.clients.client("apigatewayv2")
        api = find_api(gateway, config.function_name)
        if api is None:
            api = gateway.create_api(
                Name=config.function_name,
                ProtocolType="HTTP",
                Description=f"nlp-bench service on Lambda ({config.authorization} authorisation)",
                Tags=tags,
            )
            changes.append(f"HTTP API {api['ApiId']} created")
        else:
            gateway.tag_resource(ResourceArn=self._api_arn(str(api["ApiId"])), Tags=tags)
        api_id = str(api["ApiId"])
        integration_id = self._ensure_integration(gateway, api_id, alias_arn, changes)
        authorizer_id = self._ensure_authorizer(gateway, api_id, config, changes)
        self._ensure_route(gateway, api_id, integration_id, config, authorizer_id, changes)
        self._ensure_stage(gateway, api_id, config, changes)
        return api_id, str(api["ApiEndpoint"])

    @staticmethod
    def _ensure_integration(gateway: Any, api_id: str, alias_arn: str, changes: list[str]) -> str:
        for integration in gateway_items(gateway.get_integrations, ApiId=api_id):
            if integration.get("IntegrationUri") == alias_arn:
                return str(integration["IntegrationId"])
        created = gateway.create_integration(
            ApiId=api_id,
            IntegrationType="AWS_PROXY",
            IntegrationMethod="POST",
            IntegrationUri=alias_arn,
            PayloadFormatVersion="2.0",
            TimeoutInMillis=INTEGRATION_TIMEOUT_MS,
        )
        changes.append("Lambda integration created")
        return str(created["IntegrationId"])

    @staticmethod
    def _ensure_authorizer(
        gateway: Any, api_id: str, config: AwsLambdaConfig, changes: list[str]
    ) -> str | None:
        """The JWT authorizer, found through the route that uses it (one per API)."""
        if config.authorization != "JWT":
            return None
        jwt = {"Issuer": config.jwt_issuer, "Audience": list(config.jwt_audience)}
        route = _default_route(gateway, api_id)
        if route is not None and route.get("AuthorizerId"):
            authorizer_id = str(route["AuthorizerId"])
            current = gateway.get_authorizer(ApiId=api_id, AuthorizerId=authorizer_id)
            if current.get("JwtConfiguration") != jwt:
                gateway.update_authorizer(
                    ApiId=api_id, AuthorizerId=authorizer_id, JwtConfiguration=jwt
                )
                changes.append("JWT authorizer updated")
            return authorizer_id
        created = gateway.create_authorizer(
            ApiId=api_id,
            AuthorizerType="JWT",
            Name=f"{config.function_name}-jwt",
            IdentitySource=["$request.header.Authorization"],
            JwtConfiguration=jwt,
        )
        changes.append("JWT authorizer created")
        return str(created["AuthorizerId"])

    @staticmethod
    def _ensure_route(
        gateway: Any,
        api_id: str,
        integration_id: str,
        config: AwsLambdaConfig,
        authorizer_id: str | None,
        changes: list[str],
    ) -> None:
        # One catch-all route, authorised: /predict, /readyz, /healthz reach the app.
        wanted: dict[str, Any] = {
            "Target": f"integrations/{integration_id}",
            "AuthorizationType": config.authorization,
        }
        if authorizer_id is not None:
            wanted["AuthorizerId"] = authorizer_id
        route = _default_route(gateway, api_id)
        if route is not None:
            current = {k: route.get(k) for k in wanted}
            if current != wanted or (authorizer_id is None and route.get("AuthorizerId")):
                gateway.update_route(ApiId=api_id, RouteId=route["RouteId"], **wanted)
                changes.append(f"route $default: {config.authorization}")
            return
        gateway.create_route(ApiId=api_id, RouteKey="$default", **wanted)
        changes.append(f"route $default created ({config.authorization})")

    @staticmethod
    def _ensure_stage(
        gateway: Any, api_id: str, config: AwsLambdaConfig, changes: list[str]
    ) -> None:
        settings = {
            "ThrottlingRateLimit": config.throttle_rate_limit,
            "ThrottlingBurstLimit": config.throttle_burst_limit,
            "DetailedMetricsEnabled": True,
        }
        for stage in gateway_items(gateway.get_stages, ApiId=api_id):
            if stage["StageName"] == "$default":
                current = {k: stage.get("DefaultRouteSettings", {}).get(k) for k in settings}
                if current != settings:
                    gateway.update_stage(
                        ApiId=api_id, StageName="$default", DefaultRouteSettings=settings
                    )
                    changes.append("stage throttling updated")
                return
        gateway.create_stage(
            ApiId=api_id, StageName="$default", AutoDeploy=True, DefaultRouteSettings=settings
        )
        changes.append("stage $default created")

    def _ensure_permission(
        self, config: AwsLambdaConfig, execution_arn: str, changes: list[str]
    ) -> None:
        """API Gateway may invoke the alias, from this API only (no other API in the account)."""
        source_arn = f"{execution_arn}/*"
        statement = self._permission(config)
        if statement is not None:
            condition = statement.get("Condition", {}).get("ArnLike", {})
            if condition.get("AWS:SourceArn") == source_arn:
                return
            self._lambda.remove_permission(
                FunctionName=config.function_name, Qualifier=config.alias, StatementId=PERMISSION_ID
            )
        self._lambda.add_permission(
            FunctionName=config.function_name,
            Qualifier=config.alias,
            StatementId=PERMISSION_ID,
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=source_arn,
        )
        changes.append("API Gateway may invoke the alias")

    def _permission(self, config: AwsLambdaConfig) -> dict[str, Any] | None:
        try:
            policy = self._lambda.get_policy(
                FunctionName=config.function_name, Qualifier=config.alias
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return None
            raise
        statements = json.loads(policy["Policy"]).get("Statement", [])
        return next((s for s in statements if s.get("Sid") == PERMISSION_ID), None)

    # -- remove -------------------------------------------------------------------------------

    def destroy(self, config: AwsLambdaConfig) -> list[str]:
        """Delete the API, the function (versions, alias and provisioned concurrency with it),
        the role it created and its log group; one line per thing removed.

        Only what carries the pipeline's ``managed-by`` tag: a function or API of the same name
        that Terraform or a person made is left alone.
        """
        removed: list[str] = []
        gateway = self.clients.client("apigatewayv2")
        api = find_api(gateway, config.function_name)
        if api is not None:
            gateway.delete_api(ApiId=api["ApiId"])
            removed.append(f"HTTP API {api['ApiId']}")
        function = self._get_function(config.function_name)
        if function is not None and _owned(function.get("Tags", {})):
            self._lambda.delete_function(FunctionName=config.function_name)
            removed.append(f"function {config.function_name}")
        if config.execution_role_arn is None:
            removed += delete_role(self.clients.client("iam"), role_name(config))
        removed += delete_log_group(self.clients.client("logs"), config.log_group)
        return removed

    # -- plumbing -----------------------------------------------------------------------------

    def wait_for(self, waiter: str, name: str, *, qualifier: str | None = None) -> None:
        args: dict[str, Any] = {"FunctionName": name}
        if qualifier is not None:
            args["Qualifier"] = qualifier
        try:
            self._lambda.get_waiter(waiter).wait(**args, WaiterConfig=self.wait.waiter_config())
        except WaiterError as exc:
            configuration = exc.last_response.get("Configuration", exc.last_response)
            reason = configuration.get("LastUpdateStatusReason") or configuration.get("StateReason")
            code = configuration.get("LastUpdateStatusReasonCode") or configuration.get(
                "StateReasonCode"
            )
            raise LambdaDeployError(
                f"function {name} did not become ready ({waiter}): "
                f"{code or 'no reason code'}: {reason or exc}"
            ) from None

    def _account(self) -> str:
        return str(self.clients.client("sts").get_caller_identity()["Account"])

    def _partition(self) -> str:
        return self.clients.session.get_partition_for_region(self.clients.region)

    def _api_arn(self, api_id: str) -> str:
        return f"arn:{self._partition()}:apigateway:{self.clients.region}::/apis/{api_id}"


def claim(tags: dict[str, str], what: str, name: str) -> None:
    """Refuse to adopt a resource someone else manages (Terraform's function of the same name):
    updating it would drift Terraform's state, and a teardown would delete it."""
    owner = tags.get(MANAGED_BY_TAG)
    if owner != PIPELINE_MANAGER:
        raise LambdaDeployError(
            f"{what} {name} exists and is not the pipeline's (managed-by={owner}): deploy with "
            "the Terraform path, or choose another function_name"
        )


def role_name(config: AwsLambdaConfig) -> str:
    return f"{config.function_name}-execution"


def role_tags(iam: Any, name: str) -> dict[str, str]:
    """An IAM role's tags as a mapping (IAM answers a list of Key and Value pairs)."""
    return {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}


def find_api(gateway: Any, name: str) -> dict[str, Any] | None:
    """The pipeline's HTTP API of this name (one made by Terraform or by hand is left alone)."""
    for api in gateway_items(gateway.get_apis):
        tags = api.get("Tags", {})
        if api["Name"] == name and tags.get(MANAGED_BY_TAG) == PIPELINE_MANAGER:
            return api
    return None


def delete_role(iam: Any, name: str) -> list[str]:
    """Remove an execution role the pipeline made (its inline policies first)."""
    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "NoSuchEntity":
            return []
        raise
    tags = role_tags(iam, name)
    if role.get("Path") != ROLE_PATH or not _owned(tags):
        return []
    for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    iam.delete_role(RoleName=name)
    return [f"execution role {name}"]


def delete_log_group(logs: Any, name: str) -> list[str]:
    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    group = next((g for g in groups if g["logGroupName"] == name), None)
    if group is None:
        return []
    tags = logs.list_tags_for_resource(resourceArn=str(group["arn"]).removesuffix(":*"))["tags"]
    if not _owned(tags):
        return []
    logs.delete_log_group(logGroupName=name)
    return [f"log group {name}"]


def _owned(tags: dict[str, str]) -> bool:
    return tags.get(MANAGED_BY_TAG) == PIPELINE_MANAGER


def _default_route(gateway: Any, api_id: str) -> dict[str, Any] | None:
    return next(
        (r for r in gateway_items(gateway.get_routes, ApiId=api_id) if r["RouteKey"] == "$default"),
        None,
    )


def gateway_items(
    operation: Callable[..., dict[str, Any]], **args: Any
) -> Iterator[dict[str, Any]]:
    """Every item of an API Gateway v2 list call, following NextToken (it has no paginators)."""
    token: str | None = None
    while True:
        page = operation(**args, **({"NextToken": token} if token else {}))
        yield from page.get("Items", [])
        token = page.get("NextToken")
        if not token:
            return
