"""The Lambda Runtime API (2018-06-01) one runtime process talks to, on its own loopback port.

Each awslambdaric process gets a fresh server, so a request can only ever come from the process
the server was started for: a killed runtime's last words cannot reach its replacement. Status
codes and bodies follow AWS's Runtime Interface Emulator: 202 ``{"status":"OK"}`` on accepted
posts, 400 InvalidRequestID, 403 InvalidStateTransition, 413 RequestEntityTooLarge. A runtime
restored from a snapshot (a zygote's fork) first calls ``GET restore/next``, answered at once —
the restore has happened — and reports a failed after-restore hook with ``POST restore/error``,
which fails its init as ``init/error`` would.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Protocol

from aiohttp import web
from aiohttp.streams import StreamReader

from nlp_bench_pipeline.targets.local_lambda.config import INVOKE_PAYLOAD_LIMIT
from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation

PREFIX = "/2018-06-01/runtime/"
ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type"
ACCEPTED = b'{"status":"OK"}\n'


class InvalidRequestId(LookupError):
    """A response or error for an invoke this runtime is not running."""


class InvalidStateTransition(RuntimeError):
    """A call the runtime may not make now (e.g. init/error after its first ``next``)."""


class RuntimeCallbacks(Protocol):
    """What the pool does when a runtime calls; ``owner`` identifies the calling runtime."""

    async def next_invocation(self, owner: Any) -> Invocation: ...

    def invocation_response(self, owner: Any, request_id: str, body: bytes) -> None: ...

    def invocation_error(
        self, owner: Any, request_id: str, error_type: str, body: bytes
    ) -> None: ...

    def init_error(self, owner: Any, error_type: str, body: bytes) -> None: ...

    def restore_next(self, owner: Any) -> None: ...


class RuntimeApi:
    """An HTTP server for one runtime process: ``start``, then give ``address`` to the process."""

    def __init__(self, owner: Any, callbacks: RuntimeCallbacks, function_arn: str) -> None:
        self.owner = owner
        self.callbacks = callbacks
        self.function_arn = function_arn
        self.address = ""
        self._server = web.Server(self._handle, access_log=None)
        self._listener: asyncio.Server | None = None

    async def start(self) -> str:
        loop = asyncio.get_running_loop()
        self._listener = await loop.create_server(self._server, "127.0.0.1", 0)
        port = self._listener.sockets[0].getsockname()[1]
        self.address = f"127.0.0.1:{port}"
        return self.address

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            await self._server.shutdown(0.5)
            self._listener = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        path = request.path
        if not path.startswith(PREFIX):
            return _error(404, "NotFound", f"no such endpoint {path}")
        parts = path[len(PREFIX) :].split("/")
        try:
            if parts == ["invocation", "next"] and request.method == "GET":
                return await self._next()
            if len(parts) == 3 and parts[0] == "invocation" and request.method == "POST":
                return await self._invocation_result(request, parts[1], parts[2])
            if parts in (["init", "error"], ["restore", "error"]) and request.method == "POST":
                body = await request.content.read()
                self.callbacks.init_error(self.owner, _error_type(request, body), body)
                return web.Response(status=202, body=ACCEPTED, content_type="application/json")
            if parts == ["restore", "next"] and request.method == "GET":
                self.callbacks.restore_next(self.owner)
                return web.Response(status=200, content_type="application/json")
        except InvalidRequestId:
            return _error(400, "InvalidRequestID", "Invalid request ID")
        except InvalidStateTransition as exc:
            return _error(403, "InvalidStateTransition", str(exc))
        return _error(404, "NotFound", f"no such endpoint {request.method} {path}")

    async def _next(self) -> web.Response:
        invocation = await self.callbacks.next_invocation(self.owner)
        return web.Response(
            body=invocation.payload,
            headers={
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_epoch_ms(time.monotonic())),
                "Lambda-Runtime-Invoked-Function-Arn": self.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
                "Content-Type": "application/json",
            },
        )

    async def _invocation_result(
        self, request: web.BaseRequest, request_id: str, kind: str
    ) -> web.Response:
        if kind not in ("response", "error"):
            return _error(404, "NotFound", f"no such endpoint {request.path}")
        body = await read_capped(request.content, INVOKE_PAYLOAD_LIMIT)
        if body is None:
            # As Lambda does: the caller gets a function error, the runtime a 413, and it goes on.
            message = f"Exceeded maximum allowed payload size ({INVOKE_PAYLOAD_LIMIT} bytes)."
            error = json.dumps({"errorMessage": message, "errorType": "RequestEntityTooLarge"})
            self.callbacks.invocation_error(
                self.owner, request_id, "Function.ResponseSizeTooLarge", error.encode()
            )
            return _error(413, "RequestEntityTooLarge", message)
        if kind == "response":
            self.callbacks.invocation_response(self.owner, request_id, body)
        else:
            self.callbacks.invocation_error(
                self.owner, request_id, _error_type(request, body), body
            )
        return web.Response(status=202, body=ACCEPTED, content_type="application/json")


async def read_capped(content: StreamReader, limit: int) -> bytes | None:
    """The whole body, or None once it exceeds ``limit`` (the rest is drained, not kept)."""
    chunks = []
    size = 0
    while chunk := await content.readany():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
    return b"".join(chunks) if size <= limit else None


def _error_type(request: web.BaseRequest, body: bytes) -> str:
    """The header first, as Lambda reads it; awslambdaric also puts it in the body."""
    declared = request.headers.get(ERROR_TYPE_HEADER)
    if declared:
        return declared
    try:
        return str(json.loads(body).get("errorType") or "Runtime.Unknown")
    except (ValueError, AttributeError):
        return "Runtime.Unknown"


def _error(status: int, error_type: str, message: str) -> web.Response:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return web.Response(status=status, body=body, content_type="application/json")
