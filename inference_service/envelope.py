"""What wraps every HTTP exchange: body checks, the benchmark headers, timing and metrics.

Pure ASGI rather than ``BaseHTTPMiddleware``: it runs on every request the benchmark measures, and
it must see the body stream to stop an oversize upload without buffering 6 MB first. The body is
also checked as UTF-8 while it streams in, so a bad byte gets a 400 that names its position
rather than FastAPI's generic "error parsing the body".
"""

from __future__ import annotations

import asyncio
import codecs
import json
import logging
import time
from collections.abc import Callable

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER, send_json
from inference_service.metrics import ServiceMetrics

log = logging.getLogger("inference_service.app")
RECEIVED_AT = "nlp_bench.received_at"
# Set by the route when it has a prediction to serve: whether it is this process's cold start.
COLD_START = "nlp_bench.cold_start"
_ENVIRONMENT = ENVIRONMENT_HEADER.encode()
_COLD_START = COLD_START_HEADER.encode()
METRIC_PATHS = frozenset({"/predict", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json"})


class BodyRejected(HTTPException):
    """The body failed a check while it was being read.

    An ``HTTPException`` because FastAPI re-raises those from the body read (anything else becomes
    a generic 400), so its error handler writes the response; the envelope catches it for routes
    that read the body some other way. The connection is closed after the answer: the rest of the
    body, if any is still coming, is not worth reading.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status_code=status, detail=message, headers={"connection": "close"})


class RequestEnvelope:
    """Adds ``x-nlp-bench-*`` headers, enforces the body's size and time limits, records latency.

    No server in front of the app bounds how long a body may take (uvicorn's keep-alive timeout
    only runs between requests), so a client that sends headers and part of a body would hold the
    connection and its request for ever: the envelope gives the whole body ``body_timeout_s``
    from the request's arrival, then answers 408 and closes the connection.

    ``x-nlp-bench-cold-start`` is ``1`` on the first prediction this process serves and ``0`` on
    everything else: the route decides it when it has a prediction (``ServiceState``), and the
    envelope reads its answer from the scope when the response starts. Probes, a 503 while the
    model loads and bad input never use up a process's first request.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        environment_id: Callable[[], str],
        max_body_bytes: int,
        body_timeout_s: float,
        metrics: ServiceMetrics,
    ) -> None:
        self.app = app
        self.environment_id = environment_id
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        scope[RECEIVED_AT] = started
        environment = (_ENVIRONMENT, self.environment_id().encode())
        status = 500
        response_started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                cold = (_COLD_START, b"1" if scope.get(COLD_START) else b"0")
                message["headers"] = [*message.get("headers", []), environment, cold]
            await send(message)

        self.metrics.inflight.inc()
        try:
            if self._declared_length(scope) > self.max_body_bytes:
                await _send_error(send_with_headers, 413, self._too_large_message)
                return
            try:
                deadline = asyncio.get_running_loop().time() + self.body_timeout_s
                await self.app(scope, self._checked(receive, deadline), send_with_headers)
            except BodyRejected as rejected:
                if response_started:
                    raise
                await _send_error(send_with_headers, rejected.status_code, rejected.detail)
            except Exception:
                # Answered here rather than by Starlette's outermost error middleware, which would
                # send its 500 past this envelope, without the benchmark's headers.
                log.exception("unhandled error")
                if response_started:
                    raise
                await _send_error(send_with_headers, 500, "Internal server error")
        finally:
            self.metrics.inflight.dec()
            path = scope["path"] if scope["path"] in METRIC_PATHS else "other"
            self.metrics.observe(path, status, time.perf_counter() - started)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0
        return 0

    @property
    def _too_large_message(self) -> str:
        return f"request body exceeds {self.max_body_bytes} bytes"

    def _checked(self, receive: Receive, deadline: float) -> Receive:
        received = 0
        complete = False
        decoder = codecs.getincrementaldecoder("utf-8")()

        async def checked_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body, receive() waits for a disconnect: no deadline
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyRejected(
                    408, f"request body not received within {self.body_timeout_s:g} s"
                ) from None
            if message["type"] == "http.request":
                complete = not message.get("more_body", False)
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    raise BodyRejected(413, self._too_large_message)
                try:
                    decoder.decode(chunk, final=not message.get("more_body", False))
                except UnicodeDecodeError as exc:
                    position = received - len(chunk) + exc.start
                    raise BodyRejected(
                        400, f"request body is not valid UTF-8 (byte {position})"
                    ) from None
            return message

        return checked_receive


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"message": message, "detail": None}).encode()
    await send_json(send, status, body, [(b"connection", b"close")])
