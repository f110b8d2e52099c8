"""The aws-lambda target's boto3 path end to end against moto in server mode.

Create (image function, Active, alias, HTTP API with an authorised route and a throttled stage,
execution role, log group, expiry tags), idempotent re-deploy, update, teardown.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import parse_expiry
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.deployer import (
    FINGERPRINT_TAG,
    LambdaDeployError,
    WaitPolicy,
)
from nlp_bench_pipeline.targets.aws_lambda.metrics import ReportWait

pytestmark = pytest.mark.slow

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def push_image(clients: AwsClients, repository: str = "nlp-bench-service") -> str:
    """An image in moto's ECR, by digest, as images.yml pushes it."""
    ecr = clients.client("ecr")
    try:
        uri = ecr.create_repository(repositoryName=repository)["repository"]["repositoryUri"]
    except ecr.exceptions.RepositoryAlreadyExistsException:
        uri = ecr.describe_repositories(repositoryNames=[repository])["repositories"][0][
            "repositoryUri"
        ]
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": 7,
            "digest": "sha256:" + "c" * 64,
        },
        "layers": [],
    }
    pushed = ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest))
    return f"{uri}@{pushed['image']['imageId']['imageDigest']}"


def spec(image: str, **platform: Any) -> DeploymentSpec:
    knobs = {"image": image, "function_name": "nlp-bench-test", **platform}
    return DeploymentSpec(target="aws-lambda", memory_mb=2048, platform=knobs)


def target(clients: AwsClients, **kwargs: Any) -> AwsLambdaTarget:
    return AwsLambdaTarget(
        clients,
        owner="bench@example.com",
        wait=WaitPolicy(delay_s=1, max_attempts=10),
        report_wait=ReportWait(max_wait_s=1, settle_s=0.2, poll_s=0.1),
        **kwargs,
    )


@pytest.fixture
def deployed(clients: AwsClients) -> Iterator[tuple[AwsLambdaTarget, DeploymentSpec]]:
    aws = target(clients)
    the_spec = spec(push_image(clients))
    aws.deploy(the_spec)
    yield aws, the_spec
    aws.teardown()


