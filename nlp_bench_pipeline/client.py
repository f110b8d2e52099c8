"""An HTTP client that retries what a cold or busy platform answers, and records every attempt.

A freshly deployed function or Deployment answers its first requests with the platform's own
errors — a gateway timeout while the first request waits on an init, a throttle, a 503 while no
pod is ready — and "first request warms, second succeeds" is how its users cope. This module is
that coping, done once for every caller (the local targets' warming and verification, the live
comparison): one :class:`RetryPolicy`, exponential backoff with full jitter (tenacity's
``wait_random_exponential``: sleep uniformly in ``[0, min(cap, base·2^(n−1))]`` before retry
``n``), bounded attempts *and* bounded total time, and a record of every attempt so the caller
can say what the platform did before it served (:class:`Attempt`, :class:`CallResult`).

What is retried: HTTP 429, 500, 502, 503, 504 and connection errors or timeouts
(:data:`RETRIED_STATUSES`, :data:`RETRIED_ERRORS`). Anything else — a 2xx, a 4xx other than 429,
a 501 — ends the call at once: retrying a request the server rejected only repeats the answer.

Each attempt gets a label saying what it most likely met (:data:`AttemptLabel`). The evidence, in
order of trust:

1. the emulator's reason header (``core.headers.REASON_HEADER``, ``x-nlp-bench-reason``), which
   the local fronts send on the answers they write themselves. Its value is ``<kind>:<detail>``:

   - ``throttle:<why>`` → throttle: refused for lack of capacity, e.g.
     ``throttle:concurrency_limit`` or ``throttle:scale_out_rate`` (Lambda's 500),
     ``throttle:gateway_rate_limit`` (429), ``throttle:shutting_down`` (the local Lambda is
     stopping and starts no new environment: its 500);
   - ``function_error:<errorType>`` → function_error: the function raised, crashed or returned
     a malformed response (502), e.g. ``function_error:Runtime.ExitError``;
   - ``init_error:<errorType>`` → init_error: the execution environment's init failed (502),
     e.g. ``init_error:Runtime.ImportModuleError``;
   - ``timeout:gateway`` → gateway_timeout: the integration timeout answered (HTTP API 503,
     REST 504);
   - ``timeout:function`` → function_error: the function ran past its timeout (502);
   - ``timeout:init`` → cold_start: the init ran past its limit (502);
   - ``cold_start:<what>`` → cold_start: the answer came while the target was starting, e.g.
     ``cold_start:gateway_timeout`` (the integration timeout answered while the request waited
     on the init it triggered), ``cold_start:no_ready_endpoints`` (a Service with no ready pod);
   - ``rejected:<why>`` → falls through: the front refused the request itself —
     ``malformed_request``, ``malformed_body``, ``body_timeout``, ``payload_too_large``,
     ``head_not_proxied`` (400, 408, 413, 501) — so the status decides, and none of these is
     retried;
   - ``emulator_error:<exception>`` → falls through: a fault of the emulator, not of the
     platform it stands for (a 500 whose body is not API Gateway's), so it is ``unknown_5xx``:
     retried, and not counted as anything the platform did.

   A value of another kind falls through to the next rule. Real AWS sends no such header.
2. the status and the platform's own body and headers, as AWS documents them: 429 is a throttle;
   a 500 with API Gateway's ``{"message": "Internal server error"}`` is Lambda refusing the
   invoke (a throttle); a 502 with ``X-Amz-Function-Error`` or API Gateway's body is a function
   error — unless it took at least :data:`INIT_LIMIT_S` (Lambda's 10 s on-demand init limit), in
   which case an init that ran out of time is the likelier story (a cold start); a 503
   ``{"message":"Service Unavailable"}`` or 504 ``{"message": "Endpoint request timed out"}``
   with nothing else in the body is API Gateway's integration timeout; any 504 is a gateway
   timeout.
3. otherwise ``unknown_5xx``: retried, but nobody pretends to know why it failed.

A 2xx is ``ok``, an answer that is not retried ``rejected``, and a connection error or timeout
``connection_error`` (with the exception's class in ``Attempt.error``).

Fail fast: real Lambda re-runs a failed init on every invoke, so a function whose model cannot
load answers the same init error for ever. After ``policy.identical_init_errors`` init errors
with the same reason value the call stops and raises :class:`RepeatedInitError`, which carries
the reason, instead of retrying until the budget is spent.

Time: the policy's total budget runs from the first send. No retry starts whose sleep would end
past it, and each attempt's timeouts are cut to what is left of it; httpx times connect, write
and read separately, so a slow last attempt can still overrun the budget by a fraction of what
was left when it started. ``clock`` and ``sleep`` are parameters so tests run the backoff
without sleeping.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_result,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)

from nlp_bench_pipeline.core.headers import REASON_HEADER

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
# Connection-level failures worth another try; a LocalProtocolError or an unsupported URL is the
# caller's bug and propagates.
RETRIED_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.TimeoutException,
    httpx.NetworkError,
    httpx.RemoteProtocolError,
)
# Lambda's on-demand init limit: a 502 that took this long most likely waited on such an init.
INIT_LIMIT_S = 10.0

AttemptLabel = Literal[
    "ok",
    "cold_start",
    "init_error",
    "throttle",
    "gateway_timeout",
    "function_error",
    "connection_error",
    "unknown_5xx",
    "rejected",
]
StopCause = Literal["success", "not_retried", "max_attempts", "budget"]

_REASON_LABELS: dict[str, AttemptLabel] = {
    "throttle": "throttle",
    "function_error": "function_error",
    "init_error": "init_error",
    "cold_start": "cold_start",
    "timeout:gateway": "gateway_timeout",
    "timeout:function": "function_error",
    "timeout:init": "cold_start",
}
_INTERNAL_ERROR = "internal server error"
_GATEWAY_TIMEOUT_BODIES = {503: "service unavailable", 504: "endpoint request timed out"}


class RetryPolicy(BaseModel):
    """How hard to try: one object for every caller, so warming and comparison agree."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_attempts: int = Field(12, ge=1, description="attempts in all, the first included")
    base_s: float = Field(0.5, gt=0, description="the backoff's first ceiling")
    cap_s: float = Field(10.0, gt=0, description="no sleep is longer")
    budget_s: float = Field(300.0, gt=0, description="total time from the first send")
    identical_init_errors: int = Field(
        3, ge=1, description="stop after this many init errors with the same reason"
    )

    @model_validator(mode="after")
    def _cap_not_below_base(self) -> RetryPolicy:
        if self.cap_s < self.base_s:
            raise ValueError(f"cap_s ({self.cap_s}) is below base_s ({self.base_s})")
        return self

    def sleep_ceiling_s(self, retry: int) -> float:
        """The longest sleep before retry number ``retry`` (1 = the second attempt)."""
        return min(self.cap_s, self.base_s * 2 ** (retry - 1))


