"""Every error leaves the service as ``{"message", "detail"}`` JSON; none leaks a stack trace.

Unexpected exceptions become a 500 in the request envelope (``envelope.py``), so that answer, too,
carries the benchmark's headers.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_response(status: int, message: str, detail: Any = None) -> JSONResponse:
    return JSONResponse({"message": message, "detail": detail}, status_code=status)


def add_error_handlers(app: FastAPI) -> None:
    """Validation → 400 (bad JSON) or 422, HTTP errors with their status."""

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(400, "request body is not valid JSON", jsonable_encoder(errors))
        summary = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
            for e in errors
        )
        return error_response(422, f"invalid request: {summary}", jsonable_encoder(errors))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{message}: {request.method} {request.url.path}"
        response = error_response(exc.status_code, message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response
