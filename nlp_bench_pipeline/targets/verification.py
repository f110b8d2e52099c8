"""Prove a deployment serves: wait for the first successful prediction, then time a warm one.

Works for every target through the ``Target`` interface. What the first success cost (readiness,
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
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.targets.base import Target

PROBE_BODY = {"text": "a gripping, beautiful film"}


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


class DeploymentNotServing(RuntimeError):
    """No successful prediction within the deadline; the message lists what was seen instead."""


def first_success(
    client: httpx.Client, *, timeout_s: float = 300, poll_s: float = 0.25
) -> tuple[httpx.Response, float, Counter[str]]:
    """Probe ``/predict`` until it answers 200: the response, its latency in ms, what came before.

    Raises :class:`DeploymentNotServing` after ``timeout_s``.
    """
    started = time.monotonic()
    seen: Counter[str] = Counter()
    while True:
        sent = time.monotonic()
        try:
            response = client.post(PREDICT_PATH, json=PROBE_BODY)
            if response.status_code == 200:
                return response, (time.monotonic() - sent) * 1000.0, seen
            seen[str(response.status_code)] += 1
        except httpx.TransportError as exc:
            seen[type(exc).__name__] += 1
        if time.monotonic() - started > timeout_s:
            raise DeploymentNotServing(
                f"{client.base_url} did not serve a prediction within {timeout_s:.0f} s; "
                f"saw {dict(seen)}"
            )
        time.sleep(poll_s)


def verify(
    target: Target, spec: DeploymentSpec, *, timeout_s: float = 300
) -> DeploymentVerification:
    """Deploy ``spec`` (idempotent), then probe ``/predict`` until it answers 200."""
    started_at = utcnow()
    started = time.monotonic()
    deployment = target.deploy(spec)
    with httpx.Client(base_url=deployment.endpoint, timeout=60) as client:
        first, first_latency_ms, seen = first_success(client, timeout_s=timeout_s)
        ready_after = time.monotonic() - started
        warm_sent = time.monotonic()
        warm = client.post(PREDICT_PATH, json=PROBE_BODY)
        warm.raise_for_status()
        warm_latency_ms = (time.monotonic() - warm_sent) * 1000.0
    target.wait_ready(timeout_s=max(1.0, timeout_s - (time.monotonic() - started)))
    ready_at_capacity = time.monotonic() - started
    events = target.events(since=started_at)
    return DeploymentVerification(
        deployment=deployment,
        seconds_to_first_success=ready_after,
        seconds_to_ready=ready_at_capacity,
        attempts=sum(seen.values()) + 1,
        statuses_before_success=dict(seen),
        first_latency_ms=first_latency_ms,
        first_cold_start=first.headers.get(COLD_START_HEADER) == "1",
        first_environment_id=first.headers.get(ENVIRONMENT_HEADER, ""),
        warm_latency_ms=warm_latency_ms,
        warm_environment_id=warm.headers.get(ENVIRONMENT_HEADER, ""),
        model=first.json()["model"],
        event_counts=dict(Counter(e.kind for e in events)),
        init_ms=[e.init_ms for e in events if e.kind == "cold_start" and e.init_ms is not None],
    )
