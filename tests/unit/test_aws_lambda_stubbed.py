"""What moto cannot show, with botocore's Stubber: provisioned concurrency becoming READY or
FAILED, and Lambda's Pending/Failed states behind the waiters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_lambda.config import AwsLambdaConfig
from nlp_bench_pipeline.targets.aws_lambda.deployer import (
    PROVISIONED_TAG,
    LambdaDeployer,
    LambdaDeployError,
    WaitPolicy,
)

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:" + "ab" * 32
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:nlp-bench"
ROLE_ARN = "arn:aws:iam::123456789012:role/nlp-bench/nlp-bench-execution"
QUALIFIED = {"FunctionName": "nlp-bench", "Qualifier": "live"}


@pytest.fixture
def stubbed(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[LambdaDeployer, Stubber, list[float]]]:
    monkeypatch.setattr("botocore.waiter.time.sleep", lambda _: None)  # the waiters' delays
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )
    clients = AwsClients(session)
    slept: list[float] = []
    deployer = LambdaDeployer(
        clients, wait=WaitPolicy(delay_s=1, max_attempts=5), sleep=slept.append
    )
    with Stubber(clients.client("lambda")) as stubber:
        yield deployer, stubber, slept
        stubber.assert_no_pending_responses()


def config(**knobs: Any) -> AwsLambdaConfig:
    return AwsLambdaConfig(image=IMAGE, **knobs)


def provisioned(status: str, requested: int = 2, **extra: Any) -> dict[str, Any]:
    return {"RequestedProvisionedConcurrentExecutions": requested, "Status": status, **extra}


def test_provisioned_concurrency_is_put_on_the_alias_and_waited_until_ready(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, slept = stubbed
    stub.add_response("list_tags", {"Tags": {}}, {"Resource": FUNCTION_ARN})
    stub.add_client_error(
        "get_provisioned_concurrency_config",
        "ProvisionedConcurrencyConfigNotFoundException",
        expected_params=QUALIFIED,
    )
    stub.add_response(
        "put_provisioned_concurrency_config",
        provisioned("IN_PROGRESS"),
        {**QUALIFIED, "ProvisionedConcurrentExecutions": 2},
    )
    stub.add_response(
        "tag_resource", {}, {"Resource": FUNCTION_ARN, "Tags": {PROVISIONED_TAG: "2"}}
    )
    stub.add_response("get_provisioned_concurrency_config", provisioned("IN_PROGRESS"), QUALIFIED)
    stub.add_response("get_provisioned_concurrency_config", provisioned("READY"), QUALIFIED)
    changes: list[str] = []
    deployer.ensure_provisioned_concurrency(
        config(provisioned_concurrency=2), FUNCTION_ARN, changes
    )
    assert changes == ["provisioned concurrency 2 on live"]
    assert slept == [1]


def test_provisioned_concurrency_that_fails_says_why(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    stub.add_response("list_tags", {"Tags": {PROVISIONED_TAG: "2"}}, {"Resource": FUNCTION_ARN})
    reason = "FUNCTION_ERROR_INIT_FAILURE: the function's init failed"
    stub.add_response(
        "get_provisioned_concurrency_config",
        provisioned("FAILED", StatusReason=reason),
        QUALIFIED,
    )
    stub.add_response(
        "get_provisioned_concurrency_config",
        provisioned("FAILED", StatusReason=reason),
        QUALIFIED,
    )
    with pytest.raises(LambdaDeployError, match="FUNCTION_ERROR_INIT_FAILURE"):
        deployer.ensure_provisioned_concurrency(config(provisioned_concurrency=2), FUNCTION_ARN, [])


def test_provisioned_concurrency_an_earlier_spec_made_is_removed(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    stub.add_response("list_tags", {"Tags": {PROVISIONED_TAG: "2"}}, {"Resource": FUNCTION_ARN})
    stub.add_response("delete_provisioned_concurrency_config", {}, QUALIFIED)
    stub.add_response(
        "tag_resource", {}, {"Resource": FUNCTION_ARN, "Tags": {PROVISIONED_TAG: "0"}}
    )
    changes: list[str] = []
    deployer.ensure_provisioned_concurrency(config(), FUNCTION_ARN, changes)
    assert changes == ["provisioned concurrency removed"]


def test_a_spec_that_never_had_provisioned_concurrency_calls_nothing_for_it(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    stub.add_response("list_tags", {"Tags": {}}, {"Resource": FUNCTION_ARN})
    changes: list[str] = []
    deployer.ensure_provisioned_concurrency(config(), FUNCTION_ARN, changes)
    assert changes == []


def function_state(**configuration: Any) -> dict[str, Any]:
    return {"Configuration": {"FunctionName": "nlp-bench", **configuration}}


def test_a_pending_function_is_waited_until_active(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    for state in ("Pending", "Pending", "Active"):
        stub.add_response(
            "get_function", function_state(State=state), {"FunctionName": "nlp-bench"}
        )
    deployer.wait_for("function_active_v2", "nlp-bench")


def test_a_failed_update_stops_the_wait_with_lambdas_reason(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    stub.add_response(
        "get_function", function_state(LastUpdateStatus="InProgress"), {"FunctionName": "nlp-bench"}
    )
    failed = function_state(
        LastUpdateStatus="Failed",
        LastUpdateStatusReason="Lambda does not have permission to access the ECR image.",
        LastUpdateStatusReasonCode="ImageAccessDenied",
    )
    stub.add_response("get_function", failed, {"FunctionName": "nlp-bench"})
    with pytest.raises(LambdaDeployError, match="ImageAccessDenied: Lambda does not have"):
        deployer.wait_for("function_updated_v2", "nlp-bench")


def test_a_function_that_fails_to_create_says_why(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, _ = stubbed
    failed = function_state(
        State="Failed", StateReason="Image is an index", StateReasonCode="ImageIndexNotSupported"
    )
    stub.add_response("get_function", failed, {"FunctionName": "nlp-bench"})
    with pytest.raises(LambdaDeployError, match="ImageIndexNotSupported"):
        deployer.wait_for("function_active_v2", "nlp-bench")


def test_a_create_is_retried_while_a_new_role_has_not_propagated(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, slept = stubbed
    stub.add_client_error(
        "create_function",
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
    stub.add_response(
        "create_function",
        {"FunctionName": "nlp-bench", "FunctionArn": FUNCTION_ARN, "Version": "1"},
        {
            "FunctionName": "nlp-bench",
            "PackageType": "Image",
            "Code": {"ImageUri": IMAGE},
            "Architectures": ["x86_64"],
            "Publish": True,
            "Tags": {},
            "Role": ROLE_ARN,
            "MemorySize": 2048,
            "Timeout": 30,
            "EphemeralStorage": {"Size": 512},
            "Environment": {"Variables": {}},
            "LoggingConfig": {"LogFormat": "Text", "LogGroup": "/aws/lambda/nlp-bench"},
        },
    )
    created = deployer.create_function(
        config(), DeploymentSpec(target="aws-lambda", memory_mb=2048), ROLE_ARN, {}
    )
    assert created["Version"] == "1"
    assert len(slept) == 1


def test_other_create_errors_are_not_retried(
    stubbed: tuple[LambdaDeployer, Stubber, list[float]],
) -> None:
    deployer, stub, slept = stubbed
    stub.add_client_error("create_function", "CodeStorageExceededException", "full", 400)
    with pytest.raises(Exception, match="CodeStorageExceededException"):
        deployer.create_function(config(), DeploymentSpec(target="aws-lambda"), ROLE_ARN, {})
    assert slept == []
