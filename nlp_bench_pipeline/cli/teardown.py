"""``nlp-bench teardown``: remove the AWS deployments that outlived their expiry, or all of them.

One line per resource found: ``removed`` (or ``would remove`` with ``--dry-run``), ``left``
(Terraform's — ``terraform destroy`` removes those — or something only reported, with what
removes it), or ``failed`` with AWS's error; then a count. Exit 0 when nothing failed, 1 when
something did, 2 for a bad option or missing credentials (one line naming it). Credentials come
from boto3's default chain (``AWS_PROFILE``, SSO, an instance profile, OIDC): never from files in
the repository.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from nlp_bench_pipeline.core.options import RawDescriptionDefaultsShown
from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.settings import PROJECT_ROOT, get_pipeline_settings
from nlp_bench_pipeline.targets.aws.clients import AwsClients, NoCredentials
from nlp_bench_pipeline.targets.aws.guard import (
    Sweeper,
    expired_deployments,
    teardown_expired,
)
from nlp_bench_pipeline.targets.aws.sweepers import account_sweepers
from nlp_bench_pipeline.targets.aws.terraform import TerraformError

PROG = "nlp-bench teardown"
DEFAULT_TERRAFORM_DIR = PROJECT_ROOT / "infra" / "terraform" / "envs" / "bench"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,20}$")


class UsageError(ValueError):
    """A bad option; the message names it."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teardown",
        help="remove AWS deployments past their expiry (or --all of them)",
        description=__doc__,
        formatter_class=RawDescriptionDefaultsShown,
    )
    parser.add_argument(
        "--expired", action="store_true", help="only what outlived its expiry tag (the default)"
    )
    parser.add_argument(
        "--all", action="store_true", help="every deployment the pipeline made, expired or not"
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    parser.add_argument("--region", help="AWS region (default: AWS_REGION or the profile's)")
    parser.add_argument("--project", default="nlp-bench", help="the project tag")
    parser.add_argument(
        "--cluster",
        help="EKS cluster whose namespaces to check (default: Terraform's eks.cluster_name)",
    )
    parser.add_argument(
        "--terraform-dir",
        type=Path,
        default=DEFAULT_TERRAFORM_DIR,
        help="the Terraform environment whose outputs name the cluster (default %(default)s)",
    )
    parser.add_argument(
        "--endpoint-url", help="one endpoint for every AWS API (a VPC endpoint; moto in tests)"
    )
    parser.set_defaults(handler=teardown_command)


def teardown_command(args: argparse.Namespace) -> int:
    try:
        _check(args)
        clients = AwsClients(boto3.Session(region_name=args.region), endpoint_url=args.endpoint_url)
        clients.require_credentials()
        region = clients.region
    except (UsageError, NoCredentials) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        sweepers, notes = sweepers_for(args, clients)
        found = expired_deployments(sweepers, now=utcnow(), everything=args.all)
        results = teardown_expired(sweepers, found, dry_run=args.dry_run)
    except (ClientError, BotoCoreError, TerraformError) as exc:
        print(f"{PROG}: {_one_line(exc)}", file=sys.stderr)
        return 1
    for note in notes:
        print(note)
    for result in results:
        print(result.line())
    counts = Counter(result.action for result in results)
    which = "everything the pipeline made" if args.all else "past their expiry"
    summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing"
    print(f"{region}, {which}: {summary}")
    return 1 if counts["failed"] else 0


def sweepers_for(args: argparse.Namespace, clients: AwsClients) -> tuple[list[Sweeper], list[str]]:
    """The sweepers for this command's options (the guard sensor builds the same)."""
    return account_sweepers(
        clients,
        project=args.project,
        cluster=args.cluster,
        terraform_dir=args.terraform_dir,
        work_dir=get_pipeline_settings().work_dir / "aws-eks",
    )


def _check(args: argparse.Namespace) -> None:
    if args.all and args.expired:
        raise UsageError("--all and --expired are exclusive: choose one")
    if args.region is not None and not _REGION.match(args.region):
        raise UsageError(f"--region {args.region!r} is not an AWS region name (e.g. us-east-1)")
    if not _PROJECT.match(args.project):
        raise UsageError(f"--project {args.project!r} is not a project tag (a-z, 0-9, -)")
    if args.terraform_dir != DEFAULT_TERRAFORM_DIR and not args.terraform_dir.is_dir():
        raise UsageError(f"--terraform-dir {args.terraform_dir} is not a directory")


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
    return " ".join(str(exc).split())
