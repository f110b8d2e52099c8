"""What the request envelope and the schema bound: body time, nulls, and what the schema states."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from fastapi.testclient import TestClient

from inference_service.app import create_app
from inference_service.schemas import NON_BLANK_PATTERN
from inference_service.settings import ServiceSettings


@pytest.fixture
def settings(model_cache) -> ServiceSettings:
    return ServiceSettings(model="tiny", model_cache=model_cache, threads=1, max_texts=4)


@pytest.fixture
def client(settings: ServiceSettings, tiny_model) -> TestClient:
    with TestClient(create_app(settings, model=tiny_model)) as c:
        yield c


def http_scope(body_length: int) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/predict",
        "raw_path": b"/predict",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(body_length).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def test_a_body_that_stops_arriving_gets_408_and_the_connection_closed(settings, tiny_model):
    app = create_app(settings.model_copy(update={"body_timeout_s": 0.2}), model=tiny_model)
    parts = [{"type": "http.request", "body": b'{"text": "a gri', "more_body": True}]
    sent: list[dict] = []

    async def receive() -> dict:
        if parts:
            return parts.pop()
        await asyncio.sleep(3600)  # the client went quiet
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(http_scope(100), receive, send), timeout=10))
    start, body = sent[0], sent[1]
    assert start["status"] == 408
    headers = dict(start["headers"])
    assert headers[b"connection"] == b"close"
    assert headers[b"content-type"] == b"application/json"
    assert "not received within 0.2 s" in json.loads(body["body"])["message"]


def test_a_body_that_arrives_in_time_is_not_cut_off(settings, tiny_model) -> None:
    app = create_app(settings.model_copy(update={"body_timeout_s": 0.5}), model=tiny_model)
    raw = b'{"text": "a gripping, beautiful film"}'
    parts = [
        {"type": "http.request", "body": raw[10:]},
        {"type": "http.request", "body": raw[:10], "more_body": True},
    ]
    sent: list[dict] = []

    async def receive() -> dict:
        if parts:
            await asyncio.sleep(0.05)
            return parts.pop()
        await asyncio.sleep(3600)  # after the body: waiting for a disconnect has no deadline
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(asyncio.wait_for(app(http_scope(len(raw)), receive, send), timeout=10))
    assert sent[0]["status"] == 200


@pytest.mark.parametrize(
    "body",
    [
        {"text": None},
        {"texts": None},
        {"text": None, "texts": ["fine"]},
        {"texts": ["a"], "text": None},
    ],
)
def test_a_null_field_is_refused_even_beside_a_valid_one(client: TestClient, body) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert "must not be null" in response.json()["message"]


@pytest.mark.parametrize("blank", ["\ufeff", "\x1c\x1f", "\u3000 \t", "\x85"])
def test_text_of_whitespace_by_either_definition_is_blank(client: TestClient, blank: str) -> None:
    response = client.post("/predict", json={"text": blank})
    assert response.status_code == 422
    assert "whitespace only" in response.json()["message"]


def test_schema_states_one_of_the_two_fields_and_every_limit(client: TestClient) -> None:
    request = client.get("/openapi.json").json()["components"]["schemas"]["PredictRequest"]
    assert request["oneOf"] == [{"required": ["text"]}, {"required": ["texts"]}]
    assert request["additionalProperties"] is False
    text, texts = request["properties"]["text"], request["properties"]["texts"]
    assert text["type"] == "string"  # not nullable
    assert (texts["minItems"], texts["maxItems"]) == (1, 4)  # maxItems = NLP_BENCH_MAX_TEXTS
    assert texts["items"]["pattern"] == text["pattern"] == NON_BLANK_PATTERN


def test_the_blank_rule_is_the_union_of_python_and_json_schema_whitespace() -> None:
    python_space = {chr(c) for c in range(0x110000) if chr(c).isspace()}
    ecma_space = set("\t\n\v\f\r \u00a0\u1680\u2028\u2029\u202f\u205f\u3000\ufeff") | {
        chr(c) for c in range(0x2000, 0x200B)
    }
    blank = {c for c in python_space | ecma_space if not re.search(NON_BLANK_PATTERN, c)}
    assert blank == python_space | ecma_space
    assert re.search(NON_BLANK_PATTERN, "\u200b")  # zero-width space is not whitespace in either


def test_predict_documents_each_status_it_can_answer(client: TestClient) -> None:
    responses = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["responses"]
    assert {"200", "400", "408", "413", "422", "503"} <= set(responses)
