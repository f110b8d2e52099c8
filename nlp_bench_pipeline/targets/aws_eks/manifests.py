"""Render the EKS manifests: the templates in ``infra/k8s`` with an image digest and the knobs.

The templates are complete manifests with placeholder values (so checkov scans what is applied);
this module loads them as dicts, sets what a deployment chooses (image, namespace, replicas or an
HPA, CPU and memory, the ALB's scheme and allowed networks, tags) and returns new dicts for the
kubernetes client or ``kubectl apply -f -``. It is pure: the only input besides the arguments is
the template directory, itself an argument. An image must be pinned by digest: a tag can move
under a benchmark, a digest cannot.

    python -m nlp_bench_pipeline.targets.aws_eks.manifests --image <repo>@sha256:<hex> \
        | kubectl apply -f -
"""

from __future__ import annotations

import argparse
import copy
import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_TEMPLATES_DIR = Path(__file__).resolve().parents[3] / "infra" / "k8s"
SERVICE_TEMPLATES = (
    "namespace.yaml",
    "service-account.yaml",
    "deployment.yaml",
    "service.yaml",
    "ingress.yaml",
    "hpa.yaml",
    "pdb.yaml",
    "network-policy.yaml",
)
SERVICE_CONTAINER = "service"
# IRSA's service-account annotation; the load generator's renderer (runner_pod.py) sets it.
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"

# <registry[:port]/>path@sha256:<64 hex>, the distribution reference grammar with a digest and
# no tag (a tag beside a digest is ignored by the runtime and only misleads a reader).
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DIGEST_PINNED = re.compile(
    rf"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*@sha256:[0-9a-f]{{64}}$"
)
_QUANTITY = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:m|k|M|G|T|Ki|Mi|Gi|Ti)?$")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
# ALB tag values: letters, digits, spaces and + - = . _ : / @ (the controller's annotation
# splits on commas and the first =, so neither may appear inside a key or value).
_TAG_TEXT = re.compile(r"^[\w .:/+=@-]{1,256}$")


class ManifestError(ValueError):
    """A knob or template is unusable; the message names it in one line."""


def check_image(image: str) -> str:
    """Return ``image`` when it is pinned by digest (``<repo>@sha256:<64 hex>``), else raise."""
    if not _DIGEST_PINNED.match(image):
        raise ManifestError(
            f"image {image!r} is not pinned by digest: use <repository>@sha256:<64 hex>, "
            "never a tag (a tag can be moved under a running benchmark)"
        )
    return image


class Hpa(BaseModel):
    """A HorizontalPodAutoscaler on CPU: replica bounds and the target utilisation."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_replicas: int = Field(1, ge=1)
    max_replicas: int = Field(4, ge=1)
    cpu_utilization: int = Field(60, ge=1, le=100, description="target average CPU, percent")
    scale_down_stabilization_s: int = Field(300, ge=0, le=3600)

    @model_validator(mode="after")
    def _bounds(self) -> Hpa:
        if self.min_replicas > self.max_replicas:
            raise ValueError(
                f"min_replicas {self.min_replicas} is above max_replicas {self.max_replicas}"
            )
        return self


class _Common(BaseModel):
    """The knobs every workload shares: this module's service and runner_pod.py's pod."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    image: str
    namespace: str
    cpu: str
    memory: str

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        return check_image(value)

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError(f"namespace {value!r} is not a DNS-1123 label")
        return value

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not _QUANTITY.match(value) or float(re.sub(r"[a-zA-Z]+$", "", value)) <= 0:
            raise ValueError(f"{value!r} is not a positive Kubernetes quantity (e.g. 1, 500m, 2Gi)")
        return value


