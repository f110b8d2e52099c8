"""Dynamic batching through the app: concurrent callers share passes, each gets its own answers."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from inference_service.app import create_app
from inference_service.fidelity import fidelity_corpus
from inference_service.settings import ServiceSettings

REQUESTS = [fidelity_corpus(12)[i : i + n] for i, n in ((0, 1), (1, 3), (4, 1), (5, 2), (7, 1))]


def serve(app, bodies: list[dict]) -> list[httpx.Response]:
    """Send every body at once, as concurrent callers do."""

    async def burst() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await asyncio.gather(*(client.post("/predict", json=b) for b in bodies))

    return asyncio.run(burst())


def passes(app) -> tuple[int, int]:
    """(forward passes, texts in them) from the app's own metrics."""
    metrics = app.state.service.metrics.render().decode()
    count = re.search(r"^nlp_bench_batch_texts_count (\S+)$", metrics, re.M)
    total = re.search(r"^nlp_bench_batch_texts_sum (\S+)$", metrics, re.M)
    return int(float(count.group(1))), int(float(total.group(1)))


@pytest.fixture
def batched_app(model_cache, tiny_model):
    settings = ServiceSettings(
        model="tiny",
        model_cache=model_cache,
        threads=1,
        batch_max_size=8,
        batch_max_wait_ms=200,
    )
    return create_app(settings, model=tiny_model)


def test_concurrent_requests_share_forward_passes(batched_app) -> None:
    responses = serve(batched_app, [{"texts": texts} for texts in REQUESTS])
    assert [r.status_code for r in responses] == [200] * len(REQUESTS)
    count, texts = passes(batched_app)
    assert texts == sum(map(len, REQUESTS)) == 8
    assert count < len(REQUESTS)  # 8 texts in one pass, or at most a few


def test_each_caller_gets_its_own_answers_in_order_as_unbatched(batched_app, tiny_model) -> None:
    responses = serve(batched_app, [{"texts": texts} for texts in REQUESTS])
    for texts, response in zip(REQUESTS, responses, strict=True):
        alone = tiny_model.predict(texts)
        served = response.json()
        assert [p["label"] for p in served["predictions"]] == [p.label for p in alone.predictions]
        for got, expected in zip(served["predictions"], alone.predictions, strict=True):
            assert got["score"] == pytest.approx(expected.score, abs=1e-6)
        assert served["timing"]["input_tokens"] == sum(alone.input_tokens)


def test_a_batch_is_padded_only_to_its_longest_text(batched_app, tiny_model) -> None:
    short, long = "fine", "word " * 700
    responses = serve(batched_app, [{"text": short}, {"text": long}])
    assert [r.json()["timing"]["input_tokens"] for r in responses] == [3, 512]
    assert [r.json()["truncated"] for r in responses] == [False, True]
    assert passes(batched_app)[0] == 1


def test_a_lone_request_waits_for_company_then_runs_alone(batched_app) -> None:
    (response,) = serve(batched_app, [{"text": "alone"}])
    assert response.json()["timing"]["queue_ms"] >= 150  # of the 200 ms max wait
    assert passes(batched_app) == (1, 1)


def test_batching_is_off_by_default(model_cache, tiny_model) -> None:
    settings = ServiceSettings(model="tiny", model_cache=model_cache, threads=1)
    assert (settings.batch_max_size, settings.batch_max_wait_ms) == (1, 0)
    app = create_app(settings, model=tiny_model)
    serve(app, [{"text": t} for t in ("a", "b", "c")])
    assert passes(app) == (3, 3)
