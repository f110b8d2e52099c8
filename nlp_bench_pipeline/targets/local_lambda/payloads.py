"""API Gateway's formats: HTTP request -> Lambda event, function result -> HTTP response.

Two payload formats, as the Lambda proxy integrations define them: 2.0 for HTTP APIs (lower-case
headers joined with commas, cookies apart, a response inferred from any JSON without
``statusCode``) and 1.0 for REST APIs (``headers`` plus ``multiValueHeaders``, ``statusCode``
required). Also the gateway's own error responses, byte for byte as docs/aws-facts.md gives
them, each with the emulator's reason header (``REASON_HEADER``, ``<kind>:<detail>``; AWS sends
no such header, and the body stays AWS's). Pure functions: the HTTP server lives in
``gateway.py``.

A request body goes into the event as the bytes that arrived: the front never decompresses. An
HTTP API has no request decompression (API Gateway documents payload compression for REST APIs
only), so a ``Content-Encoding: gzip`` body reaches the function compressed — base64 in the event,
since it is not UTF-8 text — with its ``content-encoding`` header, and the app answers it as the
app does (docs/reliability.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import parse_qsl

from nlp_bench_pipeline.core.headers import REASON_HEADER
from nlp_bench_pipeline.targets.local_lambda.config import ACCOUNT_ID

API_ID = "local"
REST_STAGE = "local"
TEXT_MEDIA = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded")

GatewayErrorKind = Literal[
    "rate_limited",
    "too_large",
    "throttled",
    "function_error",
    "timeout",
    "bad_request",
    "body_timeout",
    "emulator_error",
]
_INTERNAL_ERROR = b'{"message": "Internal server error"}'
_GATEWAY_ERRORS: dict[str, tuple[int, bytes]] = {
    "rate_limited": (429, b'{"message":"Too Many Requests"}'),
    "too_large": (413, b'{"message":"Request Entity Too Large"}'),
    # HTTP the front cannot parse, or a body cut short: nothing the client sent is echoed.
    "bad_request": (400, b'{"message":"Bad Request"}'),
    # The body did not arrive within the front's body-read time (the emulator's choice of
    # answer, as an ALB's 408; API Gateway does not document one).
    "body_timeout": (408, b'{"message":"Request Timeout"}'),
    # A fault of the emulator itself: deliberately not API Gateway's 500 body, which a client
    # reads as Lambda throttling.
    "emulator_error": (500, b'{"message":"local-lambda emulator error"}'),
    # Lambda refused the invoke (throttled): 500; the function failed, crashed or timed out: 502.
    "throttled": (500, _INTERNAL_ERROR),
    "function_error": (502, _INTERNAL_ERROR),
}
_TIMEOUTS: dict[str, tuple[int, bytes]] = {
    "http": (503, b'{"message":"Service Unavailable"}'),
    "rest": (504, b'{"message": "Endpoint request timed out"}'),
}


class MalformedResponse(ValueError):
    """The function's result is not a response the payload format can map (API Gateway: 502)."""


@dataclass(frozen=True)
class HttpRequest:
    """What the gateway received, as the event builders need it."""

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str
    request_id: str
    trace_id: str
    received_at: float  # epoch seconds


