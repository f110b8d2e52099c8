"""The aws-lambda target's Terraform path: where a terraform binary and an initialised
environment exist, the deployment is `terraform apply -target=module.lambda_api` with the spec as
variables and comes from the outputs; without them the boto3 path runs and says why.

The machine has no terraform binary: a stand-in on the PATH records its arguments and answers
`output -json` as the environment's outputs.tf would (the Lambda resources themselves in moto).
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.terraform import TerraformCli, TerraformError
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.deployer import WaitPolicy
from nlp_bench_pipeline.targets.aws_lambda.metrics import ReportWait
from tests.fixtures.apigw_standin import moto_server, moto_session
from tests.integration.test_aws_lambda_deploy import push_image

pytestmark = pytest.mark.slow

FAKE_TERRAFORM = """#!{python}
import json, pathlib, sys
here = pathlib.Path({state!r})
args = sys.argv[1:]
with (here / "calls.jsonl").open("a") as log:
    log.write(json.dumps(args) + "\\n")
if "apply" in args:
    var_file = next(a.split("=", 1)[1] for a in args if a.startswith("-var-file="))
    chdir = next(a.split("=", 1)[1] for a in args if a.startswith("-chdir="))
    (here / "vars.json").write_text((pathlib.Path(chdir) / var_file).read_text())
    if (here / "fail").exists():
        print("Error: creating Lambda Function: AccessDeniedException", file=sys.stderr)
        sys.exit(1)
elif "output" in args:
    print((here / "outputs.json").read_text())
"""


def lambda_output(function_name: str, api_endpoint: str) -> dict[str, Any]:
    arn = f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
    return {
        "function_name": function_name,
        "function_arn": arn,
        "function_version": "3",
        "alias_name": "live",
        "alias_arn": f"{arn}:live",
        "execution_role_arn": "arn:aws:iam::123456789012:role/nlp-bench-execution",
        "api_id": "abc123",
        "api_endpoint": api_endpoint,
        "api_execution_arn": "arn:aws:execute-api:us-east-1:123456789012:abc123",
        "authorization": "AWS_IAM",
        "log_group_name": f"/aws/lambda/{function_name}",
        "log_format": "JSON",
        "provisioned_concurrency": 0,
    }


@pytest.fixture
def terraform(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(an initialised environment directory, the stand-in's state directory)."""
    env_dir, state, bin_dir = tmp_path / "envs" / "bench", tmp_path / "state", tmp_path / "bin"
    for folder in (env_dir / ".terraform", state, bin_dir):
        folder.mkdir(parents=True)
    binary = bin_dir / "terraform"
    binary.write_text(FAKE_TERRAFORM.format(python=sys.executable, state=str(state)))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    tags = {
        "project": "nlp-bench",
        "owner": "ops",
        "expiry": "2026-12-24T18:00:00Z",
        "managed-by": "terraform",
    }
    outputs = {
        "lambda": {
            "value": lambda_output(
                "nlp-bench", "https://abc123.execute-api.us-east-1.amazonaws.com/"
            )
        },
        "tags": {"value": tags},
        "region": {"value": "us-east-1"},
    }
    (state / "outputs.json").write_text(json.dumps(outputs))
    return env_dir, state


@pytest.fixture
def clients() -> Iterator[AwsClients]:
    with moto_server() as url:
        yield AwsClients(moto_session(), endpoint_url=url)


def target(clients: AwsClients, env_dir: Path) -> AwsLambdaTarget:
    return AwsLambdaTarget(
        clients,
        owner="ops",
        terraform=TerraformCli(env_dir),
        wait=WaitPolicy(delay_s=1, max_attempts=5),
        report_wait=ReportWait(max_wait_s=0, settle_s=0),
    )


def test_with_terraform_the_deployment_comes_from_its_apply_and_outputs(
    clients: AwsClients, terraform: tuple[Path, Path]
) -> None:
    env_dir, state = terraform
    image = push_image(clients)
    spec = DeploymentSpec(
        target="aws-lambda",
        memory_mb=3008,
        platform={"image": image, "log_format": "JSON", "provisioned_concurrency": 2},
    )
    aws = target(clients, env_dir)
    deployment = aws.deploy(spec)
    calls = [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]
    apply, output = calls
    assert apply[:4] == [f"-chdir={env_dir}", "apply", "-auto-approve", "-input=false"]
    assert "-target=module.lambda_api" in apply
    assert output[1:3] == ["output", "-json"]
    variables = json.loads((state / "vars.json").read_text())
    assert variables["service_image"] == image
    assert (variables["lambda_memory_mb"], variables["lambda_provisioned_concurrency"]) == (3008, 2)
    assert variables["lambda_environment"]["NLP_BENCH_DEPLOYMENT_ID"] == deployment.deployment_id
    assert "lambda_reserved_concurrency" not in variables  # null: Terraform's default
    assert not list(env_dir.glob("*.tfvars.json"))  # the generated var file is removed
    details = deployment.details
    assert (details["path"], details["version"], details["expiry"]) == (
        "terraform",
        "3",
        "2026-12-24T18:00:00Z",
    )
    assert deployment.endpoint == "https://abc123.execute-api.us-east-1.amazonaws.com"
    aws.teardown()
    assert aws.last_deployment.details["removed"] == []
    assert "terraform destroy" in aws.last_deployment.details["teardown"]


def test_a_failed_apply_fails_the_deploy_with_terraforms_error(
    clients: AwsClients, terraform: tuple[Path, Path]
) -> None:
    env_dir, state = terraform
    (state / "fail").touch()
    spec = DeploymentSpec(target="aws-lambda", platform={"image": push_image(clients)})
    with pytest.raises(TerraformError, match="AccessDeniedException"):
        target(clients, env_dir).deploy(spec)


def test_without_an_initialised_environment_the_boto3_path_runs_and_says_why(
    clients: AwsClients, tmp_path: Path
) -> None:
    spec = DeploymentSpec(target="aws-lambda", platform={"image": push_image(clients)})
    aws = target(clients, tmp_path / "not-initialised")
    deployment = aws.deploy(spec)
    assert deployment.details["path"] == "boto3"
    assert "terraform init" in deployment.details["path_reason"]
    aws.teardown()