DEFAULT_POLICY = RetryPolicy()


class Attempt(BaseModel):
    """One request the call sent, and what it met."""

    model_config = ConfigDict(frozen=True)

    number: int
    sent_at: datetime
    offset_s: float  # from the call's first send to this one
    slept_s: float  # the backoff sleep just before it
    latency_ms: float
    label: AttemptLabel
    status_code: int | None
    error: str | None  # the connection error's class, e.g. "ReadTimeout"
    reason: str | None  # the reason header's value, when the front sent one
    evidence: str  # what decided the label


class Classification(NamedTuple):
    label: AttemptLabel
    reason: str | None
    evidence: str


@dataclass(frozen=True)
class CallResult:
    """The final response (None when the last attempt got none) and every attempt before it."""

    response: httpx.Response | None
    attempts: tuple[Attempt, ...]
    time_to_first_success_s: float | None
    stopped_by: StopCause

    @property
    def ok(self) -> bool:
        return self.stopped_by == "success"

    def label_counts(self) -> dict[str, int]:
        return dict(Counter(a.label for a in self.attempts))

    def raise_for_failure(self) -> httpx.Response:
        """The successful response, or :class:`CallFailed` saying what was seen."""
        if self.response is not None and self.ok:
            return self.response
        raise CallFailed(self)


class CallFailed(RuntimeError):
    """The call ended without a success (retries spent, or an answer not retried); ``result``
    holds every attempt."""

    def __init__(self, result: CallResult) -> None:
        last = result.attempts[-1]
        seen = ", ".join(f"{label} {n}" for label, n in result.label_counts().items())
        ended = {
            "not_retried": "an answer that is not retried",
            "max_attempts": f"{len(result.attempts)} attempts",
            "budget": "the time budget",
            "success": "success",
        }[result.stopped_by]
        super().__init__(
            f"no success after {len(result.attempts)} attempt(s) in {last.offset_s:.1f} s, "
            f"stopped by {ended}; saw {seen}; last: {_describe(last)}"
        )
        self.result = result


