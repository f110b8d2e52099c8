"""The backoff client against a real HTTP server on 127.0.0.1 scripted to fail, then serve.

Sleeps are virtual (an injected sleep advances an injected clock), so the backoff runs in
milliseconds while the requests are real.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import httpx
import pytest

from nlp_bench_pipeline.client import (
    REASON_HEADER,
    CallFailed,
    RepeatedInitError,
    RetryPolicy,
    send,
    send_async,
)
from tests.fixtures.threaded_http import serving_in_thread

OK = (200, {}, b'{"label": "POSITIVE"}')
GATEWAY_TIMEOUT = (503, {}, b'{"message":"Service Unavailable"}')
INTERNAL_ERROR = b'{"message": "Internal server error"}'
FUNCTION_ERROR = (502, {REASON_HEADER: "function_error:ValueError"}, INTERNAL_ERROR)
INIT_ERROR = (502, {REASON_HEADER: "init_error:Runtime.ImportModuleError"}, INTERNAL_ERROR)
DROP = "drop"  # close the connection without an answer


@dataclass
class ScriptedServer:
    """Answers each request with the next scripted reply, then with ``then`` for ever."""

    script: list
    then: object = OK
    delay_s: float = 0.0
    seen: list[float] = field(default_factory=list)

    def reply(self) -> object:
        self.seen.append(time.monotonic())
        return self.script.pop(0) if self.script else self.then


@pytest.fixture
def server() -> Iterator[tuple[ScriptedServer, str]]:
    scripted = ScriptedServer(script=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            reply = scripted.reply()
            time.sleep(scripted.delay_s)
            if reply == DROP:
                self.close_connection = True
                return
            status, headers, body = reply
            try:
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out and left, as the timeout tests intend

        def log_message(self, *args: object) -> None:
            pass

    with serving_in_thread(Handler) as url:
        yield scripted, url


class VirtualTime:
    """A monotonic clock that sleeping moves forward without waiting."""

    def __init__(self) -> None:
        self.slept: list[float] = []

    def clock(self) -> float:
        return time.monotonic() + sum(self.slept)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def async_sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def unused_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(base_url: str, policy: RetryPolicy, vt: VirtualTime, **client: object):
    with httpx.Client(base_url=base_url, **client) as http:
        return send(
            http, "POST", "/predict", json={"text": "x"}, policy=policy,
            sleep=vt.sleep, clock=vt.clock,
        )  # fmt: skip


def test_fails_n_times_then_succeeds_recording_every_attempt(server) -> None:
    scripted, url = server
    scripted.script = [GATEWAY_TIMEOUT, GATEWAY_TIMEOUT, FUNCTION_ERROR]
    vt = VirtualTime()
    result = post(url, RetryPolicy(base_s=0.1, cap_s=1.0), vt)
    assert result.ok
    assert result.response is not None
    assert result.response.json() == {"label": "POSITIVE"}
    assert [a.label for a in result.attempts] == [
        "gateway_timeout",
        "gateway_timeout",
        "function_error",
        "ok",
    ]
    assert [a.status_code for a in result.attempts] == [503, 503, 502, 200]
    assert [a.number for a in result.attempts] == [1, 2, 3, 4]
    assert len(scripted.seen) == 4
    last = result.attempts[-1]
    assert result.time_to_first_success_s == pytest.approx(last.offset_s + last.latency_ms / 1000)
    assert result.time_to_first_success_s >= sum(vt.slept)
    assert all(a.latency_ms > 0 for a in result.attempts)
    assert [a.sent_at for a in result.attempts] == sorted(a.sent_at for a in result.attempts)


def test_sleeps_are_full_jitter_under_the_doubling_ceiling(server) -> None:
    scripted, url = server
    scripted.script = [GATEWAY_TIMEOUT] * 7
    vt = VirtualTime()
    policy = RetryPolicy(base_s=0.2, cap_s=1.5, max_attempts=10)
    result = post(url, policy, vt)
    assert result.ok
    assert len(vt.slept) == 7
    for retry, slept in enumerate(vt.slept, start=1):
        assert 0 <= slept <= policy.sleep_ceiling_s(retry)
    assert len(set(vt.slept)) == len(vt.slept)  # random, not a fixed schedule
    assert [a.slept_s for a in result.attempts] == [0.0, *vt.slept]


def test_attempts_are_bounded(server) -> None:
    scripted, url = server
    scripted.then = GATEWAY_TIMEOUT
    result = post(url, RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=4), VirtualTime())
    assert not result.ok
    assert result.stopped_by == "max_attempts"
    assert len(result.attempts) == len(scripted.seen) == 4
    assert result.response is not None
    assert result.response.status_code == 503
    assert result.time_to_first_success_s is None
    with pytest.raises(CallFailed, match=r"4 attempt\(s\).*gateway_timeout 4"):
        result.raise_for_failure()


def test_total_time_is_bounded_by_the_budget(server) -> None:
    scripted, url = server
    scripted.then = GATEWAY_TIMEOUT
    vt = VirtualTime()
    policy = RetryPolicy(base_s=1.0, cap_s=4.0, budget_s=20.0, max_attempts=1000)
    result = post(url, policy, vt)
    assert result.stopped_by == "budget"
    assert 3 < len(result.attempts) < 1000
    last = result.attempts[-1]
    assert last.offset_s < policy.budget_s  # no attempt starts after the budget
    ended = last.offset_s + last.latency_ms / 1000
    # it stopped only because the next sleep could cross the budget, not earlier
    assert ended + policy.sleep_ceiling_s(len(result.attempts)) >= policy.budget_s
    # the record adds up: every sleep and every attempt, nothing else
    busy = sum(vt.slept) + sum(a.latency_ms for a in result.attempts) / 1000
    assert ended == pytest.approx(busy, abs=0.05)


def test_attempt_timeout_is_cut_to_what_is_left_of_the_budget(server) -> None:
    scripted, url = server
    scripted.delay_s = 2.0
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30.0) as http:
        result = send(http, "POST", "/predict", policy=RetryPolicy(budget_s=0.3))
    assert time.monotonic() - started < 1.5
    assert [(a.label, a.error) for a in result.attempts] == [("connection_error", "ReadTimeout")]
    assert result.stopped_by == "budget"
    assert result.response is None


def test_repeated_identical_init_errors_stop_the_call_early(server) -> None:
    scripted, url = server
    scripted.then = INIT_ERROR
    policy = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=50, identical_init_errors=3)
    with pytest.raises(RepeatedInitError, match=r"3 times with Runtime\.ImportModuleError") as exc:
        post(url, policy, VirtualTime())
    assert exc.value.reason == "init_error:Runtime.ImportModuleError"
    assert exc.value.error_type == "Runtime.ImportModuleError"
    assert [a.label for a in exc.value.attempts] == ["init_error"] * 3
    assert len(scripted.seen) == 3


def test_init_errors_count_per_reason(server) -> None:
    scripted, url = server
    other = (502, {REASON_HEADER: "init_error:Runtime.ExitError"}, INTERNAL_ERROR)
    scripted.script = [INIT_ERROR, GATEWAY_TIMEOUT, other]
    policy = RetryPolicy(base_s=0.01, cap_s=0.02, identical_init_errors=2)
    result = post(url, policy, VirtualTime())
    assert result.ok
    assert [a.label for a in result.attempts] == [
        "init_error",
        "gateway_timeout",
        "init_error",
        "ok",
    ]


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_client_errors_other_than_429_are_not_retried(server, status: int) -> None:
    scripted, url = server
    scripted.then = (status, {}, b'{"detail": "no"}')
    result = post(url, RetryPolicy(), VirtualTime())
    assert result.stopped_by == "not_retried"
    assert [a.label for a in result.attempts] == ["rejected"]
    assert len(scripted.seen) == 1
    assert result.response is not None
    assert result.response.status_code == status


def test_429_is_retried_as_a_throttle(server) -> None:
    scripted, url = server
    scripted.script = [(429, {}, b'{"message":"Too Many Requests"}')]
    result = post(url, RetryPolicy(base_s=0.01, cap_s=0.02), VirtualTime())
    assert [a.label for a in result.attempts] == ["throttle", "ok"]


def test_dropped_connection_is_retried_as_a_connection_error(server) -> None:
    scripted, url = server
    scripted.script = [DROP]
    result = post(url, RetryPolicy(base_s=0.01, cap_s=0.02), VirtualTime())
    assert result.ok
    assert result.attempts[0].label == "connection_error"
    assert result.attempts[0].error == "RemoteProtocolError"
    assert result.attempts[0].status_code is None


def test_refused_connections_are_retried_until_the_attempts_run_out() -> None:
    policy = RetryPolicy(base_s=0.01, cap_s=0.02, max_attempts=3)
    result = post(f"http://127.0.0.1:{unused_port()}", policy, VirtualTime())
    assert [(a.label, a.error) for a in result.attempts] == [
        ("connection_error", "ConnectError")
    ] * 3
    assert result.response is None
    with pytest.raises(CallFailed, match="ConnectError"):
        result.raise_for_failure()


def test_async_client_shares_the_policy_and_labels(server) -> None:
    scripted, url = server
    scripted.script = [GATEWAY_TIMEOUT, (429, {}, b"{}")]
    vt = VirtualTime()

    async def call():
        async with httpx.AsyncClient(base_url=url) as http:
            return await send_async(
                http, "POST", "/predict", json={"text": "x"},
                policy=RetryPolicy(base_s=0.1, cap_s=1.0), sleep=vt.async_sleep, clock=vt.clock,
            )  # fmt: skip

    result = asyncio.run(call())
    assert [a.label for a in result.attempts] == ["gateway_timeout", "throttle", "ok"]
    assert len(vt.slept) == 2
    assert result.ok


def test_async_client_fails_fast_on_repeated_init_errors(server) -> None:
    scripted, url = server
    scripted.then = INIT_ERROR
    vt = VirtualTime()

    async def call():
        async with httpx.AsyncClient(base_url=url) as http:
            return await send_async(
                http, "POST", "/predict", policy=RetryPolicy(identical_init_errors=2),
                sleep=vt.async_sleep, clock=vt.clock,
            )  # fmt: skip

    with pytest.raises(RepeatedInitError):
        asyncio.run(call())
    assert len(scripted.seen) == 2


def test_attempt_records_serialise_for_metadata(server) -> None:
    scripted, url = server
    scripted.script = [GATEWAY_TIMEOUT]
    result = post(url, RetryPolicy(base_s=0.01, cap_s=0.02), VirtualTime())
    records = [json.loads(a.model_dump_json()) for a in result.attempts]
    assert records[0]["label"] == "gateway_timeout"
    assert set(records[0]) >= {"number", "sent_at", "latency_ms", "label", "status_code", "error"}


def test_a_timeout_given_with_the_request_replaces_the_clients(server) -> None:
    scripted, url = server
    scripted.delay_s = 1.0
    started = time.monotonic()
    with httpx.Client(base_url=url, timeout=30.0) as http:
        result = send(http, "POST", "/predict", timeout=0.1, policy=RetryPolicy(max_attempts=1))
    assert time.monotonic() - started < 0.9
    assert [a.error for a in result.attempts] == ["ReadTimeout"]
