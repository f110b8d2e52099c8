"""Which sweepers look for the pipeline's AWS deployments: EKS namespaces, Lambda, the rest.

The command line (``nlp-bench teardown``) and the guard sensor both ask here, so they find the
same things. Plain Python: paths and names come in as parameters.
"""

from __future__ import annotations

from pathlib import Path

from botocore.exceptions import ClientError

from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.guard import AccountSweeper, Sweeper
from nlp_bench_pipeline.targets.aws.terraform import TerraformCli
from nlp_bench_pipeline.targets.aws_eks.access import (
    TokenSource,
    api_client,
    describe_cluster,
    eks_token,
)
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi
from nlp_bench_pipeline.targets.aws_eks.rollout import Poll
from nlp_bench_pipeline.targets.aws_eks.sweeper import EksSweeper
from nlp_bench_pipeline.targets.aws_lambda.sweeper import SERVICES as LAMBDA_SERVICES
from nlp_bench_pipeline.targets.aws_lambda.sweeper import LambdaSweeper


def account_sweepers(
    clients: AwsClients,
    *,
    project: str,
    cluster: str | None,
    terraform_dir: Path,
    work_dir: Path,
) -> tuple[list[Sweeper], list[str]]:
    """EKS first (its namespaces take their ALBs with them), then Lambda, then the rest.

    ``cluster`` None: the one the Terraform outputs in ``terraform_dir`` name, if any. The notes
    say what could not be checked.
    """
    notes: list[str] = []
    sweepers: list[Sweeper] = []
    cluster = cluster or _terraform_cluster(terraform_dir, notes)
    if cluster is not None:
        eks = _eks_sweeper(clients, cluster, project, notes, work_dir)
        if eks is not None:
            sweepers.append(eks)
    sweepers.append(LambdaSweeper(clients, project=project))
    tagging = clients.client("resourcegroupstaggingapi")
    sweepers.append(AccountSweeper(tagging, LAMBDA_SERVICES, project=project))
    return sweepers, notes


def _terraform_cluster(directory: Path, notes: list[str]) -> str | None:
    cli = TerraformCli(directory)
    if not cli.available():
        notes.append(
            f"EKS: no cluster given, and no initialised Terraform in {directory} to name one: "
            "namespaces not checked"
        )
        return None
    eks = cli.outputs().get("eks") or {}
    if not eks.get("cluster_name"):
        notes.append(f"EKS: the Terraform outputs in {directory} name no cluster")
        return None
    return str(eks["cluster_name"])


def _eks_sweeper(
    clients: AwsClients, cluster: str, project: str, notes: list[str], work_dir: Path
) -> EksSweeper | None:
    try:
        access = describe_cluster(clients, cluster)
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceNotFoundException":
            raise
        notes.append(f"EKS: cluster {cluster} not found in {clients.region}: nothing to check")
        return None
    tokens = TokenSource(lambda: eks_token(clients, cluster))
    kube = KubeApi(api_client(access, tokens, work_dir=work_dir))
    return EksSweeper(kube, cluster, Poll(timeout_s=600.0, interval_s=5.0), project=project)
