"""The direct-invoke mode: load that calls Lambda's ``Invoke`` API, bypassing API Gateway.

SeBS measures functions this way: what the gateway adds (authorisation, throttling, its own
latency, the 30 s integration timeout) drops out, and what is left is Lambda's. Each request
becomes an API Gateway HTTP API event (payload format 2.0, the shape the service's Mangum handler
accepts, as the gateway would send it) and is invoked synchronously on the alias; the handler's
response (``statusCode``, ``headers``, ``body``) is what the row records.

Statuses, so rows compare with the gateway mode's: the handler's own ``statusCode`` on success;
502 when the function failed (``X-Amz-Function-Error``: unhandled error, crash, timeout), as API
Gateway answers; Lambda's own status for a refused invoke (429 ``TooManyRequestsException`` when
throttled); 0 with the exception when nothing came back (a read timeout, a refused connection).
The invoke is never retried (botocore would otherwise retry throttles and hide them), and the
client's connection pool holds ``max_inflight`` connections, so no request waits for one.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    ReadTimeoutError,
)

FUNCTION_ERROR_STATUS = 502  # what API Gateway answers for a failed function
DIRECT_API_ID = "direct"
REQUEST_ID_HEADER = "x-amzn-requestid"


def http_api_event(
    body: bytes,
    *,
    path: str = "/predict",
    method: str = "POST",
    headers: Mapping[str, str] | None = None,
    request_id: str | None = None,
    now_s: float | None = None,
) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for one request, as API Gateway builds it."""
    now_s = time.time() if now_s is None else now_s
    lower = {
        "content-type": "application/json",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    request_id = request_id or str(uuid.uuid4())
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": lower,
        "requestContext": {
            "apiId": DIRECT_API_ID,
            "domainName": "lambda.direct-invoke",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lower.get("user-agent", "nlp-bench-direct-invoke"),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_s)),
            "timeEpoch": int(now_s * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def direct_invoke_client(
    session: boto3.Session,
    *,
    max_inflight: int,
    timeout_s: float,
    region: str | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A Lambda client for load: no retries, one connection per request in flight."""
    config = Config(
        retries={"total_max_attempts": 1, "mode": "standard"},
        max_pool_connections=max_inflight,
        connect_timeout=min(timeout_s, 10.0),
        read_timeout=timeout_s,
        tcp_keepalive=True,
    )
    return session.client("lambda", region_name=region, endpoint_url=endpoint_url, config=config)


@dataclass(frozen=True)
class InvokeResult:
    """What one direct invoke gave the row: status, latency, headers and body, Lambda's ids."""

    status_code: int
    latency_ms: float
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    request_id: str | None = None  # Lambda's: the RequestId of the invoke's REPORT line
    function_error: str | None = None  # Unhandled, or the errorType the function returned
    executed_version: str | None = None
    error: BaseException | None = None  # no answer: the exception, for the row's error class

    def header(self, name: str) -> str | None:
        """Case-insensitive, as the locustfile's ``header`` callback reads HTTP headers."""
        return self.headers.get(name.lower())


def invoke(
    client: Any,
    *,
    function_name: str,
    qualifier: str,
    body: bytes,
    path: str = "/predict",
    headers: Mapping[str, str] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> InvokeResult:
    """Invoke ``function_name:qualifier`` synchronously with ``body`` as an HTTP API request."""
    event = http_api_event(body, path=path, headers=headers)
    started = clock()
    try:
        response = client.invoke(
            FunctionName=function_name,
            Qualifier=qualifier,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode(),
        )
        payload = response["Payload"].read()
    except ClientError as exc:
        latency_ms = (clock() - started) * 1000.0
        meta = exc.response.get("ResponseMetadata", {})
        return InvokeResult(
            status_code=int(meta.get("HTTPStatusCode") or 0),
            latency_ms=latency_ms,
            headers={REQUEST_ID_HEADER: meta.get("RequestId", "")},
            body=json.dumps({"message": exc.response["Error"].get("Message", "")}).encode(),
            request_id=meta.get("RequestId"),
            function_error=exc.response["Error"].get("Code"),
        )
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        # The row's outcome is 'timeout' for the builtin TimeoutError (loadgen.results.classify).
        error = TimeoutError(f"{type(exc).__name__}: {exc}")
        return InvokeResult(status_code=0, latency_ms=(clock() - started) * 1000.0, error=error)
    except BotoCoreError as exc:
        return InvokeResult(status_code=0, latency_ms=(clock() - started) * 1000.0, error=exc)
    latency_ms = (clock() - started) * 1000.0
    request_id = response.get("ResponseMetadata", {}).get("RequestId")
    version = response.get("ExecutedVersion")
    if response.get("FunctionError"):
        return InvokeResult(
            status_code=FUNCTION_ERROR_STATUS,
            latency_ms=latency_ms,
            headers={REQUEST_ID_HEADER: request_id or ""},
            body=payload,
            request_id=request_id,
            function_error=_error_type(payload) or str(response["FunctionError"]),
            executed_version=version,
        )
    status, answer_headers, answer = _http_response(payload)
    return InvokeResult(
        status_code=status,
        latency_ms=latency_ms,
        headers={**answer_headers, REQUEST_ID_HEADER: request_id or ""},
        body=answer,
        request_id=request_id,
        executed_version=version,
    )


def _http_response(payload: bytes) -> tuple[int, dict[str, str], bytes]:
    """The handler's payload 2.0 response; a malformed one is API Gateway's 502."""
    try:
        result = json.loads(payload)
    except ValueError:
        return FUNCTION_ERROR_STATUS, {}, payload
    if not isinstance(result, dict) or "statusCode" not in result:
        # Payload 2.0 infers a 200 JSON response from anything without a statusCode.
        return 200, {"content-type": "application/json"}, payload
    headers = {str(k).lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    body = result.get("body") or ""
    raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, raw


def _error_type(payload: bytes) -> str | None:
    try:
        parsed = json.loads(payload)
    except ValueError:
        return None
    return parsed.get("errorType") if isinstance(parsed, dict) else None
