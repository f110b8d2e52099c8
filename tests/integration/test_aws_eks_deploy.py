"""The aws-eks target against a fake Kubernetes API server (tests/fixtures/fake_kubernetes.py)
and moto's STS: apply, rollout, the wait for the load balancer's address, the health check
through it, events and samples, idempotent re-deploy, teardown, and EKS token authentication."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes.client.rest import ApiException

from nlp_bench_pipeline.client import RetryPolicy
from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_eks import AwsEksTarget
from nlp_bench_pipeline.targets.aws_eks.access import (
    ClusterAccess,
    TokenSource,
    api_client,
    describe_cluster,
    eks_token,
    presigned_url,
)
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi
from nlp_bench_pipeline.targets.aws_eks.rollout import ClusterWaitError
from tests.fixtures.fake_kubernetes import FakeKubernetes

pytestmark = pytest.mark.slow

CLUSTER = "nlp-bench"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:" + "ab" * 32
FAST_HEALTH = RetryPolicy(max_attempts=40, base_s=0.05, cap_s=0.2, budget_s=15)


@pytest.fixture
def fake(moto_url: str) -> Iterator[FakeKubernetes]:
    with FakeKubernetes(cluster_name=CLUSTER, sts_endpoint=moto_url) as server:
        yield server


def eks(clients: AwsClients, fake: FakeKubernetes, tmp_path: Path, **kwargs: Any) -> AwsEksTarget:
    return AwsEksTarget(
        clients,
        cluster_name=CLUSTER,
        owner="bench@example.com",
        work_dir=tmp_path,
        access=ClusterAccess(CLUSTER, fake.url, None),
        poll_s=0.05,
        observe_interval_s=0.1,
        health_policy=FAST_HEALTH,
        **kwargs,
    )


def spec(replicas: tuple[int, int] = (2, 2), **platform: Any) -> DeploymentSpec:
    return DeploymentSpec(
        target="aws-eks",
        min_replicas=replicas[0],
        max_replicas=replicas[1],
        platform={
            "image": IMAGE,
            "rollout_timeout_s": 10,
            "load_balancer_timeout_s": 10,
            **platform,
        },
    )


def test_deploy_applies_every_manifest_and_serves_through_the_load_balancer(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    started = time.monotonic()
    deployment = target.deploy(spec())
    assert time.monotonic() - started >= fake.lb_delay_s  # the address took its time
    patches = [(path, kind) for method, path, kind in fake.requests if method == "PATCH"]
    assert len(patches) == 7  # Namespace … NetworkPolicy, no HPA for fixed replicas
    assert {kind for _, kind in patches} == {"application/apply-patch+yaml"}
    assert deployment.endpoint == f"http://127.0.0.1:{fake.alb_port}"
    assert deployment.details["health"]["checked"] is True
    assert deployment.details["load_balancer"] == deployment.endpoint
    pod_spec = fake.get("apps/v1", "deployments", "nlp-bench", "nlp-bench-service")["spec"]
    assert pod_spec["replicas"] == 2
    assert pod_spec["template"]["spec"]["containers"][0]["image"] == IMAGE
    target.teardown()


def test_the_deploy_waits_for_the_load_balancers_address_and_its_first_healthy_answer(
    clients: AwsClients, moto_url: str, tmp_path: Path
) -> None:
    with FakeKubernetes(
        cluster_name=CLUSTER, sts_endpoint=moto_url, lb_delay_s=1.0, alb_healthy_s=0.5
    ) as slow:
        target = eks(clients, slow, tmp_path)
        deployment = target.deploy(spec())
        ingress_reads = [p for m, p, _ in slow.requests if m == "GET" and "/ingresses/" in p]
        assert len(ingress_reads) > 5  # polled until the controller wrote the address
        health = deployment.details["health"]
        assert health["seen"].get("unknown_5xx", 0) >= 1  # the ALB's 503s, retried
        assert health["seconds_to_first_success"] >= 0.4
        target.teardown()


def test_objects_carry_the_deployment_and_its_expiry(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    deployment = target.deploy(spec())
    namespace = fake.get("v1", "namespaces", None, "nlp-bench")
    labels, annotations = namespace["metadata"]["labels"], namespace["metadata"]["annotations"]
    assert labels["nlp-bench/deployment"] == deployment.deployment_id
    assert labels["app.kubernetes.io/managed-by"] == "nlp-bench-pipeline"
    assert annotations["nlp-bench/expiry"] == deployment.details["expiry"]
    ingress = fake.get("networking.k8s.io/v1", "ingresses", "nlp-bench", "nlp-bench-service")
    alb_tags = ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/tags"]
    assert f"expiry={deployment.details['expiry']}" in alb_tags
    target.teardown()


def test_the_same_spec_again_changes_nothing_and_a_new_one_rolls_out(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    first = target.deploy(spec())
    assert target.deploy(spec()) is first
    again = eks(clients, fake, tmp_path).deploy(spec())  # another process, same spec
    assert again.details["changed"] == []
    bigger = spec().model_copy(update={"cpu": ResourceQuantity(request=2, limit=2)})
    updated = target.deploy(bigger)
    assert updated.details["changed"] == ["Deployment/nlp-bench-service updated"]
    assert updated.deployment_id == first.deployment_id
    container = fake.get("apps/v1", "deployments", "nlp-bench", "nlp-bench-service")["spec"][
        "template"
    ]["spec"]["containers"][0]
    assert container["resources"]["limits"]["cpu"] == "2000m"
    target.teardown()


def test_pod_and_hpa_status_become_the_same_events_the_local_target_records(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    deployment = target.deploy(spec(replicas=(1, 3)))
    assert (
        "replicas"
        not in fake.objects[("apps/v1", "deployments", "nlp-bench", "nlp-bench-service")]["spec"]
    )
    fake.scale("nlp-bench", "nlp-bench-service", 3, utilization=95)
    fake.add_node("node-3")
    target.wait_ready(timeout_s=10)
    events = target.events(since=deployment.started_at)
    kinds = [e.kind for e in events]
    assert kinds.count("pod_scheduled") == 3
    assert kinds.count("pod_ready") == 3
    (scale,) = [e for e in events if e.kind == "scale_out"]
    assert (scale.detail["from_replicas"], scale.detail["to_replicas"]) == (1, 3)
    assert scale.detail["metric_value"] == 95
    assert [e.environment_id for e in events if e.kind == "node_added"] == ["node-3"]
    ready = next(e for e in events if e.kind == "pod_ready")
    assert ready.init_ms == pytest.approx(fake.pod_ready_s * 1000 - 20, abs=5)
    samples = target.samples()
    assert samples
    assert {s.cpu_pct for s in samples} == {25.0}
    assert {s.rss_mb for s in samples} == {300.0}
    target.teardown()


def test_switching_to_fixed_replicas_removes_the_hpa(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    target.deploy(spec(replicas=(1, 3)))
    fixed = target.deploy(spec(replicas=(2, 2)))
    assert fixed.details["pruned"] == ["HorizontalPodAutoscaler/nlp-bench-service"]
    hpa_key = ("autoscaling/v2", "horizontalpodautoscalers", "nlp-bench", "nlp-bench-service")
    assert hpa_key not in fake.objects
    target.teardown()


def test_teardown_deletes_the_ingress_first_and_waits_until_everything_is_gone(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    target = eks(clients, fake, tmp_path)
    deployment = target.deploy(spec())
    before = len(fake.requests)
    target.teardown()
    deletes = [path for method, path, _ in fake.requests[before:] if method == "DELETE"]
    assert "/ingresses/" in deletes[0]
    assert deletes[-1] == "/api/v1/namespaces/nlp-bench"
    assert fake.objects == {}
    removed = target.last_deployment.details["removed"]
    assert removed[0] == "Ingress/nlp-bench-service"
    assert removed[-1] == "Namespace/nlp-bench"
    assert target.deployment is None
    assert target.events(since=deployment.started_at)  # still readable after teardown


def test_a_rollout_that_does_not_finish_in_time_fails_with_what_it_saw(
    clients: AwsClients, moto_url: str, tmp_path: Path
) -> None:
    with FakeKubernetes(cluster_name=CLUSTER, sts_endpoint=moto_url, pod_ready_s=60) as stuck:
        target = eks(clients, stuck, tmp_path)
        with pytest.raises(ClusterWaitError, match="0 of 2 updated replicas available"):
            target.deploy(spec(rollout_timeout_s=0.3))


def test_the_token_is_a_presigned_get_caller_identity_bound_to_the_cluster(
    clients: AwsClients,
) -> None:
    token = eks_token(clients, CLUSTER)
    assert token.startswith("k8s-aws-v1.")
    assert "=" not in token  # base64url without padding, as aws eks get-token writes it
    query = parse_qs(urlsplit(presigned_url(token)).query)
    assert query["Action"] == ["GetCallerIdentity"]
    assert query["X-Amz-Expires"] == ["60"]
    assert "x-k8s-aws-id" in query["X-Amz-SignedHeaders"][0].split(";")


def test_the_api_server_accepts_the_token_after_sts_vouches_for_it(
    clients: AwsClients, fake: FakeKubernetes, tmp_path: Path
) -> None:
    tokens = TokenSource(lambda: eks_token(clients, CLUSTER))
    kube = KubeApi(api_client(ClusterAccess(CLUSTER, fake.url, None), tokens, work_dir=tmp_path))
    assert kube.list("v1", "Node")
    assert len(fake.verified_tokens) == 1
    forged = TokenSource(lambda: "k8s-aws-v1.aHR0cHM6Ly9leGFtcGxlLmNvbS8")
    with pytest.raises(ApiException) as refused:
        KubeApi(api_client(ClusterAccess(CLUSTER, fake.url, None), forged, work_dir=tmp_path)).list(
            "v1", "Node"
        )
    assert refused.value.status == 401


def test_endpoint_and_ca_come_from_describe_cluster(clients: AwsClients) -> None:
    iam = clients.client("iam")
    role = iam.create_role(RoleName="eks-cluster", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    clients.client("eks").create_cluster(
        name="described", roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]}
    )
    access = describe_cluster(clients, "described")
    assert access.endpoint.startswith("https://")
    assert access.certificate_authority_data
