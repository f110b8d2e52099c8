"""The local Lambda's API Gateway front on its own, over a scripted pool (issue 17, findings 3, 8
and 11, and the reason header).

The pool is replaced by one that answers each invoke as the test says, so these run in
milliseconds and show exactly what the front itself does: bodies passed on as sent (never
decompressed, so a compression bomb is just a small body and the event loop stays free), a JSON
400 without echo for HTTP it cannot parse, a 408 for a body that stops arriving, and the
emulator-only reason header on every answer it writes itself.
"""

from __future__ import annotations

import base64
import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from nlp_bench_pipeline.client import REASON_HEADER as CLIENT_REASON_HEADER
from nlp_bench_pipeline.client import classify_response
from nlp_bench_pipeline.targets.background import BackgroundLoop
from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_lambda.config import LocalLambdaConfig, PlatformLimits
from nlp_bench_pipeline.targets.local_lambda.gateway import ApiGateway
from nlp_bench_pipeline.targets.local_lambda.invocation import (
    Invocation,
    InvocationResult,
    error_result,
    runtime_trace_id,
)
from nlp_bench_pipeline.targets.local_lambda.payloads import REASON_HEADER
from nlp_bench_pipeline.targets.local_lambda.pool import Throttled

OK_RESPONSE = {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": "{}"}
# What each scripted invoke does: a result, a Throttled to raise, or None (never answers).
Script = Callable[[dict[str, Any], Invocation], InvocationResult | Throttled | None]


def echo_event(event: dict[str, Any], invocation: Invocation) -> InvocationResult:
    """Answer with the event the function got, so a test can see what the front passed on."""
    body = json.dumps({"event": event})
    return InvocationResult("success", json.dumps({**OK_RESPONSE, "body": body}).encode())


@dataclass
class ScriptedPool:
    """Stands in for ExecutionEnvironmentPool: invokes are answered by ``script``."""

    events: EventLog
    script: Script = echo_event
    cold: bool = False
    invokes: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, payload: bytes, gateway_request_id: str, trace_root: str) -> Invocation:
        import asyncio

        invocation = Invocation(
            payload,
            gateway_request_id,
            asyncio.get_running_loop().create_future(),
            trace_id=runtime_trace_id(trace_root),
        )
        invocation.cold = self.cold
        event = json.loads(payload)
        self.invokes.append(event)
        outcome = self.script(event, invocation)
        if isinstance(outcome, Throttled):
            raise outcome
        if outcome is not None:
            invocation.finish(outcome)
        return invocation


@dataclass
class Front:
    gateway: ApiGateway
    pool: ScriptedPool
    events: EventLog
    url: str

    @property
    def port(self) -> int:
        return self.gateway.port


@pytest.fixture
def front_factory() -> Iterator[Callable[..., Front]]:
    loop = BackgroundLoop("gateway-test")
    gateways: list[ApiGateway] = []

    def start(
        script: Script = echo_event,
        *,
        body_timeout_s: float = 10.0,
        integration_timeout_s: float = 30.0,
        cold: bool = False,
        **knobs: Any,
    ) -> Front:
        config = LocalLambdaConfig(**knobs)
        limits = PlatformLimits(
            concurrency_limit=4,
            max_concurrent_inits=4,
            integration_timeout_s=integration_timeout_s,
            provisioned_init_timeout_s=130.0,
        )
        events = EventLog("local-lambda")
        pool = ScriptedPool(events, script, cold)
        gateway = loop.call(ApiGateway, pool, config, limits, events, 0, body_timeout_s)
        port = loop.run(gateway.start())
        gateways.append(gateway)
        return Front(gateway, pool, events, f"http://127.0.0.1:{port}")

    try:
        yield start
    finally:
        for gateway in gateways:
            loop.run(gateway.close(), timeout=10)
        loop.close()


def raw_exchange(port: int, data: bytes, *, wait_s: float = 5.0) -> bytes:
    """Send raw bytes; read one whole response (or what came before ``wait_s``)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        received = b""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline and not _complete(received):
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            received += chunk
        return received


def _complete(response: bytes) -> bool:
    head, sep, body = response.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value)
    return False


def split_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def event_body(response: httpx.Response) -> bytes:
    """The request body as the function's event carries it."""
    event = response.json()["event"]
    body = event.get("body") or ""
    return base64.b64decode(body) if event["isBase64Encoded"] else body.encode()


