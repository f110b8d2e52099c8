"""Readiness and liveness probes, as the kubelet runs them.

An HTTP GET to the container's port every ``periodSeconds`` after ``initialDelaySeconds``; a status
from 200 to 399 within ``timeoutSeconds`` is a success, anything else (refused, timed out, 5xx) a
failure. The state flips after ``successThreshold`` consecutive successes or ``failureThreshold``
consecutive failures. Readiness decides whether the Service sends the pod traffic; a liveness
failure makes the kubelet kill and restart the container.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from nlp_bench_pipeline.targets.local_k8s.config import ProbeConfig


@dataclass(frozen=True)
class ProbeResult:
    ok: bool
    body: dict[str, Any] | None = None


class ProbeCounter:
    """Consecutive results against the thresholds; says when the probed state flips."""

    def __init__(self, probe: ProbeConfig, *, initially: bool) -> None:
        self.probe = probe
        self.state = initially
        self._streak = 0

    def observe(self, ok: bool) -> bool:
        """Record one result; True when it changed the state."""
        if ok == self.state:
            self._streak = 0
            return False
        self._streak += 1
        needed = self.probe.success_threshold if ok else self.probe.failure_threshold
        if self._streak < needed:
            return False
        self.state = ok
        self._streak = 0
        return True


async def http_probe(client: httpx.AsyncClient, port: int, probe: ProbeConfig) -> ProbeResult:
    """One probe of ``127.0.0.1:port``; the JSON body comes back too (readiness carries facts)."""
    try:
        response = await client.get(
            f"http://127.0.0.1:{port}{probe.path}", timeout=probe.timeout_seconds
        )
    except httpx.HTTPError:
        return ProbeResult(False)
    if not 200 <= response.status_code < 400:
        return ProbeResult(False)
    try:
        body = response.json()
    except ValueError:
        body = None
    return ProbeResult(True, body if isinstance(body, dict) else None)


async def run_probe(
    client: httpx.AsyncClient,
    port: int,
    probe: ProbeConfig,
    counter: ProbeCounter,
    on_change: Callable[[bool, ProbeResult], None],
) -> None:
    """Probe until cancelled, calling ``on_change`` whenever the state flips."""
    await asyncio.sleep(probe.initial_delay_seconds)
    while True:
        result = await http_probe(client, port, probe)
        if counter.observe(result.ok):
            on_change(counter.state, result)
        await asyncio.sleep(probe.period_seconds)
