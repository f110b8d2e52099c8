"""The EKS manifests: templates in infra/k8s rendered with a digest-pinned image and the knobs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlp_bench_pipeline.targets.aws_eks.manifests import (
    DEFAULT_TEMPLATES_DIR,
    Hpa,
    ManifestError,
    check_image,
    main,
    render_manifests,
)

DIGEST = "sha256:" + "ab" * 32
SERVICE_IMAGE = f"123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@{DIGEST}"


def by_kind(documents: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in documents if d["kind"] == kind]


def one(documents: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (doc,) = by_kind(documents, kind)
    return doc


def test_deployment_runs_exactly_the_given_digest() -> None:
    container = one(render_manifests(SERVICE_IMAGE), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["image"] == SERVICE_IMAGE


@pytest.mark.parametrize(
    "image",
    [
        "nlp-bench-service:latest",
        "nlp-bench-service",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service:abc123",
        f"nlp-bench-service:v1@{DIGEST}",
        "nlp-bench-service@sha256:abc",
        f"nlp-bench-service@{DIGEST.upper()}",
    ],
)
def test_an_image_not_pinned_by_digest_alone_is_refused(image: str) -> None:
    with pytest.raises(ManifestError, match="not pinned by digest"):
        render_manifests(image)
    with pytest.raises(ManifestError, match="not pinned by digest"):
        check_image(image)


def test_a_registry_with_a_port_is_a_valid_digest_reference() -> None:
    assert check_image(f"registry.local:5000/team/service@{DIGEST}")


def test_service_probes_gate_traffic_on_the_loaded_model() -> None:
    container = one(render_manifests(SERVICE_IMAGE), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]
    assert container["startupProbe"]["httpGet"]["path"] == "/readyz"
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 120  # a full model load
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def service_pod_spec(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return one(documents, "Deployment")["spec"]["template"]["spec"]


def test_the_service_pod_is_non_root_read_only_and_unprivileged() -> None:
    spec = service_pod_spec(render_manifests(SERVICE_IMAGE))
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert spec["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in spec["volumes"]}
    for container in spec["containers"]:
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        assert context["privileged"] is False
        assert context["capabilities"]["drop"] == ["ALL"]
        assert context["runAsUser"] >= 10000
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], "/tmp must be a writable emptyDir"


def test_cpu_and_memory_are_both_request_and_limit() -> None:
    documents = render_manifests(SERVICE_IMAGE, cpu="1500m", memory="3Gi")
    resources = one(documents, "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "resources"
    ]
    for bound in ("requests", "limits"):
        assert resources[bound]["cpu"] == "1500m"
        assert resources[bound]["memory"] == "3Gi"


def test_threads_follow_the_cpu_limit_and_the_pod_name_is_the_environment_id() -> None:
    env = one(render_manifests(SERVICE_IMAGE), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ][0]["env"]
    by_name = {e["name"]: e for e in env}
    assert by_name["NLP_BENCH_THREADS"]["valueFrom"]["resourceFieldRef"]["resource"] == (
        "limits.cpu"
    )
    assert by_name["NLP_BENCH_ENVIRONMENT_ID"]["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.name"
    )


def test_extra_env_is_added_and_the_manifests_own_variables_cannot_be_overridden() -> None:
    env = one(render_manifests(SERVICE_IMAGE, env={"NLP_BENCH_BATCH_MAX_SIZE": "8"}), "Deployment")[
        "spec"
    ]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "NLP_BENCH_BATCH_MAX_SIZE", "value": "8"} in env
    with pytest.raises(ManifestError, match="NLP_BENCH_THREADS is set by the manifest"):
        render_manifests(SERVICE_IMAGE, env={"NLP_BENCH_THREADS": "4"})


def test_without_an_hpa_the_deployment_runs_fixed_replicas() -> None:
    documents = render_manifests(SERVICE_IMAGE, replicas=3)
    assert one(documents, "Deployment")["spec"]["replicas"] == 3
    assert by_kind(documents, "HorizontalPodAutoscaler") == []


def test_with_an_hpa_the_autoscaler_owns_the_replica_count() -> None:
    documents = render_manifests(
        SERVICE_IMAGE, hpa=Hpa(min_replicas=2, max_replicas=6, cpu_utilization=70)
    )
    assert "replicas" not in one(documents, "Deployment")["spec"]
    hpa = one(documents, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert metric["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    assert hpa["spec"]["scaleTargetRef"]["name"] == one(documents, "Deployment")["metadata"]["name"]


def test_a_disruption_budget_covers_the_service_pods() -> None:
    documents = render_manifests(SERVICE_IMAGE)
    pdb = one(documents, "PodDisruptionBudget")
    labels = one(documents, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_ingress_is_an_alb_to_pod_ips_health_checked_on_readyz() -> None:
    documents = render_manifests(
        SERVICE_IMAGE,
        inbound_cidrs=["10.1.0.0/16"],
        tags={"project": "nlp-bench", "expiry": "2026-12-24T18:00:00Z"},
    )
    ingress = one(documents, "Ingress")
    annotations = ingress["metadata"]["annotations"]
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations["alb.ingress.kubernetes.io/target-type"] == "ip"
    assert annotations["alb.ingress.kubernetes.io/healthcheck-path"] == "/readyz"
    assert annotations["alb.ingress.kubernetes.io/scheme"] == "internal"
    assert annotations["alb.ingress.kubernetes.io/inbound-cidrs"] == "10.1.0.0/16"
    assert annotations["alb.ingress.kubernetes.io/tags"] == (
        "expiry=2026-12-24T18:00:00Z,project=nlp-bench"
    )
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == one(documents, "Service")["metadata"]["name"]


def test_the_service_admits_only_the_inbound_networks_and_its_own_namespace() -> None:
    policy = one(
        render_manifests(SERVICE_IMAGE, inbound_cidrs=["10.1.0.0/16", "10.2.0.0/16"]),
        "NetworkPolicy",
    )
    peers = policy["spec"]["ingress"][0]["from"]
    assert [p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p] == ["10.1.0.0/16", "10.2.0.0/16"]
    assert any("podSelector" in p for p in peers)
    assert policy["spec"]["egress"] == []


def test_every_object_lands_in_the_given_namespace() -> None:
    documents = render_manifests(SERVICE_IMAGE, namespace="bench-7")
    assert one(documents, "Namespace")["metadata"]["name"] == "bench-7"
    for doc in documents:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "bench-7", doc["kind"]


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"replicas": 0}, "replicas"),
        ({"cpu": "lots"}, "not a positive Kubernetes quantity"),
        ({"memory": "0Gi"}, "not a positive Kubernetes quantity"),
        ({"namespace": "Bench_7"}, "not a DNS-1123 label"),
        ({"inbound_cidrs": ["10.0.0.0/33"]}, "is not a CIDR"),
        ({"inbound_cidrs": []}, "inbound_cidrs"),
        ({"tags": {"owner": "a,b"}}, "cannot carry"),
        ({"ingress_scheme": "public"}, "ingress_scheme"),
    ],
)
def test_a_bad_knob_is_one_clear_error(knobs: dict[str, Any], message: str) -> None:
    with pytest.raises(ManifestError, match=message) as caught:
        render_manifests(SERVICE_IMAGE, **knobs)
    assert "\n" not in str(caught.value)


def test_hpa_bounds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="min_replicas 5 is above max_replicas 2"):
        Hpa(min_replicas=5, max_replicas=2)


def test_rendering_never_changes_the_next_render() -> None:
    first = render_manifests(SERVICE_IMAGE, replicas=5, namespace="a")
    second = render_manifests(SERVICE_IMAGE)
    assert one(first, "Deployment")["spec"]["replicas"] == 5
    assert one(second, "Deployment")["spec"]["replicas"] == 2
    assert one(second, "Namespace")["metadata"]["name"] == "nlp-bench"


def test_templates_come_from_the_given_directory(tmp_path: Path) -> None:
    shutil.copytree(DEFAULT_TEMPLATES_DIR, tmp_path / "k8s")
    deployment = tmp_path / "k8s" / "service" / "deployment.yaml"
    doc = yaml.safe_load(deployment.read_text())
    doc["metadata"]["labels"]["variant"] = "copied"
    deployment.write_text(yaml.safe_dump(doc))
    rendered = render_manifests(SERVICE_IMAGE, templates_dir=tmp_path / "k8s")
    assert one(rendered, "Deployment")["metadata"]["labels"]["variant"] == "copied"
    with pytest.raises(ManifestError, match="template"):
        render_manifests(SERVICE_IMAGE, templates_dir=tmp_path / "missing")


def test_every_template_on_disk_pins_a_digest() -> None:
    checked = []
    for path in sorted(DEFAULT_TEMPLATES_DIR.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc["kind"] == "Deployment":
                spec = doc["spec"]["template"]["spec"]
            elif doc["kind"] == "Pod":
                spec = doc["spec"]
            else:
                continue
            for container in spec["containers"]:
                assert check_image(container["image"]), path
            checked.append(path.name)
    assert checked == ["runner-pod.yaml", "deployment.yaml"]


def test_service_pods_run_on_the_service_nodes_without_the_loadgen_toleration() -> None:
    spec = service_pod_spec(render_manifests(SERVICE_IMAGE))
    assert spec["nodeSelector"] == {"nlp-bench/role": "service"}
    assert "tolerations" not in spec


def test_cli_prints_applyable_yaml(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--image", SERVICE_IMAGE, "--max-replicas", "3", "--tag", "project=x"]) == 0
    documents = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in documents] == [
        "Namespace",
        "ServiceAccount",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "NetworkPolicy",
    ]


def test_cli_bad_input_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--image", "nlp-bench-service:latest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("manifests: image")
    assert err.count("\n") == 1
    assert main(["--image", SERVICE_IMAGE, "--tag", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err
