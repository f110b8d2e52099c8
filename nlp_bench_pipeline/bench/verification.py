"""Prove a deployment serves: wait for the first successful prediction, then time a warm one.

Works for every target through the ``Target`` interface, through the backoff client
(``nlp_bench_pipeline.client``): one retry policy for the deployment asset, the warming before
warm scenarios and the live comparison, which also stops at once on repeated identical init
errors instead of retrying a function that cannot load. What the first success cost (readiness,
a cold start) is what a user of the platform waits for after a deploy; the time until the
deployment is at its minimum capacity (every replica ready) follows.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import httpx
from pydantic import BaseModel

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER, PREDICT_PATH
from nlp_bench_pipeline.client import CallFailed, RepeatedInitError, RetryPolicy, send
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.targets.base import Target

PROBE_BODY = {"text": "a gripping, beautiful film"}
# Short sleeps, so the time to the first success is known to a fraction of a second; many
# attempts, because a full-size model's cold start on a busy 2-core host takes tens of seconds.
FIRST_SUCCESS_POLICY = RetryPolicy(max_attempts=2_000, base_s=0.1, cap_s=0.5, budget_s=300.0)


def client_auth(deployment: Deployment) -> httpx.Auth | None:
    """What the harness's requests must carry: a SigV4 signature or a JWT for an authorised
    API (``details.authorization``, set by aws-lambda), nothing for the local targets."""
    if not deployment.details.get("authorization"):
        return None
    import boto3

    from nlp_bench_pipeline.loadgen.aws_auth import HttpxAuth, auth_for_deployment

    credentials = boto3.Session(region_name=deployment.details.get("region")).get_credentials()
    return HttpxAuth(auth_for_deployment(deployment.details, credentials=credentials))


class DeploymentNotServing(RuntimeError):
    """No successful prediction within the deadline; the message lists what was seen instead."""


class FirstSuccess(BaseModel):
    """The first successful prediction after a deploy, and what came before it."""

    model_config = {"arbitrary_types_allowed": True}

    response: httpx.Response
    latency_ms: float  # the successful attempt's own latency
    seconds_since: float  # from the reference time (the deploy) to the success
    seen_before: dict[str, int]  # attempt labels before the success

    @property
    def environment_id(self) -> str:
        return self.response.headers.get(ENVIRONMENT_HEADER, "")

    @property
    def cold_start_header(self) -> bool:
        return self.response.headers.get(COLD_START_HEADER) == "1"


def first_success(
    client: httpx.Client, *, since: float | None = None, timeout_s: float = 300
) -> FirstSuccess:
    """Probe ``/predict`` until it answers 200; ``since`` (monotonic) is when the wait began.

    Raises :class:`DeploymentNotServing` when the budget runs out or the function keeps failing
    its init with the same error.
    """
    started = time.monotonic() if since is None else since
    policy = FIRST_SUCCESS_POLICY.model_copy(update={"budget_s": timeout_s})
    try:
        result = send(client, "POST", PREDICT_PATH, json=PROBE_BODY, policy=policy)
        response = result.raise_for_failure()
    except (CallFailed, RepeatedInitError) as exc:
        raise DeploymentNotServing(f"{client.base_url} did not serve a prediction: {exc}") from exc
    before = Counter(a.label for a in result.attempts[:-1])
    return FirstSuccess(
        response=response,
        latency_ms=result.attempts[-1].latency_ms,
        seconds_since=time.monotonic() - started,
        seen_before=dict(before),
    )


class DeploymentVerification(BaseModel):
    """What one deploy-and-probe showed."""

    deployment: Deployment
    seconds_to_first_success: float
    seconds_to_ready: float
    attempts: int
    statuses_before_success: dict[str, int]
    first_latency_ms: float
    first_cold_start: bool
    first_environment_id: str
    warm_latency_ms: float
    warm_environment_id: str
    model: dict[str, Any]
    event_counts: dict[str, int]
    init_ms: list[float]


def verify(
    target: Target, spec: DeploymentSpec, *, timeout_s: float = 300
) -> DeploymentVerification:
    """Deploy ``spec`` (idempotent), then probe ``/predict`` until it answers 200."""
    started_at = utcnow()
    started = time.monotonic()
    deployment = target.deploy(spec)
    with httpx.Client(
        base_url=deployment.endpoint, timeout=60, auth=client_auth(deployment)
    ) as client:
        first = first_success(client, since=started, timeout_s=timeout_s)
        warm_sent = time.monotonic()
        warm = client.post(PREDICT_PATH, json=PROBE_BODY)
        warm.raise_for_status()
        warm_latency_ms = (time.monotonic() - warm_sent) * 1000.0
    target.wait_ready(timeout_s=max(1.0, timeout_s - (time.monotonic() - started)))
    ready_at_capacity = time.monotonic() - started
    events = target.events(since=started_at)
    return DeploymentVerification(
        deployment=deployment,
        seconds_to_first_success=first.seconds_since,
        seconds_to_ready=ready_at_capacity,
        attempts=sum(first.seen_before.values()) + 1,
        statuses_before_success=first.seen_before,
        first_latency_ms=first.latency_ms,
        first_cold_start=first.cold_start_header,
        first_environment_id=first.environment_id,
        warm_latency_ms=warm_latency_ms,
        warm_environment_id=warm.headers.get(ENVIRONMENT_HEADER, ""),
        model=first.response.json()["model"],
        event_counts=dict(Counter(e.kind for e in events)),
        init_ms=[e.init_ms for e in events if e.kind == "cold_start" and e.init_ms is not None],
    )
