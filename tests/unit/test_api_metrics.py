"""``/metrics``: per pass, per request and per process figures, and what model is served."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from inference_service.app import create_app
from inference_service.settings import ServiceSettings


@pytest.fixture
def client(model_cache, tiny_model) -> TestClient:
    settings = ServiceSettings(model="tiny", model_cache=model_cache, threads=1)
    with TestClient(create_app(settings, model=tiny_model)) as c:
        yield c


def sample(metrics: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", metrics, re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


def test_each_forward_pass_is_timed_and_its_texts_counted(client: TestClient) -> None:
    client.post("/predict", json={"texts": ["good", "bad", "fine"]})
    client.post("/predict", json={"text": "one more"})
    metrics = client.get("/metrics").text
    assert sample(metrics, "nlp_bench_inference_seconds_count") == 2
    assert sample(metrics, "nlp_bench_inference_seconds_sum") > 0
    assert sample(metrics, "nlp_bench_batch_texts_count") == 2
    assert sample(metrics, "nlp_bench_batch_texts_sum") == 4
    assert sample(metrics, 'nlp_bench_batch_texts_bucket{le="2.0"}') == 1


def test_each_request_reports_its_queue_time(client: TestClient) -> None:
    client.post("/predict", json={"text": "queued"})
    client.post("/predict", json={})  # refused before it reaches the queue
    metrics = client.get("/metrics").text
    assert sample(metrics, "nlp_bench_queue_seconds_count") == 1


def test_process_cpu_and_resident_memory_are_exposed(client: TestClient) -> None:
    metrics = client.get("/metrics").text
    assert sample(metrics, "process_cpu_seconds_total") > 0
    assert sample(metrics, "process_resident_memory_bytes") > 10 * 2**20


def test_the_served_model_is_an_info_gauge_with_its_labels(client: TestClient, tiny_model):
    metrics = client.get("/metrics").text
    labels = f'digest="{tiny_model.digest}",id="tiny-distilbert",precision="fp32",runtime="torch"'
    assert sample(metrics, f"nlp_bench_model_info{{{labels}}}") == 1
