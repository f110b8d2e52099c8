"""One synchronous invoke on its way through the platform, and how it ended.

The invocation belongs to the pool, not to the HTTP request that caused it: when the gateway
gives up (integration timeout) the invoke runs on, as on AWS, and its environment serves the
next request warm.
"""

from __future__ import annotations

import asyncio
import json
import math
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["success", "function_error"]


@dataclass(frozen=True)
class InvocationResult:
    """``payload`` is the function's response, or Lambda's error object when it failed."""

    outcome: Outcome
    payload: bytes
    error_type: str | None = None


@dataclass(frozen=True)
class RestoreTiming:
    """A restored environment's start, as SnapStart's REPORT has it, and where its time went.

    ``restore_ms`` is Restore Duration (the fork order to the runtime's first ``next``);
    ``billed_restore_ms`` is Billed Restore Duration, which AWS counts from after the snapshot's
    own restore: here from the fork's return (the runtime's load and its after-restore hooks).
    """

    restore_ms: float
    billed_restore_ms: int
    fork_ms: float | None
    after_restore_ms: float | None

    @classmethod
    def measured(
        cls, ordered: float, forked: float | None, restore_next: float | None, ready: float
    ) -> RestoreTiming:
        """From monotonic times: fork ordered, fork returned, ``restore/next`` asked, first next."""
        billed_from = forked if forked is not None else ordered
        return cls(
            restore_ms=(ready - ordered) * 1000.0,
            billed_restore_ms=max(1, math.ceil((ready - billed_from) * 1000.0 - 1e-9)),
            fork_ms=None if forked is None else (forked - ordered) * 1000.0,
            after_restore_ms=None if restore_next is None else (ready - restore_next) * 1000.0,
        )

    def detail(self) -> dict[str, float | int | None]:
        def ms(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {
            "restore_ms": ms(self.restore_ms),
            "billed_restore_ms": self.billed_restore_ms,
            "fork_ms": ms(self.fork_ms),
            "after_restore_ms": ms(self.after_restore_ms),
        }


def new_trace_root() -> str:
    """An X-Ray trace root, as API Gateway adds it to the request (``X-Amzn-Trace-Id``)."""
    return f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"


def runtime_trace_id(root: str) -> str:
    """The Runtime API's trace header; awslambdaric crashes on a ``next`` answer without one."""
    return f"{root};Parent={secrets.token_hex(8)};Sampled=0"


@dataclass(eq=False)
class Invocation:
    """An invoke: its payload, where it runs, its clock and its result."""

    payload: bytes
    gateway_request_id: str
    result: asyncio.Future[InvocationResult]
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    trace_id: str = field(default_factory=lambda: runtime_trace_id(new_trace_root()))
    environment_id: str | None = None
    cold: bool = False  # it waited on an environment's init
    init_ms: float | None = None  # Init Duration for its REPORT (a regular cold start only)
    restore: RestoreTiming | None = None  # Restore Durations instead, for a restored environment
    started_at: float | None = None  # monotonic: the function's clock (delivery, or retried init)
    deadline: float | None = None  # monotonic
    timer: asyncio.TimerHandle | None = None

    @property
    def done(self) -> bool:
        return self.result.done()

    def start_clock(self, now: float, timeout_s: float) -> None:
        """Start the function timeout once; a retried init already started it."""
        if self.started_at is None:
            self.started_at = now
            self.deadline = now + timeout_s

    def elapsed_ms(self, now: float) -> float:
        return 0.0 if self.started_at is None else (now - self.started_at) * 1000.0

    def deadline_epoch_ms(self, now: float) -> int:
        """The deadline as the Runtime API sends it: epoch milliseconds."""
        remaining = 0.0 if self.deadline is None else self.deadline - now
        return int((time.time() + remaining) * 1000)

    def finish(self, result: InvocationResult) -> bool:
        """Settle the invoke once; later attempts (a crash after a timeout) are ignored."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.result.done():
            return False
        self.result.set_result(result)
        return True


def request_ids(invocation: Invocation | None) -> dict[str, str | None]:
    """The ids that tie an event to a request: Lambda's, and the gateway's (also a header)."""
    if invocation is None:
        return {"request_id": None, "gateway_request_id": None}
    return {
        "request_id": invocation.request_id,
        "gateway_request_id": invocation.gateway_request_id,
    }


def error_result(error_type: str, message: str) -> InvocationResult:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return InvocationResult("function_error", body, error_type)


def error_message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("errorMessage", ""))
    except (ValueError, AttributeError):
        return body.decode("utf-8", "replace")[:500]
