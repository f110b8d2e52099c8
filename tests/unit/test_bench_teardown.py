"""``nlp-bench bench`` after the cells: the plan's AWS deployments torn down, or kept (--keep).

The stage list, the selection of the plan's resources among what the guard's sweepers list,
the lines ``bench`` prints, and the job itself without credentials. The moto-backed run of the
job is ``tests/integration/test_aws_bench_teardown.py``.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.cli import bench
from nlp_bench_pipeline.cli.bench import Stage, cloud_stages
from nlp_bench_pipeline.defs.bench.teardown import (
    JOB_NAME,
    OP_NAME,
    deployment_names,
    plan_teardown,
    report_lines,
    teardown_deployments_job,
)
from nlp_bench_pipeline.defs.resources import AwsConfig, BenchmarkConfig, PlatformsResource
from nlp_bench_pipeline.targets.aws.guard import TaggedResource, TeardownResult

SERVICE_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:" + "a" * 64
LATER = datetime.now(UTC) + timedelta(hours=3)


def resource(
    kind: str, name: str, sweeper: str = "aws-lambda", managed_by: str = "nlp-bench-pipeline"
) -> TaggedResource:
    return TaggedResource(
        kind=kind,
        name=name,
        sweeper=sweeper,
        expiry=LATER,
        managed_by=managed_by,
        deployment_id="aws-lambda-0123456789ab",
    )


@dataclass
class FakeSweeper:
    """Lists ``listed``; records what it was asked to remove."""

    name: str
    listed: list[TaggedResource]
    removed: list[str] = field(default_factory=list)

    def resources(self) -> list[TaggedResource]:
        return list(self.listed)

    def remove(self, resource: TaggedResource) -> None:
        self.removed.append(resource.name)


# --------------------------------------------------------------------------- the stages


def test_local_targets_get_no_teardown_stage_they_tear_down_as_they_go() -> None:
    assert cloud_stages(["local-lambda", "local-k8s"], keep=False) == []
    assert cloud_stages(["local-lambda", "local-k8s"], keep=True) == []


def test_aws_targets_are_torn_down_after_the_cells_unless_kept() -> None:
    assert cloud_stages(["local-k8s", "aws-lambda", "aws-eks"], keep=False) == [Stage(JOB_NAME)]


def test_keep_deploys_each_aws_target_once_more_and_lists_what_stays() -> None:
    stages = cloud_stages(["local-k8s", "aws-lambda", "aws-eks"], keep=True)
    assert [(s.job, s.partition) for s in stages] == [
        ("deploy", "aws-lambda"),
        ("deploy", "aws-eks"),
        (JOB_NAME, None),
    ]
    assert stages[-1].run_config == {"ops": {OP_NAME: {"config": {"keep": True}}}}


def test_bench_takes_keep() -> None:
    from nlp_bench_pipeline.cli import build_parser

    assert build_parser().parse_args(["bench", "--keep"]).keep is True
    assert build_parser().parse_args(["bench"]).keep is False


@dataclass
class TeardownResultStub:
    success: bool
    run_id: str
    lines: list[str]
    run_configs: list[dict[str, Any]] = field(default_factory=list)

    def get_asset_check_evaluations(self) -> list[Any]:
        return []

    def output_for_node(self, name: str) -> list[str]:
        assert name == OP_NAME
        return self.lines


def test_bench_prints_what_the_teardown_stage_tore_down_and_passes_its_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configs: list[dict[str, Any]] = []

    def resolve_job_def(name: str) -> Any:
        def execute_in_process(**kwargs: Any) -> TeardownResultStub:
            configs.append(kwargs["run_config"])
            return TeardownResultStub(True, kwargs["run_id"], ["removed      Lambda function x"])

        return SimpleNamespace(execute_in_process=execute_in_process)

    module = types.ModuleType("nlp_bench_pipeline.definitions")
    module.defs = SimpleNamespace(resolve_job_def=resolve_job_def)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nlp_bench_pipeline.definitions", module)
    interrupts = SimpleNamespace(run_id=None, received=None, watch=lambda run_id: None)
    stages = cloud_stages(["aws-lambda"], keep=True)[-1:]
    outcome = bench._run_stages(stages, instance=None, interrupts=interrupts)  # type: ignore[arg-type]
    assert outcome.code == 0
    assert "    removed      Lambda function x" in capsys.readouterr().out.splitlines()
    assert configs[0]["ops"] == {OP_NAME: {"config": {"keep": True}}}
    assert configs[0]["loggers"] == bench.CONSOLE_INFO["loggers"]  # the console's level kept


# --------------------------------------------------------------------------- what is the plan's


def plan(**platform: Any) -> BenchmarkPlan:
    knobs = {"image": SERVICE_IMAGE, **platform}
    return BenchmarkPlan(
        targets=["aws-lambda", "aws-eks"],
        platform_overrides={"aws-lambda": knobs, "aws-eks": {"image": SERVICE_IMAGE}},
    )


class Gateway:
    def __init__(self, apis: list[dict[str, Any]]) -> None:
        self.apis = apis

    def get_apis(self, **kwargs: Any) -> dict[str, Any]:
        return {"Items": self.apis}


def clients_with(apis: list[dict[str, Any]]) -> Any:
    gateway = Gateway(apis)
    return SimpleNamespace(client=lambda service: gateway)


def test_the_plans_lambda_deployment_is_its_function_api_role_and_log_group() -> None:
    api = {"ApiId": "a1b2c3", "Name": "nlp-bench", "Tags": {"managed-by": "nlp-bench-pipeline"}}
    other = {
        "ApiId": "zzz",
        "Name": "nlp-bench-other",
        "Tags": {"managed-by": "nlp-bench-pipeline"},
    }
    names = deployment_names(plan(), "aws-lambda", clients_with([api, other]))
    assert names == {
        ("Lambda function", "nlp-bench"),
        ("HTTP API", "a1b2c3"),
        ("IAM role", "nlp-bench-execution"),
        ("log group", "/aws/lambda/nlp-bench"),
    }


def test_a_given_execution_role_is_not_the_deployments_to_remove() -> None:
    role = "arn:aws:iam::123456789012:role/shared"
    names = deployment_names(
        plan(function_name="nlp-bench-x", execution_role_arn=role), "aws-lambda", clients_with([])
    )
    assert names == {("Lambda function", "nlp-bench-x"), ("log group", "/aws/lambda/nlp-bench-x")}


def test_the_plans_eks_deployment_is_its_namespace() -> None:
    assert deployment_names(plan(), "aws-eks", clients_with([])) == {("EKS namespace", "nlp-bench")}


def test_a_plan_without_an_image_deployed_nothing_and_says_why() -> None:
    with pytest.raises(ValueError, match=r"aws-lambda: platform\.image: Field required"):
        deployment_names(BenchmarkPlan(targets=["aws-lambda"]), "aws-lambda", clients_with([]))


def test_only_the_plans_resources_go_and_terraforms_are_left() -> None:
    ours = resource("Lambda function", "nlp-bench")
    another = resource("Lambda function", "nlp-bench-other")
    terraforms = resource("log group", "/aws/lambda/nlp-bench", managed_by="terraform")
    sweeper = FakeSweeper("aws-lambda", [ours, another, terraforms])
    wanted = {("Lambda function", "nlp-bench"), ("log group", "/aws/lambda/nlp-bench")}
    results = plan_teardown([sweeper], wanted, keep=False)
    assert [(r.resource.name, r.action) for r in results] == [
        ("nlp-bench", "removed"),
        ("/aws/lambda/nlp-bench", "left"),
    ]
    assert sweeper.removed == ["nlp-bench"]


def test_keep_removes_nothing() -> None:
    sweeper = FakeSweeper("aws-lambda", [resource("Lambda function", "nlp-bench")])
    results = plan_teardown([sweeper], {("Lambda function", "nlp-bench")}, keep=True)
    assert [r.action for r in results] == ["would remove"]
    assert sweeper.removed == []


# --------------------------------------------------------------------------- what bench prints


def test_nothing_left_says_each_cell_removed_its_own() -> None:
    assert report_lines([], ["aws-lambda"], keep=False) == [
        "nothing of aws-lambda was left to tear down: each cell removed its own deployment"
    ]


def test_a_teardown_says_each_resource_then_what_happened() -> None:
    results = [
        TeardownResult(resource("Lambda function", "nlp-bench"), "removed"),
        TeardownResult(resource("log group", "g", managed_by="terraform"), "left", "Terraform's"),
    ]
    lines = report_lines(results, ["aws-lambda", "aws-eks"], keep=False)
    assert lines[0].startswith("removed      Lambda function nlp-bench (expiry ")
    assert lines[1].startswith("left         log group g")
    assert lines[1].endswith(": Terraform's")
    assert lines[-1] == "torn down what was left of aws-lambda, aws-eks: 1 left, 1 removed"


def test_kept_resources_are_listed_with_their_expiry() -> None:
    results = [TeardownResult(resource("Lambda function", "nlp-bench"), "would remove")]
    lines = report_lines(results, ["aws-lambda"], keep=True)
    assert lines[0].startswith("kept         Lambda function nlp-bench (expiry ")
    assert lines[-1] == (
        "kept 1 resources of aws-lambda: they stay until their expiry "
        "(nlp-bench teardown --all removes them sooner)"
    )
    assert report_lines([], ["aws-lambda"], keep=True) == [
        "kept nothing of aws-lambda: no deployment of the plan's is up"
    ]


# --------------------------------------------------------------------------- the job


def run_job(tmp_path: Path, targets: list[str]) -> list[str]:
    result = teardown_deployments_job.execute_in_process(
        resources={
            "bench": BenchmarkConfig(targets=targets, scenarios=["burst"]),
            "aws": AwsConfig(region="us-east-1"),
            "platforms": PlatformsResource(work_dir=str(tmp_path)),
        },
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result.output_for_node(OP_NAME)


def test_the_job_on_a_local_plan_has_nothing_to_do(tmp_path: Path) -> None:
    assert run_job(tmp_path, ["local-lambda"]) == [
        "no AWS target in the plan: the local targets tear down after every cell"
    ]


def test_the_job_without_credentials_says_nothing_was_deployed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AwsConfig, "has_credentials", lambda self: False)
    assert run_job(tmp_path, ["aws-lambda", "aws-eks"]) == [
        "aws-lambda, aws-eks: no AWS credentials, so nothing was deployed"
    ]
