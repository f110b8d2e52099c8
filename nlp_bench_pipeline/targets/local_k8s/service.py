"""The Service: an HTTP/1.1 reverse proxy that balances each request over the ready pods.

It runs on the target's event loop (uvloop) with httptools parsing both sides, and keeps pooled
keep-alive connections to every pod, so it adds well under a millisecond (measured in
benchmarks/local_k8s.py; the choice is docs/adr/0020). Balancing is round robin per *request*,
not per connection: a keep-alive client is spread over every ready pod, and a pod that turns
ready gets its share at once. Only pods whose readiness probe passes are endpoints.

Answers of its own are those of the ALB ingress that fronts the service on EKS:
- no ready endpoint (nothing deployed yet, every pod loading): 503;
- the pod closed or reset the connection before its response: 502 (only requests already sent
  to a pod that dies get this; a refused connect or a connection found closed in the pool is
  retried on the next ready pod, since nothing was sent);
- no response within the upstream timeout (ALB idle timeout, 60 s): 504;
- a request whose headers and body have not all arrived within ``request_timeout_s`` of its
  first byte: 408, and the connection closes (an ALB answers a client that stops sending 408);
- HTTP it cannot parse: a JSON 400 that echoes nothing of what was sent.
Each of these says why in the emulator-only reason header (``x-nlp-bench-reason``):
``cold_start:no_ready_endpoints``, ``function_error:pod_closed_connection``,
``timeout:gateway``, ``rejected:<why>``. A pod's own answers pass through untouched.
Bodies are buffered (the service caps them at 6 MB); requests are forwarded with
``content-length``, hop-by-hop headers removed; HEAD gets 501 (nothing would end its response).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from dataclasses import dataclass

import httptools

from nlp_bench_pipeline.core.headers import FRONT_HEADER, REASON_HEADER

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"content-length",
        b"expect",
    }
)
# Pooled connections are closed after this long idle, before a pod's keep-alive timeout (set
# longer, see pods.py) could close one just as a request is written into it.
POOL_IDLE_S = 60.0
UPSTREAM_KEEP_ALIVE_S = 75
MAX_BODY_BYTES = 16 * 1024 * 1024
MAX_PIPELINED = 16
# As the service's own NLP_BENCH_BODY_TIMEOUT_S: a request still arriving after this long holds a
# connection for nothing.
REQUEST_TIMEOUT_S = 10.0
# The emulators' own headers, as this raw HTTP writer puts them on the wire.
REASON = REASON_HEADER.encode()
FRONT = FRONT_HEADER.encode()


@dataclass(frozen=True)
class Response:
    """A complete HTTP response, from a pod or from the Service itself."""

    status: int
    reason: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    reusable: bool = True  # the upstream connection may serve another request

    def encode(self, keep_alive: bool) -> bytes:
        lines = [b"HTTP/1.1 %d %s\r\n" % (self.status, self.reason)]
        lines += [b"%s: %s\r\n" % (k, v) for k, v in self.headers if k.lower() not in HOP_BY_HOP]
        lines.append(b"content-length: %d\r\n" % len(self.body))
        if not keep_alive:
            lines.append(b"connection: close\r\n")
        lines.append(b"\r\n")
        lines.append(self.body)
        return b"".join(lines)


def own_response(status: int, reason: str, detail: str, why: str) -> Response:
    """An answer the Service writes itself; ``why`` goes in the emulator's reason header."""
    body = json.dumps({"message": reason, "detail": detail}).encode()
    headers = (
        (b"content-type", b"application/json"),
        (FRONT, b"local-k8s-service"),
        (REASON, why.encode()),
    )
    return Response(status, reason.encode(), headers, body)


NO_ENDPOINTS = own_response(
    503, "Service Unavailable", "no ready endpoints", "cold_start:no_ready_endpoints"
)
BAD_GATEWAY = own_response(
    502, "Bad Gateway", "the pod closed the connection", "function_error:pod_closed_connection"
)
GATEWAY_TIMEOUT = own_response(
    504, "Gateway Timeout", "the pod did not answer in time", "timeout:gateway"
)
BAD_REQUEST = own_response(
    400, "Bad Request", "malformed HTTP request", "rejected:malformed_request"
)
TOO_LARGE = own_response(
    413, "Payload Too Large", f"body over {MAX_BODY_BYTES} bytes", "rejected:payload_too_large"
)
NOT_IMPLEMENTED = own_response(
    501, "Not Implemented", "HEAD is not proxied", "rejected:head_not_proxied"
)


