"""The Lambda entry point, driven with API Gateway v1, v2 and function-URL events."""

from __future__ import annotations

import base64
import copy
import importlib
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from inference_service import settings as settings_module

EVENTS = Path(__file__).resolve().parents[1] / "fixtures" / "events"
KINDS = ("apigw_http_v2", "apigw_rest_v1", "function_url")


@pytest.fixture(scope="module")
def handler(model_cache):
    """Import the real module as Lambda would: settings from the environment, model at import."""
    patch = pytest.MonkeyPatch()
    patch.setenv("NLP_BENCH_MODEL", "tiny")
    patch.setenv("NLP_BENCH_THREADS", "1")
    patch.setenv("NLP_BENCH_MAX_TEXTS", "3")
    patch.setenv("NLP_BENCH_ENVIRONMENT_ID", "lambda-env-1")
    settings_module.get_settings.cache_clear()
    import inference_service.lambda_handler as module

    module = importlib.reload(module)
    yield module.handler
    settings_module.get_settings.cache_clear()
    patch.undo()


def make_event(
    kind: str,
    *,
    body: bytes | str | None,
    method: str = "POST",
    path: str = "/predict",
    base64_body: bool = False,
) -> dict[str, Any]:
    event = copy.deepcopy(json.loads((EVENTS / f"{kind}.json").read_text()))
    raw = body.encode() if isinstance(body, str) else body
    if raw is None:
        event["body"] = None
        event["isBase64Encoded"] = False
    elif base64_body:
        event["body"] = base64.b64encode(raw).decode()
        event["isBase64Encoded"] = True
    else:
        event["body"] = raw.decode("utf-8", errors="surrogateescape")
        event["isBase64Encoded"] = False
    if kind == "apigw_rest_v1":
        event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        event["path"] = event["resource"] = path
    else:
        event["requestContext"]["http"]["method"] = method
        event["rawPath"] = event["requestContext"]["http"]["path"] = path
    return event


def invoke(handler, event: dict[str, Any]) -> tuple[int, dict[str, str], dict[str, Any]]:
    context = SimpleNamespace(
        aws_request_id="req-1",
        function_name="nlp-bench",
        get_remaining_time_in_millis=lambda: 30_000,
    )
    result = handler(event, context)
    headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = values[-1]
    body = result["body"]
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    return result["statusCode"], headers, json.loads(body)


@pytest.mark.parametrize("kind", KINDS)
def test_documented_event_gets_a_prediction(handler, kind: str) -> None:
    event = json.loads((EVENTS / f"{kind}.json").read_text())
    status, headers, body = invoke(handler, event)
    assert status == 200
    assert body["predictions"][0]["label"] in ("POSITIVE", "NEGATIVE")
    assert body["model"]["id"] == "tiny-distilbert"
    assert body["timing"]["input_tokens"] == 7
    assert headers["x-nlp-bench-environment-id"] == "lambda-env-1"
    assert headers["content-type"] == "application/json"


def test_first_invocation_is_cold_and_the_next_warm(model_cache) -> None:
    # A fresh import is a fresh execution environment.
    patch = pytest.MonkeyPatch()
    patch.setenv("NLP_BENCH_MODEL", "tiny")
    patch.setenv("NLP_BENCH_THREADS", "1")
    settings_module.get_settings.cache_clear()
    try:
        import inference_service.lambda_handler as module

        fresh = importlib.reload(module).handler
        event = json.loads((EVENTS / "apigw_http_v2.json").read_text())
        first = invoke(fresh, copy.deepcopy(event))
        second = invoke(fresh, copy.deepcopy(event))
    finally:
        settings_module.get_settings.cache_clear()
        patch.undo()
    assert first[1]["x-nlp-bench-cold-start"] == "1"
    assert second[1]["x-nlp-bench-cold-start"] == "0"


@pytest.mark.parametrize("kind", KINDS)
def test_base64_body_is_decoded(handler, kind: str) -> None:
    event = make_event(kind, body='{"texts": ["good", "bad"]}', base64_body=True)
    status, _, body = invoke(handler, event)
    assert status == 200
    assert len(body["predictions"]) == 2


BAD_INPUTS = [
    (b"{}", 422, "exactly one of"),
    (b'{"text": ""}', 422, "empty"),
    (b'{"text": 42}', 422, "valid string"),
    (b'{"texts": ["a", "b", "c", "d"]}', 422, "too many texts"),
    (b'{"text": "unterminated', 400, "not valid JSON"),
    (b'{"text": "caf\xe9"}', 400, "UTF-8"),
    (b'{"text": "\\ud800"}', 422, "unpaired surrogate"),
    (None, 422, "body"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(("raw", "status", "fragment"), BAD_INPUTS)
def test_bad_input_gets_a_4xx_json_message(handler, kind, raw, status, fragment) -> None:
    # Invalid UTF-8 cannot travel as a JSON string: API Gateway base64-encodes such bodies.
    event = make_event(kind, body=raw, base64_body=raw is not None and b"\xe9" in raw)
    got, _, body = invoke(handler, event)
    assert got == status
    assert fragment in body["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_body_over_six_megabytes_gets_413(handler, kind: str) -> None:
    raw = json.dumps({"text": "x" * (6 * 1024 * 1024)}).encode()
    status, _, body = invoke(handler, make_event(kind, body=raw))
    assert status == 413
    assert "exceeds" in body["message"]


@pytest.mark.parametrize("kind", KINDS)
def test_wrong_method_and_path_get_405_and_404(handler, kind: str) -> None:
    assert invoke(handler, make_event(kind, body=None, method="GET"))[0] == 405
    status, _, body = invoke(handler, make_event(kind, body=b'{"text": "x"}', path="/nope"))
    assert status == 404
    assert body["message"] == "Not Found: POST /nope"


@pytest.mark.parametrize("kind", KINDS)
def test_long_text_is_truncated_through_the_handler(handler, kind: str) -> None:
    raw = json.dumps({"text": "word " * 800}).encode()
    status, _, body = invoke(handler, make_event(kind, body=raw))
    assert status == 200
    assert body["truncated"] is True
    assert body["timing"]["input_tokens"] == 512
