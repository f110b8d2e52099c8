"""Which launcher a cell gets, where the in-region settings come from, and the cluster's config."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import dagster as dg
import pytest
import yaml

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.defs.bench.in_region import InRegionLoadResource, choose_launcher
from nlp_bench_pipeline.defs.resources import AwsConfig
from nlp_bench_pipeline.targets.aws_eks.access import ClusterAccess
from nlp_bench_pipeline.targets.aws_eks.kubeconfig import (
    exec_credential,
    kubeconfig,
    write_kubeconfig,
)

OUTPUTS = {
    "in_region_load": {
        "cluster_name": "nlp-bench",
        "region": "us-east-1",
        "bucket": "nlp-bench-results-abc",
        "image": "1.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline@sha256:" + "a" * 64,
        "role_arn": "arn:aws:iam::123456789012:role/nlp-bench-loadgen",
        "namespace": "nlp-bench-loadgen",
        "service_account": "nlp-bench-loadgen",
        "node_selector": {"nlp-bench/role": "loadgen"},
        "toleration": {
            "key": "nlp-bench/role",
            "operator": "Equal",
            "value": "loadgen",
            "effect": "NoSchedule",
        },
    }
}


def local(plan: Any) -> Any:
    raise AssertionError("the local launcher is only chosen, never called here")


def choose(plan: Any, target: str, tmp_path: Path) -> Any:
    return choose_launcher(
        None,  # type: ignore[arg-type] - no Dagster context is needed to choose
        plan,
        target,
        local=local,
        in_region=InRegionLoadResource(),
        aws=AwsConfig(),
        work_dir=tmp_path,
    )


def test_a_plan_that_does_not_ask_loads_from_here(tmp_path: Path) -> None:
    plan = BenchmarkPlan(targets=["aws-eks"])
    assert plan.load_from == "here"
    assert choose(plan, "aws-eks", tmp_path) is local


def test_local_targets_load_from_here_even_when_the_plan_asks_for_in_region(
    tmp_path: Path,
) -> None:
    plan = SimpleNamespace(load_from="in-region")
    assert choose(plan, "local-lambda", tmp_path) is local
    assert choose(plan, "local-k8s", tmp_path) is local


@pytest.mark.parametrize("target", ["aws-lambda", "aws-eks"])
def test_an_aws_cell_loaded_in_region_without_its_settings_fails_in_one_line(
    target: str, tmp_path: Path
) -> None:
    with pytest.raises(dg.Failure) as failure:
        choose(SimpleNamespace(load_from="in-region"), target, tmp_path)
    message = failure.value.description or ""
    assert message.startswith("in-region load: cluster_name: Field required")
    assert "\n" not in message


def test_unset_fields_come_from_terraform_and_set_ones_win() -> None:
    load = InRegionLoadResource(processes=4, bucket="my-bucket").resolve(
        region="eu-west-1", terraform_outputs=OUTPUTS
    )
    assert (load.processes, load.cpu) == (4, "4")
    assert load.bucket == "my-bucket"
    assert load.region == "us-east-1"  # Terraform's, over the session's default
    assert load.role_arn == OUTPUTS["in_region_load"]["role_arn"]
    without = {
        "in_region_load": {k: v for k, v in OUTPUTS["in_region_load"].items() if k != "region"}
    }
    assert InRegionLoadResource().resolve(region="eu-west-1", terraform_outputs=without).region == (
        "eu-west-1"
    )


def test_the_kubeconfig_asks_this_package_for_each_token_and_holds_no_secret(
    tmp_path: Path,
) -> None:
    access = ClusterAccess("nlp-bench", "https://ABC.gr7.us-east-1.eks.amazonaws.com", "Q0E=")
    path = write_kubeconfig(access, tmp_path / "kube" / "config", region="us-east-1", profile="p")
    assert path.stat().st_mode & 0o777 == 0o600
    document = yaml.safe_load(path.read_text())
    assert document == kubeconfig(access, region="us-east-1", profile="p")
    (cluster,) = document["clusters"]
    assert cluster["cluster"] == {
        "server": access.endpoint,
        "certificate-authority-data": "Q0E=",
    }
    (user,) = document["users"]
    plugin = user["user"]["exec"]
    assert plugin["args"] == [
        "-m",
        "nlp_bench_pipeline.targets.aws_eks.kubeconfig",
        "token",
        "--cluster",
        "nlp-bench",
        "--region",
        "us-east-1",
        "--profile",
        "p",
    ]
    assert set(user["user"]) == {"exec"}  # no token, no key, no certificate


def test_an_exec_credential_expires_before_eks_stops_accepting_the_token() -> None:
    now = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    credential = exec_credential("k8s-aws-v1.abc", now=now)
    assert credential["status"] == {
        "expirationTimestamp": "2026-12-02T10:14:00Z",
        "token": "k8s-aws-v1.abc",
    }
    assert credential["kind"] == "ExecCredential"
