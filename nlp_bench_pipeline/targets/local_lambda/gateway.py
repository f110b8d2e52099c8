"""The HTTP front that behaves like API Gateway with a Lambda proxy integration.

Per request: the gateway's own throttle (429), its payload limit and Lambda's (413), the event in
the configured payload format, a synchronous invoke, and the result mapped back (or 500 when
Lambda throttled, 502 when the function failed, 503/504 at the integration timeout). The
function's headers pass through unchanged; the gateway adds only its request id header
(``apigw-requestid`` for HTTP APIs, ``x-amzn-RequestId`` for REST), on errors too, so a request
that got no answer from the function can still be matched with the platform's events.

Every answer the front writes itself also says why, in the emulator-only reason header
(``x-nlp-bench-reason``; AWS's body is unchanged): ``throttle:gateway_rate_limit`` (429),
``throttle:concurrency_limit`` or ``throttle:scale_out_rate`` (500), ``init_error:<errorType>``,
``function_error:<errorType>`` or ``timeout:function`` (502), ``timeout:gateway`` — or
``cold_start:gateway_timeout`` when the request waited on the init it triggered — (503/504),
``rejected:<why>`` (400, 408, 413).

Reading a request is bounded and literal (issue 17): the body is passed on as the bytes that
arrived, never decompressed (aiohttp's ``auto_decompress`` is off, so no inflating runs on the
event loop and a compression bomb is just a small body); the whole body must arrive within
``body_timeout_s`` of the request (else 408 and the connection closes); a body cut short or
HTTP the front cannot parse gets a JSON 400 that echoes nothing of what was sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from multidict import CIMultiDict

from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_lambda.config import (
    BODY_TIMEOUT_S,
    INVOKE_PAYLOAD_LIMIT,
    LocalLambdaConfig,
    PlatformLimits,
)
from nlp_bench_pipeline.targets.local_lambda.invocation import (
    Invocation,
    InvocationResult,
    new_trace_root,
)
from nlp_bench_pipeline.targets.local_lambda.limits import TokenBucket
from nlp_bench_pipeline.targets.local_lambda.payloads import (
    PAYLOAD_FORMATS,
    HttpRequest,
    HttpResponse,
    MalformedResponse,
    gateway_error,
)
from nlp_bench_pipeline.targets.local_lambda.pool import ExecutionEnvironmentPool, Throttled
from nlp_bench_pipeline.targets.local_lambda.runtime_api import read_capped

log = logging.getLogger(__name__)
REQUEST_ID_HEADERS = {"http": "apigw-requestid", "rest": "x-amzn-RequestId"}
FUNCTION_TIMEOUT_ERROR = "Sandbox.Timedout"

ErrorRenderer = Callable[[int, BaseException | None], web.Response]


class _JsonErrorRequestHandler(RequestHandler):
    """aiohttp's connection handler, answering what it cannot parse with the gateway's JSON.

    aiohttp answers a request it cannot parse (and a handler's crash) itself, in plain text that
    quotes the offending bytes; this subclass overrides the one method that writes that answer.
    """

    def __init__(self, manager: web.Server, render: ErrorRenderer, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._render = render

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:  # as aiohttp's own: the answer has begun already
            raise ConnectionError("a response was already sent on this connection")
        if status == 400:
            log.info("malformed HTTP request (%s)", type(exc).__name__)
        else:
            log.error("local-lambda gateway failed on a request", exc_info=exc)
        return self._render(status, exc)


class _FrontServer(web.Server):
    """aiohttp's low-level server whose connections answer errors through ``render``."""

    def __init__(self, handler: Any, render: ErrorRenderer, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._render = render

    def __call__(self) -> RequestHandler:
        return _JsonErrorRequestHandler(self, self._render, loop=self._loop, **self._kwargs)


class ApiGateway:
    """One API (HTTP or REST) in front of one function, on 127.0.0.1."""

    def __init__(
        self,
        pool: ExecutionEnvironmentPool,
        config: LocalLambdaConfig,
        limits: PlatformLimits,
        events: EventLog,
        port: int = 0,
        body_timeout_s: float = BODY_TIMEOUT_S,
    ) -> None:
        self.pool = pool
        self.config = config
        self.limits = limits
        self.events = events
        self.port = port
        self.body_timeout_s = body_timeout_s
        self._to_event, self._to_response = PAYLOAD_FORMATS[config.api]
        self._request_id_header = REQUEST_ID_HEADERS[config.api]
        self._throttle = TokenBucket(
            config.gateway_rate_limit_rps, config.gateway_burst, time.monotonic()
        )
        self._server = _FrontServer(
            self._handle, self._render_error, access_log=None, auto_decompress=False
        )
        self._listener: asyncio.Server | None = None

    async def start(self) -> int:
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._server, "127.0.0.1", self.port)
        self.port = self._listener.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._server.shutdown(1.0)
            self._listener = None

    async def _handle(self, request: web.BaseRequest) -> web.Response:
        request_id = str(uuid.uuid4())
        response = await self._respond(request, request_id, time.monotonic(), utcnow())
        return self._web_response(response, request_id)

    def _web_response(self, response: HttpResponse, request_id: str) -> web.Response:
        headers = CIMultiDict(response.headers)
        headers[self._request_id_header] = request_id
        answer = web.Response(status=response.status, body=response.body, headers=headers)
        if response.close:
            answer.force_close()
        return answer

    def _render_error(self, status: int, exc: BaseException | None) -> web.Response:
        if status == 400:
            error = gateway_error(self.config.api, "bad_request", "rejected:malformed_request")
        else:
            reason = f"emulator_error:{type(exc).__name__ if exc else status}"
            error = gateway_error(self.config.api, "emulator_error", reason)
        answer = self._web_response(error, str(uuid.uuid4()))
        answer.force_close()
        return answer

    async def _respond(
        self, request: web.BaseRequest, request_id: str, received: float, received_at: datetime
    ) -> HttpResponse:
        api = self.config.api
        if not self._throttle.try_take(received):
            self.events.record(
                "throttle",
                detail={"reason": "gateway_rate_limit", "gateway_request_id": request_id},
            )
            return gateway_error(api, "rate_limited", "throttle:gateway_rate_limit")
        try:
            body = await self._read_body(request, received)
        except TimeoutError:
            return gateway_error(api, "body_timeout", "rejected:body_timeout")
        except HttpProcessingError:  # a chunked body that breaks its own framing
            return gateway_error(api, "bad_request", "rejected:malformed_body")
        if body is None:
            return gateway_error(api, "too_large", "rejected:payload_too_large")
        trace_root = new_trace_root()
        event = self._to_event(_http_request(request, body, request_id, trace_root))
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > INVOKE_PAYLOAD_LIMIT:
            return gateway_error(api, "too_large", "rejected:payload_too_large")
        try:
            invocation = self.pool.invoke(payload, request_id, trace_root)
        except Throttled as throttled:
            return gateway_error(api, "throttled", f"throttle:{throttled.reason}")
        return await self._await_result(invocation, received, received_at)

    async def _read_body(self, request: web.BaseRequest, received: float) -> bytes | None:
        """The body as sent (None past the size limit); TimeoutError past the body-read time."""
        remaining = self.body_timeout_s - (time.monotonic() - received)
        async with asyncio.timeout(max(0.0, remaining)):
            return await read_capped(request.content, self.config.max_request_bytes)

    async def _await_result(
        self, invocation: Invocation, received: float, received_at: datetime
    ) -> HttpResponse:
        """Wait up to the integration timeout; the invoke itself runs on regardless."""
        api = self.config.api
        remaining = self.limits.integration_timeout_s - (time.monotonic() - received)
        try:
            result = await asyncio.wait_for(asyncio.shield(invocation.result), remaining)
        except TimeoutError:
            self._record_integration_timeout(invocation, received)
            reason = "cold_start:gateway_timeout" if invocation.cold else "timeout:gateway"
            return gateway_error(api, "timeout", reason)
        if result.outcome != "success":
            reason = self._failure_reason(invocation, result, received_at)
            return gateway_error(api, "function_error", reason)
        try:
            return self._to_response(result.payload)
        except MalformedResponse as exc:
            log.warning("malformed Lambda proxy response (%s): %s", invocation.request_id, exc)
            return gateway_error(api, "function_error", "function_error:MalformedProxyResponse")

    def _failure_reason(
        self, invocation: Invocation, result: InvocationResult, since: datetime
    ) -> str:
        """``timeout:function``, ``init_error:<type>`` or ``function_error:<type>``.

        An invoke failed in its init when the pool recorded a crash of its init and no init of
        it that succeeded (a first init that failed and a retry that served is a function's
        error, if any, not an init's): the platform's own record of the invoke decides.
        """
        error_type = result.error_type or "Runtime.Unknown"
        if error_type == FUNCTION_TIMEOUT_ERROR:
            return "timeout:function"
        mine = [
            e
            for e in self.events.since(since)
            if e.detail.get("request_id") == invocation.request_id
        ]
        init_crashed = any(e.kind == "crash" and e.detail.get("phase") == "init" for e in mine)
        initialised = any(e.kind == "cold_start" for e in mine)
        kind = "init_error" if init_crashed and not initialised else "function_error"
        return f"{kind}:{error_type}"

    def _record_integration_timeout(self, invocation: Invocation, received: float) -> None:
        """The store marks such a request from this event: it waited on the init it triggered."""
        status = gateway_error(self.config.api, "timeout").status
        self.events.record(
            "timeout",
            invocation.environment_id,
            duration_ms=(time.monotonic() - received) * 1000.0,
            detail={
                "scope": "gateway",
                "status": status,
                "waited_on_init": invocation.cold,
                "integration_timeout_s": self.limits.integration_timeout_s,
                "request_id": invocation.request_id,
                "gateway_request_id": invocation.gateway_request_id,
            },
        )


def _http_request(
    request: web.BaseRequest, body: bytes, request_id: str, trace_root: str
) -> HttpRequest:
    return HttpRequest(
        method=request.method,
        path=request.path,
        query_string=request.rel_url.raw_query_string,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers],
        body=body,
        source_ip=request.remote or "127.0.0.1",
        request_id=request_id,
        trace_id=trace_root,
        received_at=time.time(),
    )
