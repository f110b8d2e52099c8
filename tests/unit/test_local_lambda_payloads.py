"""API Gateway's payload formats 2.0 (HTTP API) and 1.0 (REST) and its own error responses."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from nlp_bench_pipeline.targets.local_lambda.payloads import (
    HttpRequest,
    MalformedResponse,
    gateway_error,
    http_api_event,
    http_api_response,
    rest_api_event,
    rest_api_response,
)


def request(**fields: Any) -> HttpRequest:
    defaults: dict[str, Any] = {
        "method": "POST",
        "path": "/predict",
        "query_string": "",
        "headers": [("Host", "127.0.0.1:9000"), ("Content-Type", "application/json")],
        "body": b'{"text": "fine"}',
        "source_ip": "127.0.0.1",
        "request_id": "req-1",
        "trace_id": "Root=1-00000001-000000000000000000000001",
        "received_at": 1_583_817_383.22,
    }
    return HttpRequest(**{**defaults, **fields})


def result(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_http_api_event_has_the_2_0_fields() -> None:
    event = http_api_event(request())
    assert (event["version"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "$default",
        "/predict",
    )
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["requestContext"]["timeEpoch"] == 1_583_817_383_220
    assert event["requestContext"]["time"] == "10/Mar/2020:05:16:23 +0000"
    assert event["headers"]["content-type"] == "application/json"
    assert event["headers"]["x-amzn-trace-id"].startswith("Root=1-")
    assert (event["body"], event["isBase64Encoded"]) == ('{"text": "fine"}', False)


def test_http_api_event_joins_repeated_headers_and_query_values_with_commas() -> None:
    headers = [("X-Tag", "a"), ("x-tag", "b")]
    event = http_api_event(request(headers=headers, query_string="k=1&k=2&o=x"))
    assert event["headers"]["x-tag"] == "a,b"
    assert event["queryStringParameters"] == {"k": "1,2", "o": "x"}
    assert event["rawQueryString"] == "k=1&k=2&o=x"


def test_http_api_event_moves_cookies_out_of_the_headers() -> None:
    event = http_api_event(request(headers=[("Cookie", "a=1; b=2")]))
    assert event["cookies"] == ["a=1", "b=2"]
    assert "cookie" not in event["headers"]


def test_binary_body_is_base64_encoded() -> None:
    event = http_api_event(request(headers=[("Content-Type", "image/png")], body=b"\x89PNG"))
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG"


def test_invalid_utf8_text_body_is_base64_encoded() -> None:
    event = http_api_event(request(body=b'{"text": "\xff"}'))
    assert event["isBase64Encoded"] is True


def test_empty_body_is_left_out_of_a_2_0_event() -> None:
    assert "body" not in http_api_event(request(method="GET", body=b""))


def test_rest_api_event_has_the_1_0_fields() -> None:
    headers = [("Accept", "a"), ("accept", "b"), ("Content-Type", "application/json")]
    event = rest_api_event(request(headers=headers, query_string="k=1&k=2"))
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/{proxy+}",
        "/predict",
        "POST",
    )
    assert event["multiValueHeaders"]["Accept"] == ["a", "b"]
    assert event["headers"]["Accept"] == "b"
    assert event["multiValueQueryStringParameters"] == {"k": ["1", "2"]}
    assert event["queryStringParameters"] == {"k": "2"}
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert "version" not in event  # Mangum tells the formats apart by this key


def test_rest_api_event_without_body_or_query_has_nulls() -> None:
    event = rest_api_event(request(method="GET", body=b""))
    assert (event["body"], event["queryStringParameters"]) == (None, None)


def test_http_api_response_maps_status_headers_cookies_and_body() -> None:
    response = http_api_response(
        result(statusCode=201, headers={"x-a": "1"}, cookies=["s=1", "t=2"], body="hi")
    )
    assert response.status == 201
    assert response.headers == [("x-a", "1"), ("set-cookie", "s=1"), ("set-cookie", "t=2")]
    assert response.body == b"hi"


def test_http_api_response_decodes_a_base64_body() -> None:
    body = base64.b64encode(b"\x00\x01").decode()
    response = http_api_response(result(statusCode=200, body=body, isBase64Encoded=True))
    assert response.body == b"\x00\x01"


def test_http_api_infers_a_200_json_response_without_status_code() -> None:
    response = http_api_response(b'{"hello": "world"}')
    assert (response.status, response.body) == (200, b'{"hello": "world"}')
    assert ("content-type", "application/json") in response.headers


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        result(statusCode="abc"),
        result(statusCode=200, body={"not": "a string"}),
        result(statusCode=200, body="***", isBase64Encoded=True),
        result(statusCode=200, headers=["x"]),
    ],
)
def test_unmappable_http_api_results_are_malformed(payload: bytes) -> None:
    with pytest.raises(MalformedResponse):
        http_api_response(payload)


def test_rest_api_response_needs_a_status_code() -> None:
    with pytest.raises(MalformedResponse, match="statusCode"):
        rest_api_response(b'{"hello": "world"}')


def test_rest_api_multi_value_headers_win_over_headers() -> None:
    response = rest_api_response(
        result(
            statusCode=200,
            headers={"X-A": "single", "X-B": "kept"},
            multiValueHeaders={"x-a": ["one", "two"]},
            body="",
        )
    )
    assert response.headers == [("X-B", "kept"), ("x-a", "one"), ("x-a", "two")]


@pytest.mark.parametrize(
    ("api", "kind", "status", "body"),
    [
        ("http", "throttled", 500, b'{"message": "Internal server error"}'),
        ("http", "function_error", 502, b'{"message": "Internal server error"}'),
        ("http", "rate_limited", 429, b'{"message":"Too Many Requests"}'),
        ("http", "timeout", 503, b'{"message":"Service Unavailable"}'),
        ("rest", "timeout", 504, b'{"message": "Endpoint request timed out"}'),
        ("rest", "too_large", 413, b'{"message":"Request Entity Too Large"}'),
    ],
)
def test_gateway_errors_are_api_gateways_own(api: str, kind: str, status: int, body: bytes) -> None:
    error = gateway_error(api, kind)  # type: ignore[arg-type]
    assert (error.status, error.body) == (status, body)
    assert ("content-type", "application/json") in error.headers
