"""The cold-start flag goes to the first prediction a loaded model serves, and to nothing else."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from inference_service.app import create_app
from inference_service.settings import ServiceSettings

COLD = "x-nlp-bench-cold-start"


@pytest.fixture
def settings(model_cache) -> ServiceSettings:
    return ServiceSettings(model="tiny", model_cache=model_cache, threads=1, max_texts=4)


def test_a_503_while_loading_does_not_use_up_the_flag(settings: ServiceSettings) -> None:
    with TestClient(create_app(settings.model_copy(update={"fault_load_delay_s": 0.5}))) as c:
        early = c.post("/predict", json={"text": "too early"})
        deadline = time.monotonic() + 60
        while c.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        first = c.post("/predict", json={"text": "now"})
        second = c.post("/predict", json={"text": "again"})
    assert (early.status_code, early.headers[COLD]) == (503, "0")
    assert (first.status_code, first.headers[COLD]) == (200, "1")
    assert second.headers[COLD] == "0"


@pytest.mark.parametrize(
    "bad",
    [{}, {"text": ""}, {"texts": ["t"] * 5}],
    ids=["missing", "blank", "too-many"],
)
def test_bad_input_first_does_not_use_up_the_flag(settings, tiny_model, bad) -> None:
    with TestClient(create_app(settings, model=tiny_model)) as c:
        rejected = c.post("/predict", json=bad)
        first = c.post("/predict", json={"text": "one"})
    assert (rejected.status_code, rejected.headers[COLD]) == (422, "0")
    assert first.headers[COLD] == "1"


def test_a_failed_forward_pass_does_not_use_up_the_flag(settings, tiny_model, monkeypatch):
    app = create_app(settings, model=tiny_model)
    engine = app.state.service.engine
    calls = {"n": 0}
    real = engine._predict

    def fails_once(texts):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return real(texts)

    monkeypatch.setattr(engine, "_predict", fails_once)
    with TestClient(app, raise_server_exceptions=False) as c:
        failed = c.post("/predict", json={"text": "one"})
        first = c.post("/predict", json={"text": "two"})
    assert (failed.status_code, failed.headers[COLD]) == (500, "0")
    assert first.headers[COLD] == "1"


def test_of_concurrent_first_requests_exactly_one_is_cold(settings, tiny_model) -> None:
    app = create_app(settings, model=tiny_model)

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return await asyncio.gather(
                *(c.post("/predict", json={"text": f"t{i}"}) for i in range(6))
            )

    flags = [r.headers[COLD] for r in asyncio.run(burst())]
    assert sorted(flags) == ["0"] * 5 + ["1"]
