"""The in-region load generator's pod: where it runs, as whom, with what, and the plan it gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import kubernetes
import pytest
import yaml
from dagster_k8s.pipes import build_pod_body

from nlp_bench_pipeline.loadgen.in_pod import PLAN_JSON_ENV
from nlp_bench_pipeline.loadgen.in_region import InRegionLoad, pod_deadline_s, pod_plan
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.targets.aws_eks.manifests import ROLE_ARN_ANNOTATION, ManifestError
from nlp_bench_pipeline.targets.aws_eks.runner_pod import render_loadgen_space, render_runner_pod

ROOT = Path(__file__).resolve().parents[2]
EKS = ROOT / "infra" / "terraform" / "modules" / "eks"
DIGEST = "sha256:" + "cd" * 32
IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline@{DIGEST}"
ROLE_ARN = "arn:aws:iam::123456789012:role/nlp-bench-loadgen"
RESULTS = "s3://nlp-bench-results-abc/loadgen/run-1/20261202T000000Z-abcdef/"


def unquoted(node: Any) -> Any:
    """python-hcl2's tree without the quotes it keeps around string literals and keys."""
    if isinstance(node, dict):
        return {unquoted(k): unquoted(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [unquoted(v) for v in node]
    return node.strip('"') if isinstance(node, str) else node


@pytest.fixture
def load() -> InRegionLoad:
    return InRegionLoad(
        cluster_name="nlp-bench",
        region="eu-west-1",
        bucket="nlp-bench-results-abc",
        image=IMAGE,
        role_arn=ROLE_ARN,
        processes=3,
        memory_mb=3072,
    )


@pytest.fixture
def plan(tmp_path: Path) -> RepetitionPlan:
    (first,) = RepetitionPlan.resolve(
        load_scenario("warm_steady", "smoke"), series_id="s1", target="aws-eks", work_dir=tmp_path
    )
    return first.aimed_at("http://internal-alb.eu-west-1.elb.amazonaws.com")


def pod_for(load: InRegionLoad, plan: RepetitionPlan, **knobs: Any) -> dict[str, Any]:
    values = {
        "env": {PLAN_JSON_ENV: pod_plan(plan, load).model_dump_json(), "AWS_REGION": load.region},
        "results_uri": RESULTS,
        "cpu": load.cpu,
        "memory": load.memory,
        "deadline_s": pod_deadline_s(plan),
        "node_selector": load.node_selector,
        "toleration": load.toleration,
    }
    return render_runner_pod(load.image, **(values | knobs))


def env_of(pod: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}


def test_the_pod_lands_on_the_node_group_terraform_labels_and_taints_for_load(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    (locals_,) = unquoted(hcl2.load((EKS / "main.tf").open())["locals"])
    group = locals_["node_groups"]["loadgen"]
    (taint,) = group["taints"]
    spec = pod_for(load, plan)["spec"]
    assert spec["nodeSelector"] == group["labels"]
    (toleration,) = spec["tolerations"]
    assert (toleration["key"], toleration["value"]) == (taint["key"], taint["value"])
    assert (toleration["effect"], taint["effect"]) == ("NoSchedule", "NO_SCHEDULE")
    outputs = {
        name: body
        for block in unquoted(hcl2.load((EKS / "outputs.tf").open())["output"])
        for name, body in block.items()
    }
    assert outputs["loadgen_toleration"]["value"] == toleration == load.toleration


def test_the_pod_acts_on_aws_only_through_its_irsa_service_account(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    (namespace, account, policy) = render_loadgen_space(
        role_arn=load.role_arn, namespace=load.namespace, service_account=load.service_account
    )
    assert account["metadata"]["annotations"][ROLE_ARN_ANNOTATION] == ROLE_ARN
    assert {doc["metadata"].get("namespace") for doc in (account, policy)} == {"nlp-bench-loadgen"}
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert policy["spec"]["ingress"] == []  # nothing connects to the runner
    spec = pod_for(load, plan)["spec"]
    assert spec["serviceAccountName"] == account["metadata"]["name"]
    assert spec["automountServiceAccountToken"] is False  # IRSA projects its own token
    (container,) = spec["containers"]
    assert set(env_of(pod_for(load, plan))) == {
        PLAN_JSON_ENV,
        "AWS_REGION",
        "HOME",
        "PYTHONUNBUFFERED",
    }
    assert all(set(e) == {"name", "value"} for e in container["env"])  # no valueFrom, no Secret
    assert "envFrom" not in container
    assert all("emptyDir" in volume for volume in spec["volumes"])
    with pytest.raises(ManifestError, match="not an IAM role ARN"):
        render_loadgen_space(role_arn="nlp-bench-loadgen")


def test_nothing_but_the_templates_variables_can_reach_the_pod(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "GROQ_API_KEY", "AWS_PROFILE"):
        with pytest.raises(ManifestError, match=f"{name} is not among the runner pod's variables"):
            pod_for(load, plan, env={name: "canary"})


def test_the_pod_gets_a_core_per_locust_process_and_its_memory_as_request_and_limit(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    (container,) = pod_for(load, plan)["spec"]["containers"]
    resources = container["resources"]
    assert resources["requests"]["cpu"] == resources["limits"]["cpu"] == "3"
    assert resources["requests"]["memory"] == resources["limits"]["memory"] == "3072Mi"
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_pod_gets_the_resolved_plan_with_its_processes_and_its_own_run_directory(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    pod = pod_for(load, plan)
    sent = RepetitionPlan.model_validate_json(env_of(pod)[PLAN_JSON_ENV])
    assert sent.workers == load.processes
    assert sent.run_dir == Path("/work/loadgen") / plan.run_id
    assert sent.model_dump(exclude={"workers", "run_dir"}) == plan.model_dump(
        exclude={"workers", "run_dir"}
    )
    # The same requests at the same intended times.
    assert sent.schedule().offsets_s.tolist() == plan.schedule().offsets_s.tolist()
    assert env_of(pod)["AWS_REGION"] == "eu-west-1"
    (container,) = pod["spec"]["containers"]
    assert container["image"] == IMAGE
    assert container["command"][:3] == ["python", "-m", "nlp_bench_pipeline.loadgen.in_pod"]
    assert container["command"][container["command"].index("--results") + 1] == RESULTS
    assert pod["spec"]["activeDeadlineSeconds"] == pod_deadline_s(plan) > plan.deadline_s


def test_a_tagged_image_or_a_results_location_that_is_not_s3_is_refused(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    with pytest.raises(ManifestError, match="not pinned by digest"):
        render_runner_pod(
            "nlp-bench-pipeline:latest",
            env={},
            results_uri=RESULTS,
            cpu="1",
            memory="1Gi",
            deadline_s=600,
        )
    with pytest.raises(ManifestError, match="results_uri"):
        pod_for(load, plan, results_uri="/tmp/results/")


def test_pipes_k8s_client_builds_its_pod_from_the_rendered_metadata_and_spec(
    load: InRegionLoad, plan: RepetitionPlan
) -> None:
    pod = pod_for(load, plan, annotations={"nlp-bench/run-id": plan.run_id})
    body = build_pod_body(
        pod_name="dagster-run-load-test-run-1",
        image=None,
        command=None,
        env_vars={"DAGSTER_PIPES_CONTEXT": "ctx", "DAGSTER_PIPES_MESSAGES": "msg"},
        base_pod_meta=pod["metadata"],
        base_pod_spec=pod["spec"],
    )
    assert isinstance(body, kubernetes.client.V1Pod)
    assert body.metadata.annotations["nlp-bench/run-id"] == plan.run_id
    assert body.spec.node_selector == {"nlp-bench/role": "loadgen"}
    assert body.spec.service_account_name == "nlp-bench-loadgen"
    (container,) = body.spec.containers
    assert container.name == "runner"
    names = [e.name for e in container.env]
    assert names[-2:] == ["DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"]


def test_every_resource_level_checkov_skip_in_the_manifests_gives_its_reason() -> None:
    skips = 0
    for path in sorted((ROOT / "infra" / "k8s").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            for key, value in ((doc or {}).get("metadata", {}).get("annotations") or {}).items():
                if key.startswith("checkov.io/skip"):
                    skips += 1
                    check, _, reason = value.partition("=")
                    assert check.startswith("CKV"), f"{path.name}: {value}"
                    assert len(reason) > 40, f"{path.name}: {check} has no reason"
    assert skips
