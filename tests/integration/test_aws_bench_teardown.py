"""``bench``'s teardown stage on moto: the plan's Lambda deployment is found by its names and
removed (``--keep``: listed and left), another deployment of the project is left alone.

The job runs as ``bench`` runs it, with the real ``aws`` resource, credentials and endpoint from
the environment (boto3's ``AWS_ENDPOINT_URL``), so the selection, the guard's Lambda sweeper and
the lines ``bench`` prints are all the real ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.defs.bench.teardown import OP_NAME, teardown_deployments_job
from nlp_bench_pipeline.defs.resources import AwsConfig, BenchmarkConfig, PlatformsResource
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.deployer import WaitPolicy
from tests.fixtures.apigw_standin import REGION, moto_server
from tests.integration.test_aws_lambda_deploy import push_image

pytestmark = [pytest.mark.aws, pytest.mark.slow]


@pytest.fixture
def moto_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty moto account, reached through the default chain as a real run reaches AWS."""
    with moto_server() as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        yield url


def deploy(clients: AwsClients, spec: DeploymentSpec) -> None:
    """A deployment left up, as a deploy stage that never served or a failed teardown leaves it."""
    target = AwsLambdaTarget(
        clients, owner="bench@example.com", wait=WaitPolicy(delay_s=1, max_attempts=10)
    )
    target.deploy(spec)


def teardown(tmp_path: Path, config: BenchmarkConfig, *, keep: bool) -> list[str]:
    result = teardown_deployments_job.execute_in_process(
        resources={
            "bench": config,
            "aws": AwsConfig(region=REGION),
            "platforms": PlatformsResource(work_dir=str(tmp_path)),
        },
        run_config={"ops": {OP_NAME: {"config": {"keep": keep}}}},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result.output_for_node(OP_NAME)


def functions(clients: AwsClients) -> set[str]:
    return {f["FunctionName"] for f in clients.client("lambda").list_functions()["Functions"]}


def test_the_plans_lambda_deployment_is_kept_with_keep_and_torn_down_without(
    moto_url: str, tmp_path: Path
) -> None:
    import boto3

    clients = AwsClients(boto3.Session(region_name=REGION))
    image = push_image(clients)
    overrides = f'{{"aws-lambda": {{"image": "{image}"}}}}'
    config = BenchmarkConfig(
        targets=["aws-lambda"], scenarios=["burst"], platform_overrides=overrides
    )
    plan: BenchmarkPlan = config.plan()
    deploy(clients, plan.deployment_spec("aws-lambda"))  # function nlp-bench, the plan's
    other = {"image": image, "function_name": "nlp-bench-other"}
    deploy(clients, DeploymentSpec(target="aws-lambda", platform=other))

    kept = teardown(tmp_path, config, keep=True)
    assert [line.split()[0] for line in kept[:-1]] == ["kept"] * 4
    assert kept[-1].startswith("kept 4 resources of aws-lambda: they stay until their expiry")
    assert functions(clients) == {"nlp-bench", "nlp-bench-other"}

    removed = teardown(tmp_path, config, keep=False)
    kinds = [" ".join(line.split()[1:3]) for line in removed[:-1]]
    assert kinds == ["HTTP API", "Lambda function", "IAM role", "log group"]  # in removal order
    assert all(line.startswith("removed ") for line in removed[:-1])
    assert removed[-1] == "torn down what was left of aws-lambda: 4 removed"
    assert functions(clients) == {"nlp-bench-other"}  # another deployment is not the plan's
    apis = clients.client("apigatewayv2").get_apis()["Items"]
    assert [api["Name"] for api in apis] == ["nlp-bench-other"]
    groups = clients.client("logs").describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/nlp-bench-other"]

    assert teardown(tmp_path, config, keep=False) == [
        "nothing of aws-lambda was left to tear down: each cell removed its own deployment"
    ]
