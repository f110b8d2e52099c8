"""Which implementation stands behind each target name, and whether it can run here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from nlp_bench_pipeline.core.records import TargetName
from nlp_bench_pipeline.targets.base import Target

if TYPE_CHECKING:  # boto3 and the kubernetes client are the optional `aws` extra
    from nlp_bench_pipeline.targets.aws.options import AwsTargetOptions


class TargetUnavailable(RuntimeError):
    """The target cannot run here; the message says what is missing and how to supply it."""


def create_target(
    name: TargetName,
    *,
    work_dir: Path,
    aws_credentials: bool,
    aws: AwsTargetOptions | None = None,
) -> Target:
    """A fresh, undeployed target. Local targets always work; AWS ones need credentials.

    ``aws`` is the account side of the AWS targets (region, profile, owner, expiry, the
    Terraform environment, the EKS cluster); None uses boto3's default chain and defaults.
    """
    if name == "local-lambda":
        from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget

        return LocalLambdaTarget(work_dir=work_dir / "local-lambda")
    if name == "local-k8s":
        from nlp_bench_pipeline.targets.local_k8s import LocalK8sTarget

        return LocalK8sTarget(work_dir=work_dir / "local-k8s")
    if name in ("aws-lambda", "aws-eks"):
        if not aws_credentials:
            raise TargetUnavailable(
                f"{name} needs AWS credentials: missing (boto3's default chain found none — "
                "AWS_PROFILE, SSO, an instance profile, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY with AWS_REGION)"
            )
        from nlp_bench_pipeline.targets.aws.options import AwsTargetOptions

        return _aws_target(name, aws or AwsTargetOptions(), work_dir=work_dir / name)
    raise TargetUnavailable(f"unknown target {name!r}")


def _aws_target(name: TargetName, options: AwsTargetOptions, *, work_dir: Path) -> Target:
    from nlp_bench_pipeline.targets.aws.options import AwsSetupError

    clients = options.clients()
    if name == "aws-lambda":
        from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget

        return AwsLambdaTarget(
            clients,
            owner=options.owner,
            expiry_hours=options.expiry_hours,
            project=options.project,
            terraform=options.terraform(),
            endpoint_override=options.lambda_endpoint,
        )
    from nlp_bench_pipeline.targets.aws_eks import AwsEksTarget

    try:
        cluster = options.eks_cluster()
    except AwsSetupError as exc:
        raise TargetUnavailable(str(exc)) from None
    return AwsEksTarget(
        clients,
        cluster_name=cluster,
        owner=options.owner,
        work_dir=work_dir,
        expiry_hours=options.expiry_hours,
        project=options.project,
    )


def platform_knobs(
    name: TargetName, profile: str, *, idle_s: float = 0.0, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The platform knobs for a target under a profile, fitted to a scenario's idle stretch.

    Smoke and quick shorten Kubernetes' timers (HPA sync and stabilisation, probes, node-add).
    Lambda keeps AWS's values, idle eviction included, so warm scenarios see no evictions AWS
    would not make; a scenario that idles to find environments cold (``idle_s`` > 0) gets an
    eviction within half its idle time when the configured one would outlast it.
    """
    knobs = dict(overrides or {})
    if name == "local-k8s" and profile in ("smoke", "quick"):
        knobs.setdefault("preset", "quick")
    if name == "local-lambda" and idle_s > 0:
        from nlp_bench_pipeline.targets.local_lambda import LocalLambdaConfig

        eviction = knobs.get(
            "idle_eviction_s", LocalLambdaConfig.model_fields["idle_eviction_s"].default
        )
        if eviction >= idle_s:
            knobs["idle_eviction_s"] = idle_s / 2
    return knobs
