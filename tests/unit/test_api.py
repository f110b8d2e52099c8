"""The HTTP contract of docs/design.md: shape, headers, probes, metrics, every kind of bad input."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from inference_service.app import create_app
from inference_service.settings import ServiceSettings


@pytest.fixture
def settings(model_cache) -> ServiceSettings:
    return ServiceSettings(
        model="tiny", model_cache=model_cache, threads=1, environment_id="env-test-1", max_texts=4
    )


@pytest.fixture
def client(settings: ServiceSettings, tiny_model) -> TestClient:
    with TestClient(create_app(settings, model=tiny_model), raise_server_exceptions=False) as c:
        yield c


def test_predict_returns_the_design_shape(client: TestClient, tiny_model) -> None:
    response = client.post("/predict", json={"text": "a gripping, beautiful film"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"predictions", "model", "timing", "truncated"}
    assert body["predictions"][0]["label"] in ("POSITIVE", "NEGATIVE")
    assert 0.0 <= body["predictions"][0]["score"] <= 1.0
    assert body["model"] == {
        "id": "tiny-distilbert",
        "digest": tiny_model.digest,
        "accuracy_meaningful": False,
        "runtime": "torch",  # issue 15: the model block says what serves it
        "precision": "fp32",
    }
    assert set(body["timing"]) == {"server_ms", "queue_ms", "inference_ms", "input_tokens"}
    assert body["timing"]["input_tokens"] == 7
    assert body["timing"]["server_ms"] >= body["timing"]["inference_ms"] > 0
    assert body["truncated"] is False


def test_batch_of_texts_gets_one_prediction_each(client: TestClient) -> None:
    response = client.post("/predict", json={"texts": ["good", "bad", "fine"]})
    assert response.status_code == 200
    assert len(response.json()["predictions"]) == 3
    assert response.json()["timing"]["input_tokens"] == 9


def test_first_predict_is_cold_and_later_ones_warm(client: TestClient) -> None:
    client.get("/readyz")  # probes never use up the first request
    first = client.post("/predict", json={"text": "one"})
    second = client.post("/predict", json={"text": "two"})
    assert first.headers["x-nlp-bench-cold-start"] == "1"
    assert second.headers["x-nlp-bench-cold-start"] == "0"
    assert first.headers["x-nlp-bench-environment-id"] == "env-test-1"


def test_provisioned_environment_never_reports_a_cold_start(
    settings: ServiceSettings, tiny_model, monkeypatch
) -> None:
    monkeypatch.setenv("AWS_LAMBDA_INITIALIZATION_TYPE", "provisioned-concurrency")
    with TestClient(create_app(settings, model=tiny_model)) as c:
        first = c.post("/predict", json={"text": "one"})
    assert first.headers["x-nlp-bench-cold-start"] == "0"


def test_every_response_carries_the_environment_id(client: TestClient) -> None:
    for response in (client.get("/healthz"), client.get("/nope"), client.post("/predict", json={})):
        assert response.headers["x-nlp-bench-environment-id"] == "env-test-1"
        assert response.headers["x-nlp-bench-cold-start"] in ("0", "1")


def test_environment_id_falls_back_to_lambda_log_stream_then_hostname(monkeypatch) -> None:
    monkeypatch.delenv("NLP_BENCH_ENVIRONMENT_ID", raising=False)
    monkeypatch.setenv("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/27/[$LATEST]abc")
    monkeypatch.setenv("HOSTNAME", "pod-1")
    assert ServiceSettings().resolved_environment_id() == "2026/11/27/[$LATEST]abc"
    monkeypatch.delenv("AWS_LAMBDA_LOG_STREAM_NAME")
    assert ServiceSettings().resolved_environment_id() == "pod-1"


def test_long_text_is_truncated_and_flagged(client: TestClient) -> None:
    response = client.post("/predict", json={"texts": ["short", "word " * 800]})
    assert response.status_code == 200
    assert response.json()["truncated"] is True
    assert response.json()["timing"]["input_tokens"] == 3 + 512


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({}, "exactly one of 'text' or 'texts'"),
        ({"text": ""}, "empty"),
        ({"text": "   "}, "empty"),
        ({"texts": []}, "must not be empty"),
        ({"texts": ["ok", ""]}, "empty"),
        ({"text": 123}, "valid string"),
        ({"texts": "not a list"}, "valid list"),
        ({"texts": ["ok", 5]}, "valid string"),
        ({"text": "a", "texts": ["b"]}, "exactly one"),
        ({"text": "a", "extra": 1}, "Extra inputs"),
        ([1, 2], "valid dictionary"),
        ({"texts": ["t"] * 5}, "too many texts: 5 > NLP_BENCH_MAX_TEXTS=4"),
    ],
)
def test_invalid_request_gets_422_with_a_message(client: TestClient, body, fragment) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert fragment in response.json()["message"]


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b'{"text": "unterminated', "not valid JSON"),
        (b"not json at all", "not valid JSON"),
        (b'{"text": "caf\xe9"}', "UTF-8"),
        (b"\xff\xfe\x00", "UTF-8"),
    ],
)
def test_undecodable_body_gets_400_with_a_message(client: TestClient, content, fragment) -> None:
    response = client.post(
        "/predict", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert fragment in response.json()["message"]


@pytest.mark.parametrize("raw", [b'{"text": "\\ud800"}', b'{"texts": ["ok", "\\udfff x"]}'])
def test_unpaired_surrogate_gets_422_not_a_server_error(client: TestClient, raw: bytes) -> None:
    response = client.post("/predict", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "unpaired surrogate" in response.json()["message"]


def test_body_over_six_megabytes_gets_413(client: TestClient) -> None:
    text = "x" * (6 * 1024 * 1024)
    response = client.post("/predict", json={"text": text})
    assert response.status_code == 413
    assert "exceeds 6291456 bytes" in response.json()["message"]


def test_streamed_body_over_the_limit_gets_413_without_content_length(
    settings: ServiceSettings, tiny_model
) -> None:
    app = create_app(settings.model_copy(update={"max_body_bytes": 1000}), model=tiny_model)

    async def chunks():
        for _ in range(20):
            yield b"x" * 100

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await c.post("/predict", content=chunks())

    response = asyncio.run(send())
    assert response.status_code == 413


def test_wrong_method_gets_405_json(client: TestClient) -> None:
    response = client.get("/predict")
    assert response.status_code == 405
    assert "Method Not Allowed" in response.json()["message"]


def test_unknown_path_gets_404_json(client: TestClient) -> None:
    response = client.post("/predictions", json={"text": "x"})
    assert response.status_code == 404
    assert response.json()["message"] == "Not Found: POST /predictions"


def test_probes_and_metrics(client: TestClient, tiny_model) -> None:
    assert client.get("/healthz").json() == {"status": "alive"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["model"]["digest"] == tiny_model.digest
    client.post("/predict", json={"text": "counted"})
    client.post("/predict", json={})
    metrics = client.get("/metrics").text
    assert 'nlp_bench_requests_total{path="/predict",status="200"} 1.0' in metrics
    assert 'nlp_bench_requests_total{path="/predict",status="422"} 1.0' in metrics
    assert "nlp_bench_request_latency_seconds_bucket" in metrics
    assert "nlp_bench_model_load_seconds" in metrics
    assert "nlp_bench_model_ready 1.0" in metrics


def test_readyz_is_503_while_loading_and_200_once_loaded(settings, monkeypatch) -> None:
    settings = settings.model_copy(update={"fault_load_delay_s": 0.5})
    with TestClient(create_app(settings)) as c:
        loading = c.get("/readyz")
        assert loading.status_code == 503
        assert loading.json()["status"] == "loading"
        predict = c.post("/predict", json={"text": "too early"})
        assert predict.status_code == 503
        for _ in range(200):
            if c.get("/readyz").status_code == 200:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert c.get("/readyz").status_code == 200
        assert c.post("/predict", json={"text": "now"}).status_code == 200


def test_failed_load_is_reported_on_both_probes(settings) -> None:
    settings = settings.model_copy(update={"fault_load_fail": True})
    with TestClient(create_app(settings)) as c:
        for _ in range(200):
            if c.get("/readyz").json()["status"] == "failed":
                break
            asyncio.run(asyncio.sleep(0.1))
        ready = c.get("/readyz")
        assert ready.status_code == 503
        assert "on purpose" in ready.json()["message"]
        assert c.get("/healthz").status_code == 503


def test_openapi_documents_predict(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/predict" in spec["paths"]
    schemas = spec["components"]["schemas"]
    assert {"PredictRequest", "PredictResponse", "ErrorResponse"} <= set(schemas)
    assert client.get("/docs").status_code == 200


def test_log_lines_carry_digest_and_environment(client: TestClient, tiny_model) -> None:
    import logging

    handler = logging.getLogger("inference_service").handlers[0]
    record = logging.LogRecord(
        "inference_service.x", logging.INFO, __file__, 1, "hello", None, None
    )
    record.request = 3
    entry = json.loads(handler.format(record))
    assert entry["model_digest"] == tiny_model.digest
    assert entry["environment_id"] == "env-test-1"
    assert (entry["message"], entry["request"], entry["level"]) == ("hello", 3, "INFO")
