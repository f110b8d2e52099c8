"""The few Kubernetes calls the deployer makes, on plain dicts, through the official client.

Objects are applied with server-side apply (``PATCH`` as ``application/apply-patch+yaml``, one
field manager, conflicts forced): one call that creates an object or updates it to exactly what
the manifest says, so a re-apply of the same manifests changes nothing. Reads and lists return
the API's JSON as dicts. The kinds are the ones ``manifests`` renders; a table maps each to its
REST path, so no discovery round-trips are needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

FIELD_MANAGER = "nlp-bench"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
OBJECT = {status: "object" for status in (200, 201, 202)}


@dataclass(frozen=True)
class Kind:
    """Where one kind lives in the REST API."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    def path(self, namespace: str | None, name: str | None = None) -> str:
        base = "/api/v1" if self.api_version == "v1" else f"/apis/{self.api_version}"
        where = f"/namespaces/{namespace}" if self.namespaced else ""
        return f"{base}{where}/{self.plural}" + (f"/{name}" if name else "")


KINDS = {
    (kind.api_version, kind.kind): kind
    for kind in (
        Kind("v1", "Namespace", "namespaces", namespaced=False),
        Kind("v1", "Node", "nodes", namespaced=False),
        Kind("v1", "ServiceAccount", "serviceaccounts"),
        Kind("v1", "Service", "services"),
        Kind("v1", "Pod", "pods"),
        Kind("apps/v1", "Deployment", "deployments"),
        Kind("networking.k8s.io/v1", "Ingress", "ingresses"),
        Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies"),
        Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
        Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets"),
        Kind("metrics.k8s.io/v1beta1", "PodMetrics", "pods"),
    )
}


def kind_of(api_version: str, kind: str) -> Kind:
    try:
        return KINDS[(api_version, kind)]
    except KeyError:
        raise ValueError(f"no REST path known for {api_version} {kind}") from None


class KubeApi:
    """Apply, read, list and delete objects as dicts."""

    def __init__(self, api_client: k8s.ApiClient, *, request_timeout_s: float = 30.0) -> None:
        self.api_client = api_client
        self.request_timeout_s = request_timeout_s

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Create or update ``document`` to exactly what it says (server-side apply)."""
        kind = kind_of(document["apiVersion"], document["kind"])
        metadata = document["metadata"]
        return self._call(
            kind.path(metadata.get("namespace"), metadata["name"]),
            "PATCH",
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            headers={"Content-Type": APPLY_CONTENT_TYPE},
            body=document,
        )

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            return self._call(kind_of(api_version, kind).path(namespace, name), "GET")
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        *,
        label_selector: str | None = None,
    ) -> list[dict[str, Any]]:
        query = [("labelSelector", label_selector)] if label_selector else []
        found = self._call(kind_of(api_version, kind).path(namespace), "GET", query=query)
        return list(found.get("items") or [])

    def delete(self, api_version: str, kind: str, name: str, namespace: str | None = None) -> bool:
        """Delete in the background (dependents after); False when it was already gone."""
        try:
            self._call(
                kind_of(api_version, kind).path(namespace, name),
                "DELETE",
                body={"propagationPolicy": "Background"},
            )
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _call(
        self,
        path: str,
        method: str,
        *,
        query: list[tuple[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        result = self.api_client.call_api(
            path,
            method,
            query_params=query or [],
            header_params={"Accept": "application/json", **(headers or {})},
            body=body,
            response_types_map=OBJECT,
            auth_settings=["BearerToken"],
            _return_http_data_only=True,
            _request_timeout=self.request_timeout_s,
        )
        return result or {}


def documents_of(manifests: list[dict[str, Any]]) -> Iterator[tuple[str, str, str, str | None]]:
    """(apiVersion, kind, name, namespace) of each manifest, in order."""
    for doc in manifests:
        metadata = doc["metadata"]
        yield doc["apiVersion"], doc["kind"], metadata["name"], metadata.get("namespace")