@dataclass(frozen=True)
class HttpResponse:
    """What the gateway sends back; ``headers`` may repeat a name (set-cookie).

    ``close`` ends the connection after the answer (a request the front could not read whole).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    close: bool = False


def gateway_error(
    api: Literal["http", "rest"], kind: GatewayErrorKind, reason: str | None = None
) -> HttpResponse:
    """An error API Gateway writes itself, never the function; ``reason`` goes in the emulator's
    reason header."""
    status, body = _TIMEOUTS[api] if kind == "timeout" else _GATEWAY_ERRORS[kind]
    headers = [("content-type", "application/json")]
    if reason is not None:
        headers.append((REASON_HEADER, reason))
    return HttpResponse(status, headers, body, close=kind in ("bad_request", "body_timeout"))


def http_api_event(request: HttpRequest) -> dict[str, Any]:
    """Payload format 2.0 (HTTP API, ``$default`` route and stage)."""
    grouped = _forwarded_headers(request)
    headers = {
        name.lower(): ",".join(values)
        for name, values in grouped.items()
        if name.lower() != "cookie"
    }
    cookies = [
        cookie.strip()
        for name, values in grouped.items()
        if name.lower() == "cookie"
        for value in values
        for cookie in value.split(";")
        if cookie.strip()
    ]
    query: dict[str, str] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": request.path,
        "rawQueryString": request.query_string,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": headers.get("host", "localhost").split(".")[0],
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request.request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": _clf_time(request.received_at),
            "timeEpoch": int(request.received_at * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if request.body:
        event["body"], event["isBase64Encoded"] = _event_body(request.body, headers)
    return event


def rest_api_event(request: HttpRequest) -> dict[str, Any]:
    """Payload format 1.0 (REST API, a ``{proxy+}`` resource on one stage)."""
    multi_headers = _forwarded_headers(request)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(request.query_string, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    lower_headers = {name.lower(): values[-1] for name, values in multi_headers.items()}
    body, is_base64 = _event_body(request.body, lower_headers) if request.body else (None, False)
    return {
        "resource": "/{proxy+}",
        "path": request.path,
        "httpMethod": request.method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": request.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "proxy",
            "resourcePath": "/{proxy+}",
            "httpMethod": request.method,
            "extendedRequestId": request.request_id,
            "requestTime": _clf_time(request.received_at),
            "path": f"/{REST_STAGE}{request.path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": REST_STAGE,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(request.received_at * 1000),
            "requestId": request.request_id,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": lower_headers.get("user-agent"),
                "caller": None,
                "user": None,
                "userArn": None,
                "accountId": None,
                "accessKey": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "principalOrgId": None,
            },
            "domainName": lower_headers.get("host", "localhost"),
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    }


def http_api_response(payload: bytes) -> HttpResponse:
    """Map a 2.0 result; valid JSON without ``statusCode`` becomes a 200 JSON response."""
    result = _json(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse(200, [("content-type", "application/json")], payload)
    headers = [(name, _header_value(value)) for name, value in _mapping(result, "headers").items()]
    headers += [("set-cookie", str(cookie)) for cookie in result.get("cookies") or ()]
    return HttpResponse(_status(result), headers, _response_body(result))


def rest_api_response(payload: bytes) -> HttpResponse:
    """Map a 1.0 result: ``statusCode`` required; ``multiValueHeaders`` win over ``headers``."""
    result = _json(payload)
    if not isinstance(result, dict) or "statusCode" not in result:
        raise MalformedResponse("a REST API proxy integration needs a statusCode")
    multi = _mapping(result, "multiValueHeaders")
    multi_names = {name.lower() for name in multi}
    headers = [
        (name, _header_value(value))
        for name, value in _mapping(result, "headers").items()
        if name.lower() not in multi_names
    ]
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedResponse(f"multiValueHeaders[{name!r}] is not a list")
        headers += [(name, _header_value(value)) for value in values]
    return HttpResponse(_status(result), headers, _response_body(result))


PAYLOAD_FORMATS: dict[
    str, tuple[Callable[[HttpRequest], dict[str, Any]], Callable[[bytes], HttpResponse]]
] = {
    "http": (http_api_event, http_api_response),
    "rest": (rest_api_event, rest_api_response),
}


def _forwarded_headers(request: HttpRequest) -> dict[str, list[str]]:
    """The request's headers grouped by name (first spelling kept), plus those the gateway adds."""
    grouped: dict[str, list[str]] = {}
    spelling: dict[str, str] = {}
    added = (
        ("X-Amzn-Trace-Id", request.trace_id),
        ("X-Forwarded-For", request.source_ip),
        ("X-Forwarded-Proto", "http"),
    )
    for name, value in request.headers:
        grouped.setdefault(spelling.setdefault(name.lower(), name), []).append(value)
    for name, value in added:
        if name.lower() not in spelling:
            grouped[name] = [value]
    return grouped


def _event_body(body: bytes, lower_headers: dict[str, str]) -> tuple[str, bool]:
    """Text bodies go as they are; anything else (or bad UTF-8) is base64, as API Gateway does."""
    content_type = lower_headers.get("content-type", "").lower()
    if any(marker in content_type for marker in TEXT_MEDIA):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def _json(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError as exc:
        raise MalformedResponse(f"the function's result is not JSON: {exc}") from None


def _mapping(result: dict[str, Any], key: str) -> dict[str, Any]:
    value = result.get(key) or {}
    if not isinstance(value, dict):
        raise MalformedResponse(f"{key} is not an object")
    return value


def _header_value(value: Any) -> str:
    if isinstance(value, dict | list):
        raise MalformedResponse(f"header value {value!r} is not a scalar")
    return str(value).lower() if isinstance(value, bool) else str(value)


def _status(result: dict[str, Any]) -> int:
    status = result["statusCode"]
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedResponse(f"statusCode {status!r} is not an HTTP status")
    return status


def _response_body(result: dict[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResponse("body is not a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponse("body is not valid base64") from None
    return body.encode("utf-8")


def _clf_time(epoch: float) -> str:
    """API Gateway's request time, in Common Log Format (always UTC)."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch))
