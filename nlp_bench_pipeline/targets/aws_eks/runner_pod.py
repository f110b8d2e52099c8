"""Render the load generator's pod for in-region load: the templates in ``infra/k8s/loadgen``.

Two parts, both plain dicts:

- :func:`render_loadgen_space` — what the pod needs to exist first, applied once per launch
  with server-side apply (so a second launch changes nothing): the load generator's Namespace,
  its ServiceAccount annotated with the IRSA role, and a NetworkPolicy admitting nothing in;
- :func:`render_runner_pod` — the Pod for one repetition, which Dagster's ``PipesK8sClient``
  creates (its ``metadata`` and ``spec`` are the client's ``base_pod_meta`` and
  ``base_pod_spec``; the client names the pod and adds its Pipes variables).

The pod's environment is the template's: the renderer sets values of the variables the template
declares and refuses any other name, so nothing from the pipeline's own environment — a key, a
token — can reach the pod through here. AWS access is the service account's IRSA role alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from nlp_bench_pipeline.targets.aws_eks.manifests import (
    _ROLE_ARN,
    DEFAULT_TEMPLATES_DIR,
    ROLE_ARN_ANNOTATION,
    ManifestError,
    _Common,
    _load,
    _set_cpu_memory,
    _set_namespace,
    _validated,
)

LOADGEN_DIR = "loadgen"
SPACE_TEMPLATES = ("runner-namespace.yaml", "service-account.yaml", "runner-network-policy.yaml")
POD_TEMPLATE = "runner-pod.yaml"
RUNNER_CONTAINER = "runner"
RESULTS_FLAG = "--results"


class _RunnerKnobs(_Common):
    service_account: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?$")
    env: dict[str, str]
    results_uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/\S*/$")
    node_selector: dict[str, str] = Field(min_length=1)
    toleration: dict[str, str]
    deadline_s: int = Field(ge=60, le=86_400)
    annotations: dict[str, str]

    @field_validator("toleration")
    @classmethod
    def _toleration(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"key", "operator", "value", "effect"}
        if unknown or "key" not in value:
            raise ValueError(f"toleration {value} is not a key/operator/value/effect mapping")
        return value


def render_loadgen_space(
    *,
    role_arn: str,
    namespace: str = "nlp-bench-loadgen",
    service_account: str = "nlp-bench-loadgen",
    templates_dir: Path = DEFAULT_TEMPLATES_DIR,
) -> list[dict[str, Any]]:
    """Namespace, ServiceAccount (IRSA ``role_arn``) and NetworkPolicy, in apply order."""
    if not _ROLE_ARN.match(role_arn):
        raise ManifestError(f"role_arn {role_arn!r} is not an IAM role ARN")
    documents = _load(templates_dir / LOADGEN_DIR, SPACE_TEMPLATES)
    for doc in documents:
        _set_namespace(doc, namespace)
        if doc["kind"] == "ServiceAccount":
            doc["metadata"]["name"] = service_account
            doc["metadata"].setdefault("annotations", {})[ROLE_ARN_ANNOTATION] = role_arn
    return documents


def render_runner_pod(
    image: str,
    *,
    env: Mapping[str, str],
    results_uri: str,
    cpu: str,
    memory: str,
    deadline_s: int,
    namespace: str = "nlp-bench-loadgen",
    service_account: str = "nlp-bench-loadgen",
    node_selector: Mapping[str, str] | None = None,
    toleration: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    templates_dir: Path = DEFAULT_TEMPLATES_DIR,
) -> dict[str, Any]:
    """The runner's Pod for one repetition.

    ``env`` sets values of the template's variables (the plan, the region) and may name no
    other; ``results_uri`` (``s3://bucket/prefix/``) is where the pod uploads its run
    directory; ``cpu``/``memory`` are request and limit (Guaranteed QoS: Locust's processes get
    the cores they were given); ``deadline_s`` becomes ``activeDeadlineSeconds``.
    ``node_selector`` and ``toleration`` (default: the template's, which match the Terraform
    node group) place it on the load-generator nodes; ``annotations`` go on the pod (a run id
    is too long for a label).
    """
    (pod,) = _load(templates_dir / LOADGEN_DIR, (POD_TEMPLATE,))
    spec = pod["spec"]
    knobs = _validated(
        _RunnerKnobs,
        image=image,
        namespace=namespace,
        cpu=cpu,
        memory=memory,
        service_account=service_account,
        env=dict(env),
        results_uri=results_uri,
        node_selector=dict(node_selector or spec["nodeSelector"]),
        toleration=dict(toleration or spec["tolerations"][0]),
        deadline_s=deadline_s,
        annotations=dict(annotations or {}),
    )
    _set_namespace(pod, knobs.namespace)
    metadata = pod["metadata"]
    metadata["annotations"] = {**metadata.get("annotations", {}), **knobs.annotations}
    spec["serviceAccountName"] = knobs.service_account
    spec["activeDeadlineSeconds"] = knobs.deadline_s
    spec["nodeSelector"] = knobs.node_selector
    spec["tolerations"] = [knobs.toleration]
    (container,) = [c for c in spec["containers"] if c["name"] == RUNNER_CONTAINER]
    container["image"] = knobs.image
    _set_cpu_memory(container, knobs.cpu, knobs.memory)
    _set_env(container, knobs.env)
    command = container["command"]
    command[command.index(RESULTS_FLAG) + 1] = knobs.results_uri
    return pod


def _set_env(container: dict[str, Any], values: Mapping[str, str]) -> None:
    declared = [entry["name"] for entry in container["env"]]
    undeclared = sorted(set(values) - set(declared))
    if undeclared:
        raise ManifestError(
            f"env: {', '.join(undeclared)} is not among the runner pod's variables "
            f"({', '.join(declared)}); the template is the pod's whole environment"
        )
    for entry in container["env"]:
        entry["value"] = values.get(entry["name"], entry["value"])
