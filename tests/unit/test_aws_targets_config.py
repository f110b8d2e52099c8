"""The AWS targets' knobs, the registry's AWS branches, and the expiry tags."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.targets.aws.expiry import (
    DeploymentTags,
    ExpiryError,
    expiry_after,
    format_expiry,
    parse_expiry,
)
from nlp_bench_pipeline.targets.aws.options import AwsTargetOptions
from nlp_bench_pipeline.targets.aws_eks import AwsEksTarget
from nlp_bench_pipeline.targets.aws_eks.config import AwsEksConfig, cpu_quantity, memory_quantity
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaConfig, AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.config import function_fingerprint
from nlp_bench_pipeline.targets.registry import TargetUnavailable, create_target

ECR_IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/nlp-bench-service@sha256:" + "ab" * 32
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)


def lambda_spec(**platform: object) -> DeploymentSpec:
    return DeploymentSpec(target="aws-lambda", platform={"image": ECR_IMAGE, **platform})


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"image": "nlp-bench-service:latest"}, "not pinned by digest"),
        ({"image": "ghcr.io/x/nlp-bench@sha256:" + "ab" * 32}, "is not in ECR"),
        ({"image": ECR_IMAGE, "authorization": "JWT"}, "needs jwt_issuer"),
        (
            {"image": ECR_IMAGE, "authorization": "JWT", "jwt_issuer": "https://i"},
            "at least one jwt_audience",
        ),
        ({"image": ECR_IMAGE, "log_retention_days": 10}, "not one CloudWatch Logs accepts"),
        ({"image": ECR_IMAGE, "timeout_s": 901}, "less than or equal to 900"),
        ({"image": ECR_IMAGE, "memory": 1}, "Extra inputs are not permitted"),
        ({"image": ECR_IMAGE, "execution_role_arn": "role"}, "is not an IAM role ARN"),
    ],
)
def test_lambda_knobs_refuse_what_aws_would(knobs: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AwsLambdaConfig.model_validate(knobs)


def test_lambda_defaults_are_the_terraform_modules() -> None:
    config = AwsLambdaConfig(image=ECR_IMAGE)
    assert (config.timeout_s, config.log_format, config.authorization) == (30, "Text", "AWS_IAM")
    assert (config.reserved_concurrency, config.provisioned_concurrency) == (None, 0)
    assert (config.throttle_rate_limit, config.throttle_burst_limit) == (100.0, 200)
    assert (config.repository, config.log_group) == ("nlp-bench-service", "/aws/lambda/nlp-bench")


def test_the_fingerprint_changes_with_what_makes_a_new_version_and_nothing_else() -> None:
    config = AwsLambdaConfig(image=ECR_IMAGE)
    role = "arn:aws:iam::123456789012:role/r"
    base = function_fingerprint(config, lambda_spec(), role)
    assert function_fingerprint(config, lambda_spec(), role) == base
    bigger = lambda_spec().model_copy(update={"memory_mb": 3008})
    assert function_fingerprint(config, bigger, role) != base
    faulty = lambda_spec().model_copy(update={"env": {"NLP_BENCH_FAULT_LOAD_DELAY_S": "3"}})
    assert function_fingerprint(config, faulty, role) != base
    throttled = AwsLambdaConfig(image=ECR_IMAGE, throttle_rate_limit=5)
    assert function_fingerprint(throttled, lambda_spec(), role) == base  # the API's, not a version


def test_eks_knobs_turn_the_spec_into_an_hpa_only_when_replicas_may_vary() -> None:
    spec = DeploymentSpec(
        target="aws-eks", min_replicas=1, max_replicas=4, platform={"image": ECR_IMAGE}
    )
    config = AwsEksConfig.from_spec(spec)
    hpa = config.hpa(spec)
    assert hpa is not None
    assert (hpa.min_replicas, hpa.max_replicas, hpa.cpu_utilization) == (1, 4, 60)
    fixed = spec.model_copy(update={"max_replicas": 1})
    assert config.hpa(fixed) is None


def test_eks_needs_at_least_one_replica() -> None:
    spec = DeploymentSpec(target="aws-eks", min_replicas=0, platform={"image": ECR_IMAGE})
    with pytest.raises(ValueError, match="min_replicas must be at least 1"):
        AwsEksConfig.from_spec(spec)


def test_pod_sizes_become_kubernetes_quantities() -> None:
    assert cpu_quantity(ResourceQuantity(request=1.5, limit=1.5)) == "1500m"
    assert memory_quantity(ResourceQuantity(request=2048, limit=2048)) == "2048Mi"


def test_expiry_reads_both_forms_and_writes_terraforms() -> None:
    at = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
    assert parse_expiry("2026-12-24T18:00:00Z") == at
    assert parse_expiry("20261224T180000Z") == at
    assert format_expiry(at) == "2026-12-24T18:00:00Z"
    assert expiry_after(4, now=NOW) == NOW + timedelta(hours=4)
    with pytest.raises(ExpiryError, match="is not an RFC 3339 UTC time"):
        parse_expiry("tomorrow")
    with pytest.raises(ExpiryError, match="must be positive"):
        expiry_after(0, now=NOW)


def test_tags_and_labels_carry_owner_deployment_and_expiry() -> None:
    tags = DeploymentTags(owner="a@b.c", expiry=NOW, deployment_id="aws-eks-0123abcd")
    assert tags.aws() == {
        "project": "nlp-bench",
        "owner": "a@b.c",
        "expiry": "2026-12-01T12:00:00Z",
        "managed-by": "nlp-bench-pipeline",
        "nlp-bench/deployment": "aws-eks-0123abcd",
    }
    labels = tags.k8s_labels()
    assert labels["nlp-bench/expiry"] == "20261201T120000Z"  # no ':' in a label value
    assert tags.k8s_annotations()["nlp-bench/expiry"] == "2026-12-01T12:00:00Z"
    assert tags.expired(NOW)
    assert not tags.expired(NOW - timedelta(seconds=1))


def test_the_registry_builds_the_aws_targets_from_the_options(tmp_path: Path) -> None:
    options = AwsTargetOptions(region="eu-west-1", owner="me", cluster_name="bench")
    lambda_target = create_target(
        "aws-lambda", work_dir=tmp_path, aws_credentials=True, aws=options
    )
    assert isinstance(lambda_target, AwsLambdaTarget)
    assert lambda_target.clients.region == "eu-west-1"
    eks_target = create_target("aws-eks", work_dir=tmp_path, aws_credentials=True, aws=options)
    assert isinstance(eks_target, AwsEksTarget)
    assert (eks_target.cluster_name, eks_target.work_dir) == ("bench", tmp_path / "aws-eks")


def test_aws_eks_without_a_cluster_name_says_where_to_give_one(tmp_path: Path) -> None:
    options = AwsTargetOptions(region="eu-west-1", terraform_dir=tmp_path)
    with pytest.raises(TargetUnavailable, match="needs the EKS cluster's name"):
        create_target("aws-eks", work_dir=tmp_path, aws_credentials=True, aws=options)


def test_without_credentials_an_aws_target_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(TargetUnavailable, match="needs AWS credentials"):
        create_target("aws-lambda", work_dir=tmp_path, aws_credentials=False)


def test_the_local_default_imports_neither_boto3_nor_kubernetes() -> None:
    code = (
        "import sys, nlp_bench_pipeline.targets.registry, nlp_bench_pipeline.bench.plan; "
        "print(sorted({'boto3', 'kubernetes'} & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            DeploymentSpec(target="aws-lambda"),
            "aws-lambda: platform.image: Field required (the service image in ECR",
        ),
        (
            DeploymentSpec(target="aws-eks", platform={"image": ECR_IMAGE, "replicas": 2}),
            "aws-eks: platform.replicas: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_knob_is_one_line_naming_the_target_and_the_knob(
    spec: DeploymentSpec, message: str
) -> None:
    config = AwsLambdaConfig if spec.target == "aws-lambda" else AwsEksConfig
    with pytest.raises(ValueError, match=re.escape(message)) as error:
        config.from_spec(spec)
    assert "\n" not in str(error.value)