class RepeatedInitError(RuntimeError):
    """The function's init failed the same way again and again: retrying will not fix it."""

    def __init__(self, reason: str, attempts: tuple[Attempt, ...]) -> None:
        self.reason = reason
        self.error_type = reason.partition(":")[2]
        self.attempts = attempts
        count = sum(a.reason == reason for a in attempts)
        super().__init__(
            f"the function's init failed {count} times with {self.error_type or reason} "
            f"({REASON_HEADER}: {reason}); not retrying an init that fails the same way each time"
        )


def classify_response(
    status: int, headers: Mapping[str, str], body: bytes, latency_s: float
) -> Classification:
    """Label one HTTP answer from the best evidence it carries (see the module docstring)."""
    if 200 <= status < 300:
        return Classification("ok", None, "status")
    reason = headers.get(REASON_HEADER)
    if reason:
        kind = reason.partition(":")[0]
        label = _REASON_LABELS.get(reason) or _REASON_LABELS.get(kind)
        if label is not None:
            return Classification(label, reason, "reason header")
    if status == 429:
        return Classification("throttle", reason, "status 429")
    if status not in RETRIED_STATUSES:
        return Classification("rejected", reason, f"status {status} is not retried")
    return _classify_platform_answer(status, headers, body, latency_s, reason)


def _classify_platform_answer(
    status: int, headers: Mapping[str, str], body: bytes, latency_s: float, reason: str | None
) -> Classification:
    message = _gateway_message(body)
    if status == 500 and message == _INTERNAL_ERROR:
        return Classification("throttle", reason, "API Gateway's 500: Lambda refused the invoke")
    if status == 502 and (message == _INTERNAL_ERROR or "x-amz-function-error" in headers):
        if latency_s >= INIT_LIMIT_S:
            return Classification(
                "cold_start", reason, f"502 after {latency_s:.1f} s: an init past its limit"
            )
        return Classification("function_error", reason, "API Gateway's 502, answered quickly")
    if message is not None and message == _GATEWAY_TIMEOUT_BODIES.get(status):
        return Classification("gateway_timeout", reason, "API Gateway's integration timeout")
    if status == 504:
        return Classification("gateway_timeout", reason, "status 504")
    return Classification("unknown_5xx", reason, "status only")