# -- finding 3: no transparent decompression --------------------------------------------------


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br", "zstd", "identity"])
def test_a_content_encoding_header_on_a_plain_body_reaches_the_function_untouched(
    front_factory: Callable[..., Front], encoding: str
) -> None:
    # The probe's case: the front answered 500 (zstd: a plain-text 400) where the app gives 200.
    front = front_factory()
    body = b'{"text": "fine"}'
    response = httpx.post(
        f"{front.url}/predict",
        content=body,
        headers={"content-type": "application/json", "content-encoding": encoding},
    )
    assert response.status_code == 200
    assert event_body(response) == body
    assert front.pool.invokes[0]["headers"]["content-encoding"] == encoding


def test_a_valid_gzip_body_reaches_the_function_compressed_as_api_gateway_passes_it(
    front_factory: Callable[..., Front],
) -> None:
    front = front_factory()
    compressed = gzip.compress(b'{"text": "fine"}')
    response = httpx.post(
        f"{front.url}/predict",
        content=compressed,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    [event] = front.pool.invokes
    assert event["isBase64Encoded"] is True  # not UTF-8 text: base64, as API Gateway sends it
    assert event_body(response) == compressed


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """512 MiB of zeros deflated to about half a megabyte (the front used to inflate it all)."""
    compressor = zlib.compressobj(6)
    mebibyte = bytes(1 << 20)
    return b"".join(compressor.compress(mebibyte) for _ in range(512)) + compressor.flush()


def test_a_compression_bomb_is_a_small_body_and_never_blocks_the_event_loop(
    front_factory: Callable[..., Front], bomb: bytes
) -> None:
    front = front_factory()
    assert len(bomb) < 1024 * 1024
    latencies: list[float] = []

    def small_requests() -> None:
        with httpx.Client(base_url=front.url, timeout=10) as client:
            for _ in range(20):
                sent = time.monotonic()
                client.post("/predict", json={"text": "fine"})
                latencies.append(time.monotonic() - sent)

    others = threading.Thread(target=small_requests)
    others.start()
    for _ in range(3):
        response = httpx.post(
            f"{front.url}/predict",
            content=bomb,
            headers={"content-type": "application/json", "content-encoding": "deflate"},
            timeout=10,
        )
        assert response.status_code == 200
        assert event_body(response) == bomb
    others.join()
    assert len(latencies) == 20
    # Inflating one such bomb on the loop took about a second here: every request waited on it.
    assert max(latencies) < 0.45, latencies


# -- finding 8: malformed HTTP -----------------------------------------------------------------


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /predict HTTP/1.1\r\nHost: x\r\nBad Header Without Colon <script>\r\n\r\n",
        b"BR<script>EW /predict HTTP/1.1\r\nHost: x\r\n\r\n",
        b"GET /pre\x00dict<script> HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: -5<script>\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01<script>\r\n\r\n",  # TLS to a plain-HTTP port
    ],
    ids=["header", "method", "target", "content-length", "tls"],
)
def test_malformed_http_gets_a_json_400_that_echoes_nothing(
    front_factory: Callable[..., Front], request_bytes: bytes
) -> None:
    front = front_factory()
    status, headers, body = split_response(raw_exchange(front.port, request_bytes))
    assert status == 400
    assert headers["content-type"].startswith("application/json")
    assert json.loads(body) == {"message": "Bad Request"}
    assert headers[REASON_HEADER] == "rejected:malformed_request"
    assert b"<script>" not in body
    assert front.pool.invokes == []


def test_a_chunked_body_that_breaks_its_framing_gets_a_json_400(
    front_factory: Callable[..., Front],
) -> None:
    front = front_factory()
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"te<script>\r\nzz\r\n\r\n'
    )
    status, _, body = split_response(raw_exchange(front.port, request))
    assert status == 400
    assert json.loads(body) == {"message": "Bad Request"}
    assert b"<script>" not in body
    assert front.pool.invokes == []


# -- finding 11: body-read deadline ----------------------------------------------------------


def test_a_body_that_stops_arriving_gets_a_408_within_the_body_timeout(
    front_factory: Callable[..., Front],
) -> None:
    front = front_factory(body_timeout_s=0.5)
    request = (
        b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"text": "trunc'
    )
    started = time.monotonic()
    status, headers, body = split_response(raw_exchange(front.port, request, wait_s=5))
    assert status == 408
    assert time.monotonic() - started < 3.0
    assert json.loads(body) == {"message": "Request Timeout"}
    assert headers[REASON_HEADER] == "rejected:body_timeout"
    assert headers["connection"] == "close"
    assert front.pool.invokes == []


