"""The backoff client's judgement of one answer, and its policy's bounds."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.client import INIT_LIMIT_S, REASON_HEADER, RetryPolicy, classify_response

INTERNAL_ERROR = b'{"message": "Internal server error"}'


@pytest.mark.parametrize(
    ("status", "reason", "label"),
    [
        (500, "throttle:concurrency_limit", "throttle"),
        (500, "throttle:scale_out_rate", "throttle"),
        (500, "throttle:shutting_down", "throttle"),
        (429, "throttle:gateway_rate_limit", "throttle"),
        (502, "function_error:Runtime.ExitError", "function_error"),
        (502, "init_error:Runtime.ImportModuleError", "init_error"),
        (503, "timeout:gateway", "gateway_timeout"),
        (504, "timeout:gateway", "gateway_timeout"),
        (502, "timeout:function", "function_error"),
        (502, "timeout:init", "cold_start"),
        (503, "cold_start:gateway_timeout", "cold_start"),
        (503, "cold_start:no_ready_endpoints", "cold_start"),
    ],
)
def test_reason_header_decides_the_label(status: int, reason: str, label: str) -> None:
    judged = classify_response(status, {REASON_HEADER: reason}, INTERNAL_ERROR, 0.05)
    assert (judged.label, judged.reason, judged.evidence) == (label, reason, "reason header")


def test_reason_of_an_unknown_kind_falls_through_to_the_platform_evidence() -> None:
    judged = classify_response(502, {REASON_HEADER: "mystery:thing"}, INTERNAL_ERROR, 0.05)
    assert judged.label == "function_error"
    assert judged.reason == "mystery:thing"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (400, "rejected:malformed_request"),
        (400, "rejected:malformed_body"),
        (408, "rejected:body_timeout"),
        (413, "rejected:payload_too_large"),
        (501, "rejected:head_not_proxied"),
    ],
)
def test_a_request_the_front_refused_is_judged_by_its_status_and_not_retried(
    status: int, reason: str
) -> None:
    judged = classify_response(status, {REASON_HEADER: reason}, b'{"message": "x"}', 0.01)
    assert (judged.label, judged.reason) == ("rejected", reason)
    assert judged.evidence == f"status {status} is not retried"


def test_an_emulator_fault_is_no_platform_answer_it_is_an_unknown_5xx() -> None:
    body = b'{"message": "emulator error", "detail": "KeyError"}'
    judged = classify_response(500, {REASON_HEADER: "emulator_error:KeyError"}, body, 0.01)
    assert (judged.label, judged.reason) == ("unknown_5xx", "emulator_error:KeyError")


def test_api_gateway_500_is_lambda_refusing_the_invoke() -> None:
    assert classify_response(500, {}, INTERNAL_ERROR, 0.01).label == "throttle"


def test_quick_502_with_api_gateway_body_is_a_function_error() -> None:
    assert classify_response(502, {}, INTERNAL_ERROR, 0.2).label == "function_error"


def test_502_that_took_the_init_limit_is_taken_for_a_cold_start() -> None:
    judged = classify_response(502, {}, INTERNAL_ERROR, INIT_LIMIT_S + 0.5)
    assert judged.label == "cold_start"
    assert "10.5 s" in judged.evidence


def test_502_with_lambda_function_error_header_is_a_function_error() -> None:
    headers = {"x-amz-function-error": "Unhandled"}
    assert classify_response(502, headers, b"{}", 0.1).label == "function_error"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (503, b'{"message":"Service Unavailable"}'),
        (504, b'{"message": "Endpoint request timed out"}'),
    ],
)
def test_api_gateway_integration_timeout_bodies(status: int, body: bytes) -> None:
    assert classify_response(status, {}, body, 30.0).label == "gateway_timeout"


def test_503_that_is_not_api_gateways_is_unknown() -> None:
    body = json.dumps({"message": "Service Unavailable", "detail": "no ready endpoints"}).encode()
    judged = classify_response(503, {}, body, 0.001)
    assert (judged.label, judged.evidence) == ("unknown_5xx", "status only")


def test_502_from_a_proxy_is_unknown() -> None:
    assert classify_response(502, {}, b"<html>Bad Gateway</html>", 0.01).label == "unknown_5xx"


def test_any_504_is_a_gateway_timeout() -> None:
    assert classify_response(504, {}, b"upstream timed out", 60.0).label == "gateway_timeout"


@pytest.mark.parametrize("status", [400, 403, 404, 413, 422, 501])
def test_answers_that_are_not_retried_are_rejected(status: int) -> None:
    assert classify_response(status, {}, b"{}", 0.01).label == "rejected"


def test_2xx_is_ok() -> None:
    assert classify_response(200, {REASON_HEADER: "timeout:gateway"}, b"{}", 0.01).label == "ok"


def test_sleep_ceiling_doubles_up_to_the_cap() -> None:
    policy = RetryPolicy(base_s=0.5, cap_s=3.0)
    assert [policy.sleep_ceiling_s(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 3.0, 3.0]


def test_policy_refuses_a_cap_below_its_base() -> None:
    with pytest.raises(ValidationError, match="cap_s"):
        RetryPolicy(base_s=2.0, cap_s=1.0)


def test_policy_refuses_zero_attempts() -> None:
    with pytest.raises(ValidationError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
