"""The local Kubernetes Service's own answers (issue 17): the reason header, a 408 for a request
that stops arriving, a JSON 400 without echo for HTTP it cannot parse.

Fake pods on asyncio stand in for uvicorn, as in test_local_k8s_service.py, so each case takes
milliseconds (the request timeout is shortened to half a second).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable

import httptools
import httpx
import pytest

from nlp_bench_pipeline.client import classify_response
from nlp_bench_pipeline.core.headers import REASON_HEADER as REASON
from nlp_bench_pipeline.targets.local_k8s.service import ServiceProxy


class Pod(asyncio.Protocol):
    """Answers 200 with ``pod``, or closes mid-request, or never answers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_message_complete(self) -> None:
        assert self.transport is not None
        if self.mode == "close":
            self.transport.close()
        elif self.mode == "answer":
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\npod")


async def with_proxy(
    scenario: Callable[[ServiceProxy, int], Awaitable[None]], *, pod: str | None = None
) -> None:
    proxy = ServiceProxy(upstream_timeout_s=0.5, request_timeout_s=0.5)
    port = await proxy.start()
    server = None
    if pod is not None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Pod(pod), "127.0.0.1", 0)
        proxy.add("pod-1", server.sockets[0].getsockname()[1])
    try:
        await scenario(proxy, port)
    finally:
        await proxy.close()
        if server is not None:
            server.close()


async def raw(port: int, data: bytes, *, wait_s: float = 3.0) -> tuple[bytes, float]:
    """Send ``data``; everything read until the Service closes, and when the first byte came."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(data)
    first: float | None = None
    received = b""
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), wait_s)
            if not chunk:
                break
            first = first or time.monotonic() - started
            received += chunk
    except TimeoutError:
        pass
    writer.close()
    return received, first if first is not None else float("inf")


def parse(response: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("pod", "status", "reason"),
    [
        (None, 503, "cold_start:no_ready_endpoints"),
        ("close", 502, "function_error:pod_closed_connection"),
        ("hang", 504, "timeout:gateway"),
    ],
)
def test_the_services_own_errors_say_why(pod: str | None, status: int, reason: str) -> None:
    async def scenario(proxy: ServiceProxy, port: int) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/predict", json={"text": "x"})
        assert (response.status_code, response.headers[REASON]) == (status, reason)
        label, seen, evidence = classify_response(
            response.status_code, response.headers, response.content, 0.01
        )
        assert (seen, evidence) == (reason, "reason header")
        assert label in {"cold_start", "function_error", "gateway_timeout"}

    asyncio.run(with_proxy(scenario, pod=pod))


def test_a_pods_own_answer_passes_without_a_reason_header() -> None:
    async def scenario(proxy: ServiceProxy, port: int) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.post(f"http://127.0.0.1:{port}/predict", json={})
        assert (response.status_code, response.text) == (200, "pod")
        assert REASON not in response.headers

    asyncio.run(with_proxy(scenario, pod="answer"))


@pytest.mark.parametrize(
    "partial",
    [
        b'POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"text": "tru',
        b"POST /predict HTTP/1.1\r\nHost: x\r\nX-Slow: header never",  # headers that never end
    ],
    ids=["body", "headers"],
)
def test_a_request_that_stops_arriving_gets_a_408_and_the_connection_closes(
    partial: bytes,
) -> None:
    async def scenario(proxy: ServiceProxy, port: int) -> None:
        response, first_byte_s = await raw(port, partial)
        status, headers, body = parse(response)
        assert status == 408
        assert first_byte_s < 2.0  # the request timeout is 0.5 s
        assert headers[REASON] == "rejected:body_timeout"
        assert headers["connection"] == "close"
        assert json.loads(body)["message"] == "Request Timeout"

    asyncio.run(with_proxy(scenario, pod="answer"))


def test_a_complete_request_is_not_cut_by_the_request_timeout() -> None:
    async def scenario(proxy: ServiceProxy, port: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        head = await asyncio.wait_for(reader.readuntil(b"pod"), 2)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.sleep(0.8)  # idle past the request timeout between requests: no 408
        writer.write(b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        second = await asyncio.wait_for(reader.readuntil(b"pod"), 2)
        assert second.startswith(b"HTTP/1.1 200")
        writer.close()

    asyncio.run(with_proxy(scenario, pod="answer"))


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /predict HTTP/1.1\r\nHost: x\r\nBad Header <script>\r\n\r\n",
        b"BR<script>EW / HTTP/1.1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01<script>\r\n\r\n",
    ],
    ids=["header", "method", "tls"],
)
def test_malformed_http_gets_a_json_400_that_echoes_nothing(request_bytes: bytes) -> None:
    async def scenario(proxy: ServiceProxy, port: int) -> None:
        response, _ = await raw(port, request_bytes)
        status, headers, body = parse(response)
        assert status == 400
        assert headers["content-type"] == "application/json"
        assert headers[REASON] == "rejected:malformed_request"
        assert b"<script>" not in body
        assert json.loads(body)["message"] == "Bad Request"

    asyncio.run(with_proxy(scenario, pod="answer"))