def test_a_slow_but_complete_body_within_the_timeout_is_served(
    front_factory: Callable[..., Front],
) -> None:
    front = front_factory(body_timeout_s=3.0)
    body = b'{"text": "arrives in two parts"}'
    with socket.create_connection(("127.0.0.1", front.port), timeout=5) as sock:
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body[:10])
        )
        time.sleep(0.5)
        sock.sendall(body[10:])
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    assert split_response(raw)[0] == 200


# -- the reason header -------------------------------------------------------------------------


def test_each_answer_the_front_writes_itself_says_why(front_factory: Callable[..., Front]) -> None:
    cases: list[tuple[Front, int, str]] = []

    def throttled(reason: str) -> Script:
        return lambda event, invocation: Throttled(reason)

    def failed(error_type: str) -> Script:
        return lambda event, invocation: error_result(error_type, "boom")

    def init_failed(events: list[EventLog]) -> Script:
        def script(event: dict[str, Any], invocation: Invocation) -> InvocationResult:
            detail = {"phase": "init", "error_type": "ModelLoadError", "message": "no model"}
            events[0].record(
                "crash", "ee-1", detail={**detail, "request_id": invocation.request_id}
            )
            return error_result("ModelLoadError", "no model")

        return script

    cases.append((front_factory(throttled("concurrency_limit")), 500, "throttle:concurrency_limit"))
    cases.append((front_factory(throttled("scale_out_rate")), 500, "throttle:scale_out_rate"))
    cases.append((front_factory(failed("ValueError")), 502, "function_error:ValueError"))
    cases.append((front_factory(failed("Sandbox.Timedout")), 502, "timeout:function"))
    holder: list[EventLog] = []
    init_front = front_factory(init_failed(holder))
    holder.append(init_front.events)
    cases.append((init_front, 502, "init_error:ModelLoadError"))
    cases.append(
        (front_factory(lambda e, i: None, integration_timeout_s=0.3), 503, "timeout:gateway")
    )
    cases.append(
        (
            front_factory(lambda e, i: None, integration_timeout_s=0.3, cold=True),
            503,
            "cold_start:gateway_timeout",
        )
    )
    cases.append(
        (
            front_factory(lambda e, i: None, integration_timeout_s=0.3, api="rest"),
            504,
            "timeout:gateway",
        )
    )
    cases.append((front_factory(max_request_bytes=10), 413, "rejected:payload_too_large"))
    for front, status, reason in cases:
        response = httpx.post(f"{front.url}/predict", json={"text": "fine"}, timeout=10)
        assert (response.status_code, response.headers.get(REASON_HEADER)) == (status, reason)
        # The body stays AWS's own: {"message": ...}, nothing added.
        assert set(response.json()) == {"message"}
    limited = front_factory(gateway_rate_limit_rps=0.001, gateway_burst=1)
    httpx.post(f"{limited.url}/predict", json={})
    second = httpx.post(f"{limited.url}/predict", json={})
    assert (second.status_code, second.headers[REASON_HEADER]) == (
        429,
        "throttle:gateway_rate_limit",
    )


def test_the_client_reads_the_reason_header_the_front_sends(
    front_factory: Callable[..., Front],
) -> None:
    assert REASON_HEADER == CLIENT_REASON_HEADER
    front = front_factory(lambda event, invocation: Throttled("concurrency_limit"))
    response = httpx.post(f"{front.url}/predict", json={})
    label, reason, evidence = classify_response(
        response.status_code, response.headers, response.content, 0.01
    )
    assert (label, reason, evidence) == ("throttle", "throttle:concurrency_limit", "reason header")


def test_a_function_answer_carries_no_reason_header(front_factory: Callable[..., Front]) -> None:
    front = front_factory()
    response = httpx.post(f"{front.url}/predict", json={"text": "fine"})
    assert response.status_code == 200
    assert REASON_HEADER not in response.headers


def test_an_init_that_failed_once_and_then_served_is_not_an_init_error(
    front_factory: Callable[..., Front],
) -> None:
    holder: list[EventLog] = []

    def script(event: dict[str, Any], invocation: Invocation) -> InvocationResult:
        ids = {"request_id": invocation.request_id}
        holder[0].record("crash", "ee-1", detail={"phase": "init", "error_type": "X", **ids})
        holder[0].record("cold_start", "ee-1", detail=ids)  # the retried init served
        return error_result("ValueError", "the handler raised")

    front = front_factory(script)
    holder.append(front.events)
    response = httpx.post(f"{front.url}/predict", json={})
    assert response.headers[REASON_HEADER] == "function_error:ValueError"
