"""Which implementation stands behind each target name, and whether it can run here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nlp_bench_pipeline.targets.base import Target, TargetName


class TargetUnavailable(RuntimeError):
    """The target cannot run here; the message says what is missing and how to supply it."""


def create_target(name: TargetName, *, work_dir: Path, aws_credentials: bool) -> Target:
    """A fresh, undeployed target. Local targets always work; AWS ones need credentials."""
    if name == "local-lambda":
        from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget

        return LocalLambdaTarget(work_dir=work_dir / "local-lambda")
    if name == "local-k8s":
        from nlp_bench_pipeline.targets.local_k8s import LocalK8sTarget

        return LocalK8sTarget(work_dir=work_dir / "local-k8s")
    if name in ("aws-lambda", "aws-eks"):
        if not aws_credentials:
            raise TargetUnavailable(
                f"target {name} needs AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, and AWS_REGION; then enable it with NLP_BENCH_TARGETS"
            )
        raise TargetUnavailable(
            f"target {name} has no implementation in this version: only local-lambda and "
            "local-k8s run; the AWS deployment is a later piece of work"
        )
    raise TargetUnavailable(f"unknown target {name!r}")


def platform_preset(name: TargetName, profile: str) -> dict[str, Any]:
    """The platform knobs a profile implies for a target: smoke and quick shorten timers."""
    short = profile in ("smoke", "quick")
    if name == "local-lambda":
        from nlp_bench_pipeline.targets.local_lambda import preset

        return preset("quick" if short else "full")
    if name == "local-k8s":
        return {"preset": "quick"} if short else {}
    return {}