def request_timeout(timeout_s: float) -> Response:
    return own_response(
        408,
        "Request Timeout",
        f"request not received within {timeout_s:g} s",
        "rejected:body_timeout",
    )


class UpstreamClosed(Exception):
    """The pod's connection ended before a complete response."""


class Upstream(asyncio.Protocol):
    """One keep-alive connection to a pod, carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.last_used = time.monotonic()
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._reset()

    def _reset(self) -> None:
        self._reason = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self.close()

    def eof_received(self) -> bool:
        self.close()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(UpstreamClosed())

    # httptools callbacks
    def on_status(self, reason: bytes) -> None:
        self._reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        response = Response(
            self._parser.get_status_code(),
            self._reason,
            tuple(self._headers),
            b"".join(self._body),
            self._parser.should_keep_alive(),
        )
        self._reset()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(response)

    async def exchange(self, payload: bytes, timeout_s: float) -> Response:
        """Send one request; raises UpstreamClosed, or TimeoutError after ``timeout_s``."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        self.transport.write(payload)
        timer = loop.call_later(timeout_s, _expire, waiter)
        try:
            return await waiter
        finally:
            timer.cancel()
            self._waiter = None
            self.last_used = time.monotonic()

    def usable(self, now: float) -> bool:
        return not self.closed and now - self.last_used < POOL_IDLE_S

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


