"""A kubeconfig for an EKS cluster whose token comes from this package, not from the AWS CLI.

Dagster's ``PipesK8sClient`` takes its cluster from a kubeconfig file. ``aws eks
update-kubeconfig`` writes one that runs ``aws eks get-token`` for every token; the pipeline
image has no AWS CLI, so :func:`write_kubeconfig` writes one whose exec plugin is this module:

    python -m nlp_bench_pipeline.targets.aws_eks.kubeconfig token --cluster NAME --region R

which prints an ``ExecCredential`` with :func:`access.eks_token`'s presigned ``GetCallerIdentity``
token, from boto3's default chain (a profile, the app server's instance profile, a pod's IRSA
role). The kubernetes client runs it again before the token's expiry. The file holds no secret:
the endpoint, the cluster's CA and that command.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import yaml

from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_eks.access import ClusterAccess, eks_token

EXEC_API_VERSION = "client.authentication.k8s.io/v1beta1"
# EKS accepts a token for 15 minutes; the client renews it 5 minutes before the stated expiry.
TOKEN_LIFETIME = timedelta(minutes=14)
MODULE = "nlp_bench_pipeline.targets.aws_eks.kubeconfig"


def kubeconfig(access: ClusterAccess, *, region: str, profile: str | None = None) -> dict[str, Any]:
    """The kubeconfig document for ``access``, one context named after the cluster."""
    cluster: dict[str, Any] = {"server": access.endpoint}
    if access.certificate_authority_data:
        cluster["certificate-authority-data"] = access.certificate_authority_data
    args = ["-m", MODULE, "token", "--cluster", access.name, "--region", region]
    if profile:
        args += ["--profile", profile]
    name = access.name
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [
            {
                "name": name,
                "user": {
                    "exec": {
                        "apiVersion": EXEC_API_VERSION,
                        "command": sys.executable,
                        "args": args,
                        "interactiveMode": "Never",
                    }
                },
            }
        ],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


def write_kubeconfig(
    access: ClusterAccess, path: Path, *, region: str, profile: str | None = None
) -> Path:
    """Write :func:`kubeconfig` to ``path`` (readable by its owner only) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(yaml.safe_dump(kubeconfig(access, region=region, profile=profile)))
    return path


def exec_credential(token: str, *, now: datetime) -> dict[str, Any]:
    """What a kubeconfig exec plugin prints: the token and when to ask again."""
    expiry = (now + TOKEN_LIFETIME).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "ExecCredential",
        "apiVersion": EXEC_API_VERSION,
        "spec": {},
        "status": {"expirationTimestamp": expiry, "token": token},
    }


def main(argv: list[str] | None = None) -> int:
    """``token``: print an ``ExecCredential`` for the cluster (the kubeconfig's exec plugin)."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print an ExecCredential for an EKS cluster")
    token.add_argument("--cluster", required=True)
    token.add_argument("--region", required=True)
    token.add_argument("--profile")
    args = parser.parse_args(argv)
    clients = AwsClients(boto3.Session(profile_name=args.profile, region_name=args.region))
    try:
        credential = exec_credential(eks_token(clients, args.cluster), now=datetime.now(UTC))
    except Exception as exc:  # the kubernetes client shows this line as the exec error
        print(f"eks token for {args.cluster}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(credential))
    return 0


if __name__ == "__main__":
    sys.exit(main())
