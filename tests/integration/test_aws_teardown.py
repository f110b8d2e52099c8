"""The expiry guard on moto and the fake cluster: what outlived its expiry is found and removed,
Terraform's is only reported, and ``nlp-bench teardown`` says so one line per resource."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nlp_bench_pipeline.cli import teardown
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.guard import expired_deployments, teardown_expired
from nlp_bench_pipeline.targets.aws_eks.rollout import Poll
from nlp_bench_pipeline.targets.aws_eks.sweeper import EksSweeper
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.deployer import WaitPolicy
from nlp_bench_pipeline.targets.aws_lambda.metrics import ReportWait
from nlp_bench_pipeline.targets.aws_lambda.sweeper import LambdaSweeper
from tests.fixtures.apigw_standin import moto_server
from tests.fixtures.fake_kubernetes import FakeKubernetes
from tests.integration.test_aws_eks_deploy import CLUSTER, eks
from tests.integration.test_aws_eks_deploy import spec as eks_spec
from tests.integration.test_aws_lambda_deploy import push_image

pytestmark = pytest.mark.slow

HOURS_AGO = 5.0  # deployed this long ago with the default 4 h expiry: expired an hour ago


@pytest.fixture
def moto_url() -> Iterator[str]:
    """A moto server a test: each starts from an empty account, as the guard lists all of it."""
    with moto_server() as url:
        yield url


def lambda_deployment(clients: AwsClients, name: str, *, hours_ago: float = 0.0) -> None:
    """A deployment made ``hours_ago``: its expiry is four hours after that."""
    target = AwsLambdaTarget(
        clients,
        owner="bench@example.com",
        wait=WaitPolicy(delay_s=1, max_attempts=10),
        report_wait=ReportWait(max_wait_s=0, settle_s=0),
        now=lambda: datetime.now(UTC) - timedelta(hours=hours_ago),
    )
    image = push_image(clients)
    target.deploy(
        DeploymentSpec(target="aws-lambda", platform={"image": image, "function_name": name})
    )


def terraform_function(clients: AwsClients) -> None:
    """A function Terraform made (its default tags), long expired."""
    iam = clients.client("iam")
    role = iam.create_role(RoleName="tf-execution", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    clients.client("lambda").create_function(
        FunctionName="nlp-bench-terraform",
        PackageType="Image",
        Code={"ImageUri": push_image(clients)},
        Role=role,
        Tags={
            "project": "nlp-bench",
            "owner": "ops",
            "expiry": "2026-01-01T00:00:00Z",
            "managed-by": "terraform",
        },
    )


def function_names(clients: AwsClients) -> set[str]:
    return {f["FunctionName"] for f in clients.client("lambda").list_functions()["Functions"]}


def test_what_outlived_its_expiry_is_found_in_removal_order(clients: AwsClients) -> None:
    lambda_deployment(clients, "nlp-bench-old", hours_ago=HOURS_AGO)
    lambda_deployment(clients, "nlp-bench-live")
    terraform_function(clients)
    found = expired_deployments([LambdaSweeper(clients)], now=datetime.now(UTC))
    described = [(r.kind, r.name, r.managed_by) for r in found]
    assert [kind for kind, _, _ in described] == [
        "HTTP API",
        "Lambda function",
        "Lambda function",
        "IAM role",
        "log group",
    ]
    names = {name for _, name, _ in described}
    assert {
        "nlp-bench-old",
        "nlp-bench-terraform",
        "nlp-bench-old-execution",
        "/aws/lambda/nlp-bench-old",
    } <= names
    assert not any("live" in name for name in names)
    everything = expired_deployments(
        [LambdaSweeper(clients)], now=datetime.now(UTC), everything=True
    )
    assert any(r.name == "nlp-bench-live" for r in everything)


def test_teardown_removes_the_pipelines_expired_deployments_and_reports_terraforms(
    clients: AwsClients,
) -> None:
    lambda_deployment(clients, "nlp-bench-old", hours_ago=HOURS_AGO)
    lambda_deployment(clients, "nlp-bench-live")
    terraform_function(clients)
    sweepers = [LambdaSweeper(clients)]
    found = expired_deployments(sweepers, now=datetime.now(UTC))
    dry = teardown_expired(sweepers, found, dry_run=True)
    assert {r.action for r in dry} == {"would remove", "left"}
    assert "nlp-bench-old" in function_names(clients)
    results = teardown_expired(sweepers, found)
    actions = {(r.resource.name, r.action) for r in results}
    assert ("nlp-bench-old", "removed") in actions
    assert ("nlp-bench-terraform", "left") in actions
    assert function_names(clients) == {"nlp-bench-live", "nlp-bench-terraform"}
    left = next(r for r in results if r.action == "left")
    assert "terraform destroy" in left.line()


def test_an_expired_eks_namespace_goes_with_its_ingress_first(
    clients: AwsClients, moto_url: str, tmp_path: Path
) -> None:
    with FakeKubernetes(cluster_name=CLUSTER, sts_endpoint=moto_url) as fake:
        old = eks(clients, fake, tmp_path, now=lambda: datetime.now(UTC) - timedelta(hours=5))
        old.deploy(eks_spec())
        sweeper = EksSweeper(old._api(), CLUSTER, Poll(timeout_s=10, interval_s=0.05))
        (namespace,) = expired_deployments([sweeper], now=datetime.now(UTC))
        assert (namespace.kind, namespace.name) == ("EKS namespace", "nlp-bench")
        assert namespace.deployment_id == old.deployment.deployment_id
        before = len(fake.requests)
        (result,) = teardown_expired([sweeper], [namespace])
        deletes = [p for m, p, _ in fake.requests[before:] if m == "DELETE"]
    assert result.action == "removed"
    assert "/ingresses/" in deletes[0]
    assert deletes[-1] == "/api/v1/namespaces/nlp-bench"
    assert fake.objects == {}


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="nlp-bench")
    teardown.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["teardown", *argv])
    return args.handler(args)


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """moto's dummy keys through the default chain's environment step (no files)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))


@pytest.mark.usefixtures("credentials")
def test_the_command_prints_one_line_per_resource_and_a_count(
    clients: AwsClients, moto_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    lambda_deployment(clients, "nlp-bench-old", hours_ago=HOURS_AGO)
    code = run_cli(
        "--region",
        "us-east-1",
        "--endpoint-url",
        moto_url,
        "--terraform-dir",
        str(tmp_path),
        "--dry-run",
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out[0].startswith("EKS: no cluster given")
    assert sum(line.startswith("would remove") for line in out) == 4
    assert out[-1] == "us-east-1, past their expiry: 4 would remove"
    assert "nlp-bench-old" in function_names(clients)
    assert (
        run_cli(
            "--region", "us-east-1", "--endpoint-url", moto_url, "--terraform-dir", str(tmp_path)
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[-1] == "us-east-1, past their expiry: 4 removed"
    assert "nlp-bench-old" not in function_names(clients)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--all", "--expired"], "--all and --expired are exclusive"),
        (["--region", "moon-1"], "--region 'moon-1' is not an AWS region name"),
        (["--project", "Bad Name"], "--project 'Bad Name' is not a project tag"),
        (["--terraform-dir", "/no/such/dir"], "--terraform-dir /no/such/dir is not a directory"),
    ],
)
@pytest.mark.usefixtures("credentials")
def test_a_bad_option_is_one_line_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(*argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err


def test_no_credentials_in_the_default_chain_is_one_line_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert run_cli("--region", "us-east-1") == 2
    err = capsys.readouterr().err
    assert err.startswith("nlp-bench teardown: no AWS credentials in the default chain")
    assert err.count("\n") == 1