def _expire(waiter: asyncio.Future[Response]) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class Endpoint:
    """A ready pod: its port, its pooled connections and its requests in flight."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.inflight = 0
        self.removed = False
        self._idle: list[Upstream] = []
        self._busy_s = 0.0  # integral of in-flight requests over time
        self._changed_at = self._window_at = time.monotonic()
        self._window_busy_s = 0.0

    async def connection(self) -> Upstream:
        """A pooled connection that is still open, else a new one (OSError if refused)."""
        now = time.monotonic()
        while self._idle:
            upstream = self._idle.pop()
            if upstream.usable(now):
                return upstream
            upstream.close()
        loop = asyncio.get_running_loop()
        _, upstream = await loop.create_connection(Upstream, "127.0.0.1", self.port)
        return upstream

    def release(self, upstream: Upstream, reusable: bool) -> None:
        if reusable and not upstream.closed and not self.removed:
            self._idle.append(upstream)
        else:
            upstream.close()

    def close_idle(self) -> None:
        while self._idle:
            self._idle.pop().close()

    async def drained(self, timeout_s: float) -> int:
        """Wait until no request is in flight here; returns how many still were at the timeout."""
        deadline = time.monotonic() + timeout_s
        while self.inflight and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        return self.inflight

    def count(self, delta: int) -> None:
        now = time.monotonic()
        self._busy_s += self.inflight * (now - self._changed_at)
        self._changed_at = now
        self.inflight += delta

    def average_inflight(self) -> float:
        """Mean requests in flight since the previous call (Little's law over the window)."""
        now = time.monotonic()
        busy = self._busy_s + self.inflight * (now - self._changed_at)
        elapsed = now - self._window_at
        average = (busy - self._window_busy_s) / elapsed if elapsed > 0 else float(self.inflight)
        self._window_at, self._window_busy_s = now, busy
        return average


class ServiceProxy:
    """The Service's endpoint: listens on 127.0.0.1, forwards to ready pods round robin."""

    def __init__(
        self, upstream_timeout_s: float, request_timeout_s: float = REQUEST_TIMEOUT_S
    ) -> None:
        self.upstream_timeout_s = upstream_timeout_s
        self.request_timeout_s = request_timeout_s
        self._endpoints: dict[str, Endpoint] = {}
        self._ready: list[Endpoint] = []
        self._next = 0
        self._server: asyncio.Server | None = None
        self._clients: set[ClientConnection] = set()

    async def start(self, port: int = 0) -> int:
        """Listen; returns the port."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: ClientConnection(self), "127.0.0.1", port, backlog=1024
        )
        return int(self._server.sockets[0].getsockname()[1])

    def add(self, name: str, port: int) -> None:
        """``name`` passed its readiness probe: send it traffic."""
        if name not in self._endpoints:
            endpoint = Endpoint(name, port)
            self._endpoints[name] = endpoint
            self._ready.append(endpoint)

    def remove(self, name: str) -> Endpoint | None:
        """``name`` is no longer ready: no new requests; those in flight finish (``drained``)."""
        endpoint = self._endpoints.pop(name, None)
        if endpoint is not None:
            endpoint.removed = True
            self._ready.remove(endpoint)
            endpoint.close_idle()
        return endpoint

    def average_inflight(self, name: str) -> float | None:
        endpoint = self._endpoints.get(name)
        return endpoint.average_inflight() if endpoint is not None else None

    @property
    def ready_endpoints(self) -> list[str]:
        return [e.name for e in self._ready]

    async def forward(self, payload: bytes) -> Response:
        """One request to the next ready pod; retried elsewhere only if nothing was sent."""
        refused: set[Endpoint] = set()
        while (endpoint := self._pick(refused)) is not None:
            try:
                upstream = await endpoint.connection()
            except OSError:
                refused.add(endpoint)
                continue
            endpoint.count(+1)
            try:
                response = await upstream.exchange(payload, self.upstream_timeout_s)
            except UpstreamClosed:
                return BAD_GATEWAY
            except TimeoutError:
                upstream.close()
                return GATEWAY_TIMEOUT
            finally:
                endpoint.count(-1)
            endpoint.release(upstream, response.reusable)
            return response
        return NO_ENDPOINTS

    def _pick(self, refused: set[Endpoint]) -> Endpoint | None:
        """The next ready endpoint in turn, skipping those that refused this request."""
        for _ in range(len(self._ready)):
            self._next = (self._next + 1) % len(self._ready)
            if self._ready[self._next] not in refused:
                return self._ready[self._next]
        return None

    async def close(self) -> None:
        """Stop listening, drop client connections and pooled connections."""
        if self._server is not None:
            self._server.close()
        for client in list(self._clients):
            client.close()
        for endpoint in self._endpoints.values():
            endpoint.close_idle()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None


class ClientConnection(asyncio.Protocol):
    """One client's keep-alive connection; requests are answered in order (pipelining too)."""

    def __init__(self, service: ServiceProxy) -> None:
        self.service = service
        self.transport: asyncio.Transport | None = None
        self._parser = httptools.HttpRequestParser(self)
        self._queue: deque[tuple[bytes | Response, bool]] = deque()  # request or own answer
        self._worker: asyncio.Task[None] | None = None
        self._paused = False
        self._rejected = False
        self._arrival_timer: asyncio.TimerHandle | None = None
        self._new_message()

    def _new_message(self) -> None:
        self._url = b""
        self._headers: list[bytes] = []
        self._body: list[bytes] = []
        self._body_size = 0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.service._clients.add(self)

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            self._reply_and_close(BAD_REQUEST)

    def connection_lost(self, exc: Exception | None) -> None:
        self.service._clients.discard(self)
        self._queue.clear()
        self._stop_arrival_timer()

    # httptools callbacks
    def on_message_begin(self) -> None:
        """A request's first byte: all of it must arrive within the request timeout."""
        timeout_s = self.service.request_timeout_s
        self._arrival_timer = asyncio.get_running_loop().call_later(
            timeout_s, self._reply_and_close, request_timeout(timeout_s)
        )

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        lowered = name.lower()
        if lowered == b"expect" and value.lower() == b"100-continue":
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if lowered not in HOP_BY_HOP:
            self._headers.append(b"%s: %s\r\n" % (name, value))

    def on_body(self, body: bytes) -> None:
        self._body_size += len(body)
        if self._body_size > MAX_BODY_BYTES:
            self._reply_and_close(TOO_LARGE)
            return
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._stop_arrival_timer()
        if self._rejected:
            return
        method = self._parser.get_method()
        body = b"".join(self._body)
        payload = b"".join(
            [
                b"%s %s HTTP/1.1\r\n" % (method, self._url),
                *self._headers,
                b"content-length: %d\r\n\r\n" % len(body),
                body,
            ]
        )
        # A HEAD response has no body to end it; the pods' API has no HEAD route anyway.
        request = NOT_IMPLEMENTED if method == b"HEAD" else payload
        self._queue.append((request, self._parser.should_keep_alive()))
        self._new_message()
        if len(self._queue) >= MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
            self._paused = True
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        try:
            while self._queue:
                request, keep_alive = self._queue.popleft()
                if isinstance(request, Response):
                    response = request
                else:
                    response = await self.service.forward(request)
                self._write(response.encode(keep_alive))
                if not keep_alive:
                    self.close()
                    return
                if self._paused and self.transport is not None:
                    self._paused = False
                    self.transport.resume_reading()
        finally:
            self._worker = None

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _stop_arrival_timer(self) -> None:
        if self._arrival_timer is not None:
            self._arrival_timer.cancel()
            self._arrival_timer = None

    def _reply_and_close(self, response: Response) -> None:
        self._stop_arrival_timer()
        self._rejected = True
        self._write(response.encode(keep_alive=False))
        self.close()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