def _gateway_message(body: bytes) -> str | None:
    """API Gateway's own error bodies are exactly ``{"message": ...}``; anything else is not."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        isinstance(parsed, dict)
        and set(parsed) == {"message"}
        and isinstance(parsed["message"], str)
    ):
        return parsed["message"].lower()
    return None


class _Outcome(NamedTuple):
    response: httpx.Response | None
    attempt: Attempt

    @property
    def retried(self) -> bool:
        return self.attempt.label not in ("ok", "rejected")


class _Call:
    """The state one call shares between its attempts, tenacity's stop rules and the result."""

    def __init__(self, policy: RetryPolicy, clock: Callable[[], float], timeout: httpx.Timeout):
        self.policy = policy
        self.clock = clock
        self.timeout = timeout
        self.started = clock()
        self.attempts: list[Attempt] = []
        self.init_errors: Counter[str] = Counter()
        self.slept_s = 0.0

    def retrying(self, sleep: Callable[[float], Any]) -> dict[str, Any]:
        """Keyword arguments for tenacity's ``Retrying`` or ``AsyncRetrying``."""
        return {
            "stop": stop_any(
                stop_after_attempt(self.policy.max_attempts),
                self._budget_spent,
                self._init_error_repeated,
            ),
            "wait": wait_random_exponential(multiplier=self.policy.base_s, max=self.policy.cap_s),
            "retry": retry_if_result(lambda outcome: outcome.retried),
            "retry_error_callback": lambda state: state.outcome.result(),
            "before_sleep": self._before_sleep,
            "sleep": sleep,
        }

    def attempt_timeout(self) -> httpx.Timeout:
        """The client's timeouts, none longer than what is left of the budget."""
        left = max(0.001, self.policy.budget_s - (self.clock() - self.started))
        return httpx.Timeout(
            connect=_shorter(self.timeout.connect, left),
            read=_shorter(self.timeout.read, left),
            write=_shorter(self.timeout.write, left),
            pool=_shorter(self.timeout.pool, left),
        )

    def begin(self) -> tuple[float, datetime]:
        return self.clock(), datetime.now(UTC)

    def finish(
        self,
        begun: tuple[float, datetime],
        response: httpx.Response | None = None,
        error: httpx.TransportError | None = None,
    ) -> _Outcome:
        sent, sent_at = begun
        latency_s = self.clock() - sent
        if response is not None:
            label, reason, evidence = classify_response(
                response.status_code, response.headers, response.content, latency_s
            )
        else:
            label, reason, evidence = "connection_error", None, "no response"
        attempt = Attempt(
            number=len(self.attempts) + 1,
            sent_at=sent_at,
            offset_s=sent - self.started,
            slept_s=self.slept_s,
            latency_ms=latency_s * 1000.0,
            label=label,
            status_code=None if response is None else response.status_code,
            error=None if error is None else type(error).__name__,
            reason=reason,
            evidence=evidence,
        )
        self.attempts.append(attempt)
        if label == "init_error" and reason:
            self.init_errors[reason] += 1
        return _Outcome(response, attempt)

    def result(self, outcome: _Outcome) -> CallResult:
        """What the call ended with; raises :class:`RepeatedInitError` when it failed fast."""
        last = outcome.attempt
        if last.reason and self.init_errors[last.reason] >= self.policy.identical_init_errors:
            raise RepeatedInitError(last.reason, tuple(self.attempts))
        if last.label == "ok":
            stopped_by: StopCause = "success"
        elif not outcome.retried:
            stopped_by = "not_retried"
        elif len(self.attempts) >= self.policy.max_attempts:
            stopped_by = "max_attempts"
        else:
            stopped_by = "budget"
        first_success = (
            last.offset_s + last.latency_ms / 1000.0 if stopped_by == "success" else None
        )
        return CallResult(outcome.response, tuple(self.attempts), first_success, stopped_by)

    def _budget_spent(self, state: RetryCallState) -> bool:
        return self.clock() - self.started + state.upcoming_sleep >= self.policy.budget_s

    def _init_error_repeated(self, state: RetryCallState) -> bool:
        return any(n >= self.policy.identical_init_errors for n in self.init_errors.values())

    def _before_sleep(self, state: RetryCallState) -> None:
        self.slept_s = state.upcoming_sleep
        log.info(
            "attempt %d: %s; retrying in %.2f s",
            len(self.attempts),
            _describe(self.attempts[-1]),
            state.upcoming_sleep,
        )


def send(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    **request: Any,
) -> CallResult:
    """Send ``method url`` through ``client`` under ``policy``; ``request`` goes to httpx.

    Raises :class:`RepeatedInitError` when the function's init keeps failing the same way, and
    lets non-retried transport errors (an unsupported URL, a local protocol error) propagate.
    A ``timeout`` in ``request`` replaces the client's for this call (still cut to the budget).
    """
    call = _Call(policy, clock, _timeout(client, request))

    def attempt() -> _Outcome:
        begun = call.begin()
        try:
            response = client.request(method, url, timeout=call.attempt_timeout(), **request)
        except RETRIED_ERRORS as exc:
            return call.finish(begun, error=exc)
        return call.finish(begun, response=response)

    return call.result(Retrying(**call.retrying(sleep))(attempt))


async def send_async(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    policy: RetryPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    **request: Any,
) -> CallResult:
    """:func:`send` for an ``httpx.AsyncClient``: the same policy, labels and result."""
    call = _Call(policy, clock, _timeout(client, request))

    async def attempt() -> _Outcome:
        begun = call.begin()
        try:
            response = await client.request(method, url, timeout=call.attempt_timeout(), **request)
        except RETRIED_ERRORS as exc:
            return call.finish(begun, error=exc)
        return call.finish(begun, response=response)

    return call.result(await AsyncRetrying(**call.retrying(sleep))(attempt))


def _timeout(client: httpx.Client | httpx.AsyncClient, request: dict[str, Any]) -> httpx.Timeout:
    """The call's own ``timeout`` (taken out of ``request``), else the client's."""
    return httpx.Timeout(request.pop("timeout")) if "timeout" in request else client.timeout


def _shorter(timeout: float | None, left: float) -> float:
    return left if timeout is None else min(timeout, left)


def _describe(attempt: Attempt) -> str:
    seen = f"HTTP {attempt.status_code}" if attempt.status_code is not None else attempt.error
    detail = f", {attempt.reason}" if attempt.reason else ""
    return f"{seen} ({attempt.label}{detail})"
