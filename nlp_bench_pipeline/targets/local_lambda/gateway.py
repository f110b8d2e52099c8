"""The HTTP front that behaves like API Gateway with a Lambda proxy integration.

Per request: the gateway's own throttle (429), its payload limit and Lambda's (413), the event in
the configured payload format, a synchronous invoke, and the result mapped back (or 500 when
Lambda throttled, 502 when the function failed, 503/504 at the integration timeout). The
function's headers pass through unchanged; the gateway adds only its request id header
(``apigw-requestid`` for HTTP APIs, ``x-amzn-RequestId`` for REST), on errors too, so a request
that got no answer from the function can still be matched with the platform's events.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid

from aiohttp import web
from multidict import CIMultiDict

from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_lambda.config import (
    INVOKE_PAYLOAD_LIMIT,
    LocalLambdaConfig,
    PlatformLimits,
)
from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation, new_trace_root
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


class ApiGateway:
    """One API (HTTP or REST) in front of one function, on 127.0.0.1."""

    def __init__(
        self,
        pool: ExecutionEnvironmentPool,
        config: LocalLambdaConfig,
        limits: PlatformLimits,
        events: EventLog,
        port: int = 0,
    ) -> None:
        self.pool = pool
        self.config = config
        self.limits = limits
        self.events = events
        self.port = port
        self._to_event, self._to_response = PAYLOAD_FORMATS[config.api]
        self._request_id_header = REQUEST_ID_HEADERS[config.api]
        self._throttle = TokenBucket(
            config.gateway_rate_limit_rps, config.gateway_burst, time.monotonic()
        )
        self._server = web.Server(self._handle, access_log=None)
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
        response = await self._respond(request, request_id, time.monotonic())
        headers = CIMultiDict(response.headers)
        headers[self._request_id_header] = request_id
        return web.Response(status=response.status, body=response.body, headers=headers)

    async def _respond(
        self, request: web.BaseRequest, request_id: str, received: float
    ) -> HttpResponse:
        if not self._throttle.try_take(received):
            self.events.record(
                "throttle",
                detail={"reason": "gateway_rate_limit", "gateway_request_id": request_id},
            )
            return gateway_error(self.config.api, "rate_limited")
        body = await read_capped(request.content, self.config.max_request_bytes)
        if body is None:
            return gateway_error(self.config.api, "too_large")
        trace_root = new_trace_root()
        event = self._to_event(_http_request(request, body, request_id, trace_root))
        payload = json.dumps(event, separators=(",", ":")).encode()
        if len(payload) > INVOKE_PAYLOAD_LIMIT:
            return gateway_error(self.config.api, "too_large")
        try:
            invocation = self.pool.invoke(payload, request_id, trace_root)
        except Throttled:
            return gateway_error(self.config.api, "throttled")
        return await self._await_result(invocation, received)

    async def _await_result(self, invocation: Invocation, received: float) -> HttpResponse:
        """Wait up to the integration timeout; the invoke itself runs on regardless."""
        remaining = self.limits.integration_timeout_s - (time.monotonic() - received)
        try:
            result = await asyncio.wait_for(asyncio.shield(invocation.result), remaining)
        except TimeoutError:
            self._record_integration_timeout(invocation, received)
            return gateway_error(self.config.api, "timeout")
        if result.outcome != "success":
            return gateway_error(self.config.api, "function_error")
        try:
            return self._to_response(result.payload)
        except MalformedResponse as exc:
            log.warning("malformed Lambda proxy response (%s): %s", invocation.request_id, exc)
            return gateway_error(self.config.api, "function_error")

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