class _ServiceKnobs(_Common):
    replicas: int = Field(ge=1)
    hpa: Hpa | None
    ingress_scheme: Literal["internal", "internet-facing"]
    inbound_cidrs: tuple[str, ...] = Field(min_length=1)
    tags: dict[str, str]
    env: dict[str, str]

    @field_validator("inbound_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr)
            except ValueError:
                raise ValueError(f"inbound_cidrs: {cidr!r} is not a CIDR") from None
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not (_TAG_TEXT.match(key) and _TAG_TEXT.match(text)) or "=" in key:
                raise ValueError(f"tag {key}={text} has characters an ALB tag cannot carry")
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        reserved = {"NLP_BENCH_ENVIRONMENT_ID", "NLP_BENCH_THREADS"} & value.keys()
        if reserved:
            raise ValueError(f"env: {', '.join(sorted(reserved))} is set by the manifest itself")
        return value


def render_manifests(
    image: str,
    *,
    namespace: str = "nlp-bench",
    replicas: int = 2,
    cpu: str = "1",
    memory: str = "2Gi",
    hpa: Hpa | None = None,
    ingress_scheme: Literal["internal", "internet-facing"] = "internal",
    inbound_cidrs: Sequence[str] = ("10.42.0.0/16",),
    tags: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    templates_dir: Path = DEFAULT_TEMPLATES_DIR,
) -> list[dict[str, Any]]:
    """The service's objects, in apply order: Namespace, ServiceAccount, Deployment, Service,
    Ingress, [HPA,] PodDisruptionBudget, NetworkPolicy.

    ``cpu``/``memory`` are both request and limit (Guaranteed QoS: the figures were measured
    with exactly that CPU). Without ``hpa`` the Deployment runs ``replicas`` pods; with one, the
    Deployment leaves ``replicas`` unset (a re-apply must not reset what the HPA chose) and the
    HPA holds the bounds. ``inbound_cidrs`` are the networks the ALB and the pods admit (the
    VPC's range: Terraform output ``eks.ingress_inbound_cidrs``); ``tags`` go on the ALB and its
    target groups (Terraform output ``tags``, so the teardown guard finds them by expiry).
    ``labels`` and ``annotations`` go on every object's own metadata (the deployment id and
    expiry the guard selects by), never on the pod template, so changing them rolls no pod.
    """
    knobs = _validated(
        _ServiceKnobs,
        image=image,
        namespace=namespace,
        cpu=cpu,
        memory=memory,
        replicas=replicas,
        hpa=hpa,
        ingress_scheme=ingress_scheme,
        inbound_cidrs=tuple(inbound_cidrs),
        tags=dict(tags or {}),
        env=dict(env or {}),
    )
    documents = _load(templates_dir / "service", SERVICE_TEMPLATES)
    rendered: list[dict[str, Any]] = []
    for doc in documents:
        _set_namespace(doc, knobs.namespace)
        _add_metadata(doc, labels or {}, annotations or {})
        kind = doc["kind"]
        if kind == "Deployment":
            _render_deployment(doc, knobs)
        elif kind == "Ingress":
            _render_ingress(doc, knobs)
        elif kind == "NetworkPolicy":
            _render_service_network_policy(doc, knobs)
        elif kind == "HorizontalPodAutoscaler":
            if knobs.hpa is None:
                continue
            _render_hpa(doc, knobs.hpa)
        rendered.append(doc)
    return rendered


# --------------------------------------------------------------------------- rendering


def _render_deployment(doc: dict[str, Any], knobs: _ServiceKnobs) -> None:
    spec = doc["spec"]
    if knobs.hpa is None:
        spec["replicas"] = knobs.replicas
    else:
        spec.pop("replicas", None)
    container = _container(doc, SERVICE_CONTAINER)
    container["image"] = knobs.image
    _set_cpu_memory(container, knobs.cpu, knobs.memory)
    container["env"] = [
        *(e for e in container.get("env", []) if e["name"] not in knobs.env),
        *({"name": name, "value": value} for name, value in sorted(knobs.env.items())),
    ]


def _render_ingress(doc: dict[str, Any], knobs: _ServiceKnobs) -> None:
    annotations = doc["metadata"]["annotations"]
    annotations["alb.ingress.kubernetes.io/scheme"] = knobs.ingress_scheme
    annotations["alb.ingress.kubernetes.io/inbound-cidrs"] = ",".join(knobs.inbound_cidrs)
    if knobs.tags:
        annotations["alb.ingress.kubernetes.io/tags"] = ",".join(
            f"{key}={value}" for key, value in sorted(knobs.tags.items())
        )


def _render_service_network_policy(doc: dict[str, Any], knobs: _ServiceKnobs) -> None:
    rule = doc["spec"]["ingress"][0]
    pods = [peer for peer in rule["from"] if "ipBlock" not in peer]
    rule["from"] = [{"ipBlock": {"cidr": cidr}} for cidr in knobs.inbound_cidrs] + pods


def _render_hpa(doc: dict[str, Any], hpa: Hpa) -> None:
    spec = doc["spec"]
    spec["minReplicas"] = hpa.min_replicas
    spec["maxReplicas"] = hpa.max_replicas
    spec["metrics"][0]["resource"]["target"]["averageUtilization"] = hpa.cpu_utilization
    spec["behavior"]["scaleDown"]["stabilizationWindowSeconds"] = hpa.scale_down_stabilization_s


def _set_cpu_memory(container: dict[str, Any], cpu: str, memory: str) -> None:
    resources = container["resources"]
    for bound in ("requests", "limits"):
        resources[bound]["cpu"] = cpu
        resources[bound]["memory"] = memory


def _add_metadata(
    doc: dict[str, Any], labels: Mapping[str, str], annotations: Mapping[str, str]
) -> None:
    metadata = doc["metadata"]
    if labels:
        metadata["labels"] = {**metadata.get("labels", {}), **labels}
    if annotations:
        metadata["annotations"] = {**metadata.get("annotations", {}), **annotations}


def _set_namespace(doc: dict[str, Any], namespace: str) -> None:
    if doc["kind"] == "Namespace":
        doc["metadata"]["name"] = namespace
    else:
        doc["metadata"]["namespace"] = namespace


def _container(doc: dict[str, Any], name: str) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    for container in containers:
        if container["name"] == name:
            return container
    raise ManifestError(f"{doc['kind']} {doc['metadata']['name']} has no container {name!r}")


# --------------------------------------------------------------------------- plumbing


def _validated(model: type[BaseModel], **values: Any) -> Any:
    try:
        return model(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        where = ".".join(str(part) for part in error["loc"])
        # A field's own validator names it already; pydantic's built-in messages do not.
        prefix = f"{where}: " if where and not message.startswith(where.split(".")[0]) else ""
        raise ManifestError(f"{prefix}{message}") from None


def _load(directory: Path, names: Sequence[str]) -> list[dict[str, Any]]:
    """Fresh copies of the templates, in apply order (a caller may mutate what it gets)."""
    documents: list[dict[str, Any]] = []
    for name in names:
        path = directory / name
        try:
            loaded = [d for d in yaml.safe_load_all(path.read_text()) if d]
        except (OSError, yaml.YAMLError) as exc:
            raise ManifestError(f"template {path}: {exc}") from None
        documents += [copy.deepcopy(d) for d in loaded]
    return documents


def main(argv: list[str] | None = None) -> int:
    """Print the service's manifests as one multi-document YAML stream."""
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.targets.aws_eks.manifests",
        description="Render the service's EKS manifests (see infra/k8s/README.md).",
    )
    parser.add_argument("--image", required=True, help="<repository>@sha256:<64 hex>")
    parser.add_argument("--namespace", default="nlp-bench")
    parser.add_argument("--replicas", type=int, default=2, help="without --max-replicas")
    parser.add_argument("--cpu", default="1", help="request = limit, e.g. 1 or 1500m")
    parser.add_argument("--memory", default="2Gi", help="request = limit, e.g. 2Gi")
    parser.add_argument("--min-replicas", type=int, default=1, help="with --max-replicas")
    parser.add_argument("--max-replicas", type=int, help="add an HPA up to this many pods")
    parser.add_argument("--cpu-target", type=int, default=60, help="HPA CPU percent")
    parser.add_argument("--scheme", choices=["internal", "internet-facing"], default="internal")
    parser.add_argument(
        "--inbound-cidr", action="append", help="networks the ALB admits (repeat; default the VPC)"
    )
    parser.add_argument("--tag", action="append", default=[], help="KEY=VALUE for the ALB")
    parser.add_argument("--templates", type=Path, default=DEFAULT_TEMPLATES_DIR)
    args = parser.parse_args(argv)
    try:
        tags = dict(_key_value(t) for t in args.tag)
        hpa = None
        if args.max_replicas is not None:
            hpa = _validated(
                Hpa,
                min_replicas=args.min_replicas,
                max_replicas=args.max_replicas,
                cpu_utilization=args.cpu_target,
            )
        documents = render_manifests(
            args.image,
            namespace=args.namespace,
            replicas=args.replicas,
            cpu=args.cpu,
            memory=args.memory,
            hpa=hpa,
            ingress_scheme=args.scheme,
            inbound_cidrs=args.inbound_cidr or ("10.42.0.0/16",),
            tags=tags,
            templates_dir=args.templates,
        )
    except ManifestError as exc:
        print(f"manifests: {exc}", file=sys.stderr)
        return 2
    yaml.safe_dump_all(documents, sys.stdout, sort_keys=False)
    return 0


def _key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ManifestError(f"--tag {text!r} is not KEY=VALUE")
    return key, value


if __name__ == "__main__":
    sys.exit(main())
