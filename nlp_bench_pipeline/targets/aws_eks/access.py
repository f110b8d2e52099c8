"""Reaching an EKS cluster's API: its endpoint and CA from ``eks:DescribeCluster``, and a bearer
token from a presigned STS ``GetCallerIdentity``, as ``aws eks get-token`` makes it.

EKS authenticates a caller by asking STS who signed the request in the token: the token is
``k8s-aws-v1.`` and the base64url (unpadded) of a presigned ``GetCallerIdentity`` URL whose
signature covers the header ``x-k8s-aws-id: <cluster name>``, so a token for one cluster is
worthless for another. Tokens are accepted for 15 minutes; a fresh one is made after 10.
"""

from __future__ import annotations

import base64
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as k8s

from nlp_bench_pipeline.targets.aws.clients import AwsClients

TOKEN_PREFIX = "k8s-aws-v1."  # noqa: S105 - the format's prefix, not a secret
CLUSTER_ID_HEADER = "x-k8s-aws-id"
PRESIGN_SECONDS = 60  # what aws-iam-authenticator and `aws eks get-token` presign for
TOKEN_REFRESH_S = 600.0


def eks_token(clients: AwsClients, cluster_name: str) -> str:
    """A bearer token for ``cluster_name`` from the session's credentials."""
    sts = clients.client("sts")

    def add_cluster_header(request: Any, **_: Any) -> None:
        request.headers[CLUSTER_ID_HEADER] = cluster_name

    # Added before signing, so the presigned URL is only good with this header: the cluster.
    event = "before-sign.sts.GetCallerIdentity"
    sts.meta.events.register(event, add_cluster_header, unique_id="nlp-bench-eks-token")
    try:
        url = sts.generate_presigned_url(
            "get_caller_identity", Params={}, ExpiresIn=PRESIGN_SECONDS, HttpMethod="GET"
        )
    finally:
        sts.meta.events.unregister(event, unique_id="nlp-bench-eks-token")
    return TOKEN_PREFIX + base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


def presigned_url(token: str) -> str:
    """The URL inside a token (what the cluster's authenticator calls)."""
    if not token.startswith(TOKEN_PREFIX):
        raise ValueError(f"not an EKS token: it must start with {TOKEN_PREFIX}")
    encoded = token.removeprefix(TOKEN_PREFIX)
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


@dataclass(frozen=True)
class ClusterAccess:
    """Where the API server is and which CA signs its certificate (None: plain HTTP, tests)."""

    name: str
    endpoint: str
    certificate_authority_data: str | None


def describe_cluster(clients: AwsClients, name: str) -> ClusterAccess:
    """``eks:DescribeCluster``: endpoint and CA; fails with one line if it is not ACTIVE."""
    cluster = clients.client("eks").describe_cluster(name=name)["cluster"]
    if cluster.get("status") not in (None, "ACTIVE"):
        raise RuntimeError(f"EKS cluster {name} is {cluster['status']}, not ACTIVE")
    authority = cluster.get("certificateAuthority") or {}
    return ClusterAccess(name, cluster["endpoint"], authority.get("data"))


@dataclass
class TokenSource:
    """Tokens for one cluster, renewed before EKS stops accepting them."""

    make: Callable[[], str]
    clock: Callable[[], float] = time.monotonic
    refresh_s: float = TOKEN_REFRESH_S
    _token: str | None = None
    _made_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self) -> str:
        with self._lock:
            if self._token is None or self.clock() - self._made_at >= self.refresh_s:
                self._token, self._made_at = self.make(), self.clock()
            return self._token


def api_client(access: ClusterAccess, tokens: TokenSource, *, work_dir: Path) -> k8s.ApiClient:
    """A kubernetes ``ApiClient`` for the cluster that asks ``tokens`` before every request."""
    configuration = k8s.Configuration(host=access.endpoint.rstrip("/"))
    configuration.api_key_prefix = {"BearerToken": "Bearer"}
    configuration.api_key = {"BearerToken": tokens.get()}

    def refresh(config: k8s.Configuration) -> None:
        config.api_key["BearerToken"] = tokens.get()

    configuration.refresh_api_key_hook = refresh
    if access.certificate_authority_data:
        work_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "wb", dir=work_dir, prefix=f"{access.name}-", suffix=".crt", delete=False
        ) as handle:
            handle.write(base64.b64decode(access.certificate_authority_data))
        configuration.ssl_ca_cert = handle.name
    return k8s.ApiClient(configuration)