def test_deploy_creates_an_active_image_function_with_an_alias(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    aws, the_spec = deployed
    details = aws.deployment.details
    function = clients.client("lambda").get_function(FunctionName="nlp-bench-test")
    config = function["Configuration"]
    assert (config["PackageType"], config["State"], config["MemorySize"]) == (
        "Image",
        "Active",
        2048,
    )
    assert function["Code"]["ImageUri"] == the_spec.platform["image"]
    alias = clients.client("lambda").get_alias(FunctionName="nlp-bench-test", Name="live")
    assert alias["FunctionVersion"] == details["version"] == "1"
    assert details["path"] == "boto3"
    assert "no Terraform environment" in details["path_reason"]


def test_deploy_puts_an_iam_authorised_route_on_a_throttled_stage(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    aws, _ = deployed
    gateway = clients.client("apigatewayv2")
    api_id = aws.deployment.details["api_id"]
    (route,) = gateway.get_routes(ApiId=api_id)["Items"]
    assert (route["RouteKey"], route["AuthorizationType"]) == ("$default", "AWS_IAM")
    (integration,) = gateway.get_integrations(ApiId=api_id)["Items"]
    assert integration["IntegrationUri"] == aws.deployment.details["alias_arn"]
    assert integration["PayloadFormatVersion"] == "2.0"
    (stage,) = gateway.get_stages(ApiId=api_id)["Items"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] == 100.0
    assert aws.deployment.endpoint == gateway.get_api(ApiId=api_id)["ApiEndpoint"]


def test_every_resource_carries_the_owner_and_an_expiry_in_the_future(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    aws, _ = deployed
    function_arn = aws.deployment.details["function_arn"]
    tags = clients.client("lambda").list_tags(Resource=function_arn)["Tags"]
    api = clients.client("apigatewayv2").get_api(ApiId=aws.deployment.details["api_id"])
    role_tags = clients.client("iam").list_role_tags(RoleName="nlp-bench-test-execution")["Tags"]
    for found in (tags, api["Tags"], {t["Key"]: t["Value"] for t in role_tags}):
        assert found["owner"] == "bench@example.com"
        assert found["managed-by"] == "nlp-bench-pipeline"
        assert found["nlp-bench/deployment"] == aws.deployment.deployment_id
        assert parse_expiry(found["expiry"]) > datetime.now(UTC)


def test_the_execution_role_may_write_only_its_own_log_group(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    iam = clients.client("iam")
    policy = iam.get_role_policy(RoleName="nlp-bench-test-execution", PolicyName="write-own-logs")
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"].endswith(":log-group:/aws/lambda/nlp-bench-test:*")
    groups = clients.client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/nlp-")
    assert groups["logGroups"][0]["retentionInDays"] == 14


def test_the_same_spec_again_changes_nothing(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    aws, the_spec = deployed
    assert aws.deploy(the_spec) is aws.deployment
    again = target(clients).deploy(the_spec)  # another process, same spec
    assert again.details["changes"] == []
    assert again.details["version"] == "1"
    assert again.endpoint == aws.deployment.endpoint


def test_a_changed_spec_publishes_a_version_and_moves_the_alias(
    deployed: tuple[AwsLambdaTarget, DeploymentSpec], clients: AwsClients
) -> None:
    aws, the_spec = deployed
    first = aws.deployment
    bigger = the_spec.model_copy(update={"memory_mb": 3008})
    updated = aws.deploy(bigger)
    assert updated.deployment_id == first.deployment_id
    assert updated.details["version"] == "2"
    assert any("updated (version 2)" in change for change in updated.details["changes"])
    lambda_client = clients.client("lambda")
    assert (
        lambda_client.get_alias(FunctionName="nlp-bench-test", Name="live")["FunctionVersion"]
        == "2"
    )
    config = lambda_client.get_function(FunctionName="nlp-bench-test")["Configuration"]
    assert config["MemorySize"] == 3008
    tags = lambda_client.list_tags(Resource=updated.details["function_arn"])["Tags"]
    assert tags[FINGERPRINT_TAG] != ""
    assert updated.endpoint == first.endpoint


def test_a_created_execution_role_carries_the_boundary_it_is_given(clients: AwsClients) -> None:
    iam = clients.client("iam")
    boundary = iam.create_policy(
        PolicyName="nlp-bench-execution-boundary",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
            }
        ),
    )["Policy"]["Arn"]
    aws = target(clients)
    knobs = {"function_name": "nlp-bench-bounded", "execution_role_boundary_arn": boundary}
    with aws.deployed(spec(push_image(clients), **knobs)):
        role = iam.get_role(RoleName="nlp-bench-bounded-execution")["Role"]
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary


def test_jwt_authorisation_puts_a_jwt_authorizer_on_the_route(clients: AwsClients) -> None:
    aws = target(clients)
    jwt = {
        "authorization": "JWT",
        "jwt_issuer": "https://issuer.example.com",
        "jwt_audience": ["bench"],
        "function_name": "nlp-bench-jwt",
    }
    with aws.deployed(spec(push_image(clients), **jwt)) as deployment:
        gateway = clients.client("apigatewayv2")
        api_id = deployment.details["api_id"]
        (route,) = gateway.get_routes(ApiId=api_id)["Items"]
        authorizer = gateway.get_authorizer(ApiId=api_id, AuthorizerId=route["AuthorizerId"])
    assert route["AuthorizationType"] == "JWT"
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["JwtConfiguration"] == {
        "Issuer": "https://issuer.example.com",
        "Audience": ["bench"],
    }


def test_teardown_removes_what_it_made_and_keeps_the_final_details(clients: AwsClients) -> None:
    aws = target(clients)
    the_spec = spec(push_image(clients), function_name="nlp-bench-gone")
    deployment = aws.deploy(the_spec)
    aws.teardown()
    assert aws.deployment is None
    removed = aws.last_deployment.details["removed"]
    assert removed == [
        f"HTTP API {deployment.details['api_id']}",
        "function nlp-bench-gone",
        "execution role nlp-bench-gone-execution",
        "log group /aws/lambda/nlp-bench-gone",
    ]
    names = [f["FunctionName"] for f in clients.client("lambda").list_functions()["Functions"]]
    assert "nlp-bench-gone" not in names
    assert aws.last_deployment.details["reports"]["reports"] == 0
    aws.teardown()  # a second teardown is a no-op


def test_an_image_that_is_not_in_ecr_fails_before_anything_is_made(clients: AwsClients) -> None:
    image = push_image(clients).rsplit("@", 1)[0] + "@sha256:" + "d" * 64
    with pytest.raises(LambdaDeployError, match="is not in ECR"):
        target(clients).deploy(spec(image, function_name="nlp-bench-missing"))
    names = [f["FunctionName"] for f in clients.client("lambda").list_functions()["Functions"]]
    assert "nlp-bench-missing" not in names


def test_a_spec_for_another_target_or_with_an_unknown_knob_is_refused(clients: AwsClients) -> None:
    aws = target(clients)
    with pytest.raises(ValueError, match="cannot deploy a spec for 'local-lambda'"):
        aws.deploy(DeploymentSpec(target="local-lambda"))
    with pytest.raises(ValueError, match="memory_size"):
        aws.deploy(spec(push_image(clients), memory_size=1))


def test_a_function_terraform_made_is_never_adopted(clients: AwsClients) -> None:
    iam = clients.client("iam")
    role = iam.create_role(RoleName="tf-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    image = push_image(clients)
    clients.client("lambda").create_function(
        FunctionName="nlp-bench-tf",
        PackageType="Image",
        Code={"ImageUri": image},
        Role=role,
        Tags={"project": "nlp-bench", "managed-by": "terraform"},
    )
    with pytest.raises(LambdaDeployError, match="is not the pipeline's \\(managed-by=terraform\\)"):
        target(clients).deploy(spec(image, function_name="nlp-bench-tf"))
    groups = clients.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/lambda/nlp-bench-tf"
    )
    assert groups["logGroups"] == []  # refused before anything was made


def test_another_function_name_tears_the_old_deployment_down_first(clients: AwsClients) -> None:
    aws = target(clients)
    image = push_image(clients)
    first = aws.deploy(spec(image, function_name="nlp-bench-one"))
    second = aws.deploy(spec(image, function_name="nlp-bench-two"))
    assert second.deployment_id != first.deployment_id
    names = {f["FunctionName"] for f in clients.client("lambda").list_functions()["Functions"]}
    assert "nlp-bench-one" not in names
    assert "nlp-bench-two" in names
    aws.teardown()
