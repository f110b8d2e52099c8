"""One memory size measured: cold invocations on fresh deployments, then warm ones, each paired
with its REPORT record.

Forcing a cold start is what Power Tuning does by publishing a new function version; here each
cold invocation gets a deployment of its own (``target.deployed``), whose first request waits on
the environment's init. The first deployment then serves the warm invocations one after another
on the environment that is now warm. Every call goes through the backoff client, so a cold
request the gateway times out is retried as a user's client would retry it, and what it met is
recorded.

Two times per invocation, because they answer different questions:

- the function's, from the REPORT record the platform wrote (``target.events()``): Duration,
  Billed Duration (Init Duration inside it on a cold start), Init Duration, memory used — what
  is billed;
- the client's, through the gateway: the successful attempt's latency for a warm invocation,
  and for a cold one the time from the first send to the first success (retries included) —
  what a user waits.

A REPORT is matched to its request by the gateway's request id (a response header and a field of
the REPORT event). Whether an invocation was cold is what happened, not what was intended: the
request that triggered a deployment's first init, or any whose environment it waited on. An init
that passed Lambda's 10 s limit is retried inside the invoke by the platform, as Lambda does;
the invocation is still a sample, marked ``init_retried``, and its retried init is inside its
Duration, as AWS reports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import httpx

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER, PREDICT_PATH
from nlp_bench_pipeline.client import CallFailed, CallResult, RepeatedInitError, RetryPolicy, send
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, utcnow
from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.local_lambda.gateway import REQUEST_ID_HEADERS

Kind = Literal["warm", "cold"]
Progress = Callable[[str], None]

BODY = {"text": "a gripping, beautiful film with a dull, lifeless second half"}
# A cold request can wait out an init, its retry past the 10 s limit and the gateway's 30 s;
# the retries back off for seconds so they do not start environment after environment.
COLD_POLICY = RetryPolicy(max_attempts=8, base_s=1.0, cap_s=10.0, budget_s=300.0)
WARM_POLICY = RetryPolicy(max_attempts=5, base_s=0.2, cap_s=2.0, budget_s=120.0)
SETTLE_TIMEOUT_S = 180.0
SETTLE_POLL_S = 0.1
INIT_EVENTS = frozenset({"init_start", "cold_start", "timeout", "crash"})


@dataclass(frozen=True)
class Sample:
    """One invocation: what the client saw and what its REPORT record says."""

    kind: Kind
    ok: bool
    client_ms: float | None  # through the gateway (see the module docstring)
    attempts: int
    environment_id: str | None
    gateway_request_id: str | None
    duration_ms: float | None = None  # REPORT Duration
    billed_ms: float | None = None  # REPORT Billed Duration
    init_ms: float | None = None  # Init Duration of the init it waited on (cold only)
    memory_mb: float | None = None
    max_memory_mb: float | None = None
    init_retried: bool = False
    error: str | None = None

    @property
    def report(self) -> dict[str, Any] | None:
        """The REPORT figures as the cost model takes them; None when no REPORT matched."""
        if self.billed_ms is None or self.duration_ms is None or self.memory_mb is None:
            return None
        return {
            "billed_ms": self.billed_ms,
            "duration_ms": self.duration_ms,
            # A retried init is inside Duration, not in an Init Duration field (as AWS reports).
            "init_ms": None if self.init_retried else self.init_ms,
            "memory_mb": self.memory_mb,
        }


@dataclass
class SizeSamples:
    """Every invocation at one memory size, and what the platform did besides."""

    memory_mb: int
    samples: list[Sample] = field(default_factory=list)
    init_retries: int = 0  # inits that passed the on-demand limit and were retried
    extra_environments: int = 0  # started by retried requests, beyond one per deployment
    deployment: dict[str, Any] = field(default_factory=dict)

    def of_kind(self, kind: Kind) -> list[Sample]:
        return [s for s in self.samples if s.kind == kind]


@dataclass(frozen=True)
class _Call:
    """One call through the backoff client: its result, or why it failed."""

    result: CallResult | None
    error: str | None
    headers: dict[str, str]

    @property
    def ok(self) -> bool:
        return self.result is not None and self.result.ok

    @property
    def attempts(self) -> int:
        return 0 if self.result is None else len(self.result.attempts)

    def gateway_request_id(self) -> str | None:
        return next(
            (self.headers[h.lower()] for h in _ID_HEADERS if h.lower() in self.headers), None
        )


_ID_HEADERS = tuple(REQUEST_ID_HEADERS.values())


def measure_size(
    target: Target,
    spec: DeploymentSpec,
    *,
    warm_invocations: int,
    cold_invocations: int,
    progress: Progress = print,
) -> SizeSamples:
    """``cold_invocations`` fresh deployments of ``spec``; the first also serves the warm ones."""
    measured = SizeSamples(spec.memory_mb)
    for index in range(cold_invocations):
        started = utcnow()
        with target.deployed(spec) as deployment:
            measured.deployment = measured.deployment or dict(deployment.details)
            with httpx.Client(base_url=deployment.endpoint, timeout=60) as client:
                cold = _call(client, COLD_POLICY)
                _settle(target, started)
                warm = [
                    _call(client, WARM_POLICY) for _ in range(warm_invocations if index == 0 else 0)
                ]
        events = target.events(since=started)
        _add_deployment(measured, events, cold, warm)
        progress(
            f"{spec.memory_mb} MB: cold invocation {index + 1}/{cold_invocations}"
            + (f" and {len(warm)} warm" if warm else "")
            + f" ({_describe(measured.samples[-len(warm) - 1])})"
        )
    return measured


def _call(client: httpx.Client, policy: RetryPolicy) -> _Call:
    try:
        result = send(client, "POST", PREDICT_PATH, json=BODY, policy=policy)
    except RepeatedInitError as exc:
        return _Call(None, str(exc), {})
    response = result.response
    headers = {k.lower(): v for k, v in response.headers.items()} if response is not None else {}
    error = None if result.ok else str(CallFailed(result))
    return _Call(result, error, headers)


def _settle(target: Target, since: datetime, timeout_s: float = SETTLE_TIMEOUT_S) -> None:
    """Wait until no environment is still initialising: an init a retried request started
    would otherwise run beside the warm invocations and slow them."""
    deadline = time.monotonic() + timeout_s
    while _initialising(target.events(since=since)) and time.monotonic() < deadline:
        time.sleep(SETTLE_POLL_S)


def _initialising(events: Sequence[PlatformEvent]) -> set[str]:
    """Environments whose latest init event is an ``init_start`` (nothing settled it yet)."""
    last: dict[str, str] = {}
    for event in events:
        if event.environment_id and event.kind in INIT_EVENTS:
            if event.kind == "timeout" and event.detail.get("scope") != "init":
                continue
            last[event.environment_id] = event.kind
    return {env for env, kind in last.items() if kind == "init_start"}


def _add_deployment(
    measured: SizeSamples, events: Sequence[PlatformEvent], cold: _Call, warm: Sequence[_Call]
) -> None:
    reports = {e.detail.get("gateway_request_id"): e for e in events if e.kind == "report"}
    reports_by_request = {e.detail.get("request_id"): e for e in events if e.kind == "report"}
    starts = [e for e in events if e.kind == "init_start"]
    inits = {e.environment_id: e for e in events if e.kind == "cold_start"}
    retried = {
        e.environment_id for e in events if e.kind == "timeout" and e.detail.get("scope") == "init"
    }
    cold_requests = {e.detail.get("request_id") for e in [*starts, *inits.values()]}
    measured.init_retries += len(retried)
    measured.extra_environments += max(0, len({e.environment_id for e in starts}) - 1)
    # The cold sample is the request that triggered the deployment's first init.
    first = starts[0] if starts else None
    report = reports_by_request.get(first.detail.get("request_id")) if first else None
    if report is None:
        report = reports.get(cold.gateway_request_id())
    measured.samples.append(_sample("cold", cold, report, inits, retried, cold_client=True))
    for call in warm:
        report = reports.get(call.gateway_request_id())
        waited = (report is not None and report.detail.get("request_id") in cold_requests) or (
            call.headers.get(COLD_START_HEADER) == "1"
        )
        kind: Kind = "cold" if waited else "warm"
        measured.samples.append(_sample(kind, call, report, inits, retried, cold_client=waited))


def _sample(
    kind: Kind,
    call: _Call,
    report: PlatformEvent | None,
    inits: dict[str | None, PlatformEvent],
    retried: set[str | None],
    *,
    cold_client: bool,
) -> Sample:
    result = call.result
    client_ms = None
    if result is not None and result.ok:
        last = result.attempts[-1]
        client_ms = (
            result.time_to_first_success_s * 1000.0
            if cold_client and result.time_to_first_success_s is not None
            else last.latency_ms
        )
    environment = report.environment_id if report else call.headers.get(ENVIRONMENT_HEADER)
    init = inits.get(environment) if kind == "cold" else None
    init_ms = (report.init_ms if report and report.init_ms is not None else None) or (
        init.init_ms if init else None
    )
    return Sample(
        kind=kind,
        ok=call.ok,
        client_ms=client_ms,
        attempts=call.attempts,
        environment_id=environment,
        gateway_request_id=call.gateway_request_id(),
        duration_ms=report.duration_ms if report else None,
        billed_ms=report.billed_ms if report else None,
        init_ms=init_ms if kind == "cold" else None,
        memory_mb=report.memory_mb if report else None,
        max_memory_mb=report.max_memory_mb if report else None,
        init_retried=kind == "cold" and environment in retried,
        error=call.error,
    )


def _describe(sample: Sample) -> str:
    if not sample.ok:
        return f"failed: {sample.error}"
    client = f"{sample.client_ms:,.0f} ms through the gateway" if sample.client_ms else "no time"
    billed = f", billed {sample.billed_ms:,.0f} ms" if sample.billed_ms is not None else ""
    return client + billed + (", init retried" if sample.init_retried else "")
