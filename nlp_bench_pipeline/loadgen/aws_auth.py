"""Authenticating requests to an HTTP API that authorises every one: SigV4 (IAM) or a JWT.

The Lambda target's HTTP API has no unauthenticated route (``infra/terraform/modules/lambda_api``,
``AwsLambdaConfig.authorization``): with ``AWS_IAM`` each request is signed with Signature
Version 4 for the service ``execute-api`` — botocore's own ``SigV4Auth`` over an ``AWSRequest``,
with credentials from the default chain (refreshed as they expire: an instance profile's or SSO's
are short-lived) — and with ``JWT`` it carries ``Authorization: Bearer <token>``.

Signing costs CPU on the load generator, per request; :func:`measure_signing` times it, so a
run can say how much of its client-side latency budget the signature took. A request is signed
just before it is sent (a SigV4 signature is valid for five minutes, and its date is part of
it). Plain functions and small objects: the locustfile calls :meth:`RequestAuth.headers` and
merges the result into its request headers; :class:`HttpxAuth` does the same for httpx clients
(the health checks).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import httpx
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

Authorization = Literal["AWS_IAM", "JWT"]
EXECUTE_API = "execute-api"
PROBE_BODY = b'{"text": "a gripping, beautiful film"}'


class RequestAuth(Protocol):
    """Headers that authorise one request."""

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]: ...


@dataclass(frozen=True)
class SigV4Signer:
    """Signs requests for ``execute-api`` in ``region`` with the caller's AWS credentials."""

    credentials: Credentials
    region: str
    service: str = EXECUTE_API

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        """``Authorization``, ``X-Amz-Date`` (and ``X-Amz-Security-Token`` for temporary keys).

        The content type is signed too, so send the request with exactly the same one.
        """
        request = AWSRequest(
            method=method, url=url, data=body, headers={"Content-Type": "application/json"}
        )
        # Frozen per request: a refreshable credential could change between its key and secret.
        SigV4Auth(self.credentials.get_frozen_credentials(), self.service, self.region).add_auth(
            request
        )
        return {name: value for name, value in request.headers.items() if name != "Content-Type"}


@dataclass(frozen=True)
class BearerToken:
    """A JWT from the API's issuer, sent as ``Authorization: Bearer <token>``."""

    token: str

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class NoAuth:
    """For endpoints that authorise nothing (the local targets, an ALB inside the VPC)."""

    def headers(self, method: str, url: str, body: bytes) -> dict[str, str]:
        return {}


def request_auth(
    authorization: Authorization | None,
    *,
    credentials: Credentials | None = None,
    region: str | None = None,
    token: str | None = None,
) -> RequestAuth:
    """What a deployment's ``details.authorization`` asks of its clients."""
    if authorization is None:
        return NoAuth()
    if authorization == "AWS_IAM":
        if credentials is None or not region:
            raise ValueError(
                "authorization AWS_IAM: requests must be signed, and no AWS credentials or region "
                "were found (the default chain: AWS_PROFILE, SSO, an instance profile)"
            )
        return SigV4Signer(credentials, region)
    if authorization == "JWT":
        if not token:
            raise ValueError("authorization JWT: requests need a bearer token, and none was given")
        return BearerToken(token)
    raise ValueError(f"authorization {authorization!r}: expected AWS_IAM or JWT")


def auth_for_deployment(
    details: Mapping[str, Any],
    *,
    credentials: Credentials | None = None,
    token: str | None = None,
) -> RequestAuth:
    """What a deployment's clients must send: its ``details.authorization`` (``aws-lambda``
    sets it; local targets and the EKS ALB have none) in its ``details.region``."""
    return request_auth(
        details.get("authorization"),
        credentials=credentials,
        region=details.get("region"),
        token=token,
    )


class HttpxAuth(httpx.Auth):
    """A :class:`RequestAuth` for httpx clients (health checks, warming, verification)."""

    requires_request_body = True

    def __init__(self, auth: RequestAuth) -> None:
        self.auth = auth

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(self.auth.headers(request.method, str(request.url), request.content))
        yield request


@dataclass(frozen=True)
class SigningCost:
    """What signing one request costs, in microseconds of this process's time."""

    requests: int
    mean_us: float
    p50_us: float
    p99_us: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "requests": self.requests,
            "mean_us": self.mean_us,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
        }


def measure_signing(
    auth: RequestAuth,
    url: str,
    *,
    requests: int = 1000,
    body: bytes = PROBE_BODY,
) -> SigningCost:
    """Sign ``requests`` requests to ``url`` one after another and time each signature."""
    if requests < 1:
        raise ValueError("requests must be at least 1")
    timings = []
    for _ in range(requests):
        started = time.perf_counter_ns()
        auth.headers("POST", url, body)
        timings.append((time.perf_counter_ns() - started) / 1000.0)
    timings.sort()
    return SigningCost(
        requests=requests,
        mean_us=statistics.fmean(timings),
        p50_us=timings[len(timings) // 2],
        p99_us=timings[min(len(timings) - 1, int(len(timings) * 0.99))],
    )
