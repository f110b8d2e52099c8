"""The direct-invoke mode: an HTTP API event the service's real Mangum handler answers, and each
Invoke outcome (answered, function error, throttled, no answer) as the row needs it."""

from __future__ import annotations

import importlib
import io
import json
import socket
import threading
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from inference_service import settings as settings_module
from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER
from nlp_bench_pipeline.loadgen.direct_invoke import (
    direct_invoke_client,
    http_api_event,
    invoke,
)
from nlp_bench_pipeline.loadgen.results import classify

BODY = b'{"text": "a gripping, beautiful film"}'
INVOKE = {"FunctionName": "nlp-bench", "Qualifier": "live", "InvocationType": "RequestResponse"}


@pytest.fixture(scope="module")
def handler(model_cache):
    """The service's Lambda handler as Lambda imports it (the tiny model, loaded at import)."""
    patch = pytest.MonkeyPatch()
    patch.setenv("NLP_BENCH_MODEL", "tiny")
    patch.setenv("NLP_BENCH_THREADS", "1")
    patch.setenv("NLP_BENCH_ENVIRONMENT_ID", "2026/12/01/[1]abc")
    settings_module.get_settings.cache_clear()
    import inference_service.lambda_handler as module

    yield importlib.reload(module).handler
    settings_module.get_settings.cache_clear()
    patch.undo()


@pytest.fixture
def session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1"
    )


@pytest.fixture
def stubbed(session: boto3.Session) -> Iterator[tuple[Any, Stubber]]:
    client = direct_invoke_client(session, max_inflight=4, timeout_s=30)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def lambda_context() -> Any:
    return SimpleNamespace(
        function_name="nlp-bench",
        memory_limit_in_mb=2048,
        aws_request_id="req-1",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:nlp-bench:live",
        get_remaining_time_in_millis=lambda: 30_000,
    )


def payload(result: dict[str, Any] | bytes) -> StreamingBody:
    raw = result if isinstance(result, bytes) else json.dumps(result).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


@pytest.mark.slow
def test_the_event_is_one_the_services_mangum_handler_answers(handler: Any) -> None:
    result = handler(http_api_event(BODY), lambda_context())
    assert result["statusCode"] == 200
    assert json.loads(result["body"])["predictions"][0]["label"] in ("POSITIVE", "NEGATIVE")
    assert result["headers"][ENVIRONMENT_HEADER] == "2026/12/01/[1]abc"


def test_a_body_that_is_not_utf8_travels_base64_encoded() -> None:
    event = http_api_event(b"\xff\xfe")
    assert event["isBase64Encoded"] is True
    assert event["body"] == "//4="


@pytest.mark.slow
def test_an_answered_invoke_gives_the_handlers_status_headers_and_lambdas_request_id(
    handler: Any, stubbed: tuple[Any, Stubber]
) -> None:
    client, stub = stubbed
    answer = handler(http_api_event(BODY), lambda_context())
    stub.add_response(
        "invoke",
        {
            "StatusCode": 200,
            "ExecutedVersion": "7",
            "Payload": payload(answer),
            "ResponseMetadata": {"RequestId": "lambda-request-1", "HTTPStatusCode": 200},
        },
        {**INVOKE, "Payload": ANY},
    )
    result = invoke(client, function_name="nlp-bench", qualifier="live", body=BODY)
    assert (result.status_code, result.request_id, result.executed_version) == (
        200,
        "lambda-request-1",
        "7",
    )
    assert result.header(ENVIRONMENT_HEADER) == "2026/12/01/[1]abc"
    assert result.header(COLD_START_HEADER) in ("0", "1")
    assert result.header("x-amzn-requestid") == "lambda-request-1"
    assert json.loads(result.body)["predictions"]
    assert result.latency_ms > 0
    assert classify(result.status_code, result.error) == ("ok", None)


def test_the_event_sent_is_the_requests_http_api_event(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.lambda.Invoke",
        lambda params, **_: sent.append(json.loads(params["Payload"])),
    )
    stub.add_response("invoke", {"StatusCode": 200, "Payload": payload({"statusCode": 204})})
    invoke(client, function_name="nlp-bench", qualifier="live", body=BODY, path="/predict")
    (event,) = sent
    assert (event["version"], event["rawPath"], event["body"]) == ("2.0", "/predict", BODY.decode())
    assert event["requestContext"]["http"]["method"] == "POST"


def test_a_failed_function_is_api_gateways_502_with_its_error_type(
    stubbed: tuple[Any, Stubber],
) -> None:
    client, stub = stubbed
    error = {"errorMessage": "boom", "errorType": "Runtime.ExitError"}
    stub.add_response(
        "invoke", {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload(error)}
    )
    result = invoke(client, function_name="nlp-bench", qualifier="live", body=BODY)
    assert (result.status_code, result.function_error) == (502, "Runtime.ExitError")
    assert classify(result.status_code, result.error) == ("http_error", "HTTP 502")


def test_a_throttled_invoke_is_lambdas_429(stubbed: tuple[Any, Stubber]) -> None:
    client, stub = stubbed
    stub.add_client_error(
        "invoke", "TooManyRequestsException", "Rate Exceeded.", http_status_code=429
    )
    result = invoke(client, function_name="nlp-bench", qualifier="live", body=BODY)
    assert (result.status_code, result.function_error) == (429, "TooManyRequestsException")


def test_an_invoke_that_never_answers_is_a_timeout_row(session: boto3.Session) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()
    accepted: list[socket.socket] = []
    threading.Thread(target=lambda: accepted.append(silent.accept()[0]), daemon=True).start()
    client = direct_invoke_client(
        session,
        max_inflight=1,
        timeout_s=0.3,
        endpoint_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
    )
    try:
        result = invoke(client, function_name="nlp-bench", qualifier="live", body=BODY)
    finally:
        for conn in accepted:
            conn.close()
        silent.close()
    assert result.status_code == 0
    assert classify(result.status_code, result.error)[0] == "timeout"


def test_load_invokes_are_never_retried_and_never_wait_for_a_connection(
    session: boto3.Session,
) -> None:
    client = direct_invoke_client(session, max_inflight=64, timeout_s=30)
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert client.meta.config.max_pool_connections == 64
