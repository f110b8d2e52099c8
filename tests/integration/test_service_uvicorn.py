"""The service as a real uvicorn process on a free loopback port, faults included."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlp_bench_pipeline.core.processes import (
    ChildProcess,
    free_port,
    owned_processes,
    python_command,
)

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class Service:
    def __init__(self, process: ChildProcess, url: str, owner: str) -> None:
        self.process, self.url, self.owner = process, url, owner

    def wait_ready(self, timeout_s: float = 120) -> list[int]:
        """Poll /readyz until 200; returns every status seen on the way."""
        seen: list[int] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process.alive(), self.process.log_tail()
            try:
                seen.append(httpx.get(f"{self.url}/readyz", timeout=2).status_code)
            except httpx.TransportError:
                seen.append(0)
            if seen[-1] == 200:
                return seen
            time.sleep(0.1)
        raise AssertionError(f"not ready after {timeout_s}s: {self.process.log_tail()}")


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator:
    started: list[Service] = []

    def start(*args: str, **env: str) -> Service:
        port = free_port()
        owner = f"test-service-{uuid.uuid4().hex[:8]}"
        process = ChildProcess.start(
            f"service-{len(started)}",  # a log file each
            python_command("-m", "inference_service", "--port", str(port), *args),
            owner=owner,
            env={
                "NLP_BENCH_MODEL": "tiny",
                "NLP_BENCH_THREADS": "1",
                "NLP_BENCH_ENVIRONMENT_ID": "pod-a",
                **env,
            },
            log_dir=tmp_path,
            cwd=ROOT,
        )
        service = Service(process, f"http://127.0.0.1:{port}", owner)
        started.append(service)
        return service

    yield start
    for service in started:
        service.process.stop(grace_s=5)
        assert owned_processes(service.owner) == []


def wait_for_port(url: str, timeout_s: float = 30) -> float:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            return time.monotonic()
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError("port never opened")


def test_port_binds_at_once_and_readyz_goes_from_503_to_200(start_service) -> None:
    service = start_service(NLP_BENCH_FAULT_LOAD_DELAY_S="3")
    wait_for_port(service.url)
    seen = service.wait_ready()
    assert 503 in seen
    assert seen[-1] == 200
    response = httpx.post(f"{service.url}/predict", json={"text": "a gripping, beautiful film"})
    assert response.status_code == 200
    assert response.headers["x-nlp-bench-cold-start"] == "1"
    assert response.headers["x-nlp-bench-environment-id"] == "pod-a"
    body = response.json()
    assert body["timing"]["input_tokens"] == 7
    again = httpx.post(f"{service.url}/predict", json={"text": "again"})
    assert again.headers["x-nlp-bench-cold-start"] == "0"


def test_log_lines_are_json_with_environment_and_digest(start_service) -> None:
    service = start_service()
    service.wait_ready()
    service.process.stop()
    lines = [
        json.loads(line)
        for line in service.process.log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    assert lines, service.process.log_path.read_text()
    assert all(entry["environment_id"] == "pod-a" for entry in lines)
    ready = [e for e in lines if e["message"] == "model ready"]
    assert ready
    assert ready[0]["model_digest"].startswith("sha256:")


def test_crash_fault_kills_the_process_on_the_nth_request(start_service) -> None:
    service = start_service(NLP_BENCH_FAULT_CRASH_ON_REQUEST="2")
    service.wait_ready()
    assert httpx.post(f"{service.url}/predict", json={"text": "one"}).status_code == 200
    with pytest.raises(httpx.TransportError):
        httpx.post(f"{service.url}/predict", json={"text": "two"}, timeout=10)
    service.process.popen.wait(timeout=10)
    assert service.process.returncode == 70


def test_hang_fault_wedges_the_whole_process(start_service) -> None:
    service = start_service(NLP_BENCH_FAULT_HANG_ON_REQUEST="1")
    service.wait_ready()
    with pytest.raises(httpx.TimeoutException):
        httpx.post(f"{service.url}/predict", json={"text": "hang"}, timeout=1)
    with pytest.raises(httpx.TimeoutException):
        httpx.get(f"{service.url}/healthz", timeout=1)
    assert service.process.alive()


def test_failed_load_fails_readiness_and_liveness(start_service) -> None:
    service = start_service(NLP_BENCH_FAULT_LOAD_FAIL="1")
    wait_for_port(service.url)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = httpx.get(f"{service.url}/readyz")
        if ready.json()["status"] == "failed":
            break
        time.sleep(0.2)
    assert ready.status_code == 503
    assert "on purpose" in ready.json()["message"]
    assert httpx.get(f"{service.url}/healthz").status_code == 503


@pytest.mark.full_model
def test_full_size_synthetic_model_serves_the_design_shape(start_service) -> None:
    service = start_service(NLP_BENCH_MODEL="synthetic", NLP_BENCH_THREADS="2")
    service.wait_ready(timeout_s=240)
    response = httpx.post(
        f"{service.url}/predict",
        content=b'{"text":"a gripping, beautiful film"}',
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.headers["x-nlp-bench-cold-start"] == "1"
    body = response.json()
    assert body["model"]["id"] == "synthetic-distilbert"
    assert body["model"]["accuracy_meaningful"] is False
    assert body["model"]["digest"].startswith("sha256:")
    assert body["timing"]["input_tokens"] == 7
    assert body["predictions"][0]["label"] in ("POSITIVE", "NEGATIVE")


def access_lines(service: Service) -> list[str]:
    return [
        line
        for line in service.process.log_path.read_text().splitlines()
        if '"logger": "uvicorn.access"' in line
    ]


def test_requests_are_not_logged_unless_access_log_is_asked_for(start_service) -> None:
    quiet, chatty = start_service(), start_service("--access-log")
    for service in (quiet, chatty):
        service.wait_ready()
        for _ in range(3):
            httpx.post(f"{service.url}/predict", json={"text": "logged?"})
        service.process.stop()
    assert access_lines(quiet) == []
    assert len([line for line in access_lines(chatty) if "/predict" in line]) == 3
    assert all(json.loads(line)["environment_id"] == "pod-a" for line in access_lines(chatty))


def test_a_stalled_body_is_answered_408_and_closed_within_the_body_timeout(start_service) -> None:
    service = start_service(NLP_BENCH_BODY_TIMEOUT_S="1")
    service.wait_ready()
    port = int(service.url.rsplit(":", 1)[1])
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"text": "only the start'
        )
        answer = b""
        while chunk := conn.recv(65536):  # ends when the server closes the connection
            answer += chunk
    assert time.monotonic() - started < 10
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408")
    assert "not received within 1 s" in json.loads(body)["message"]


def test_a_batching_slim_service_serves_concurrent_callers_in_shared_passes(
    start_service,
) -> None:
    service = start_service(
        NLP_BENCH_RUNTIME="onnx",
        NLP_BENCH_BATCH_MAX_SIZE="8",
        NLP_BENCH_BATCH_MAX_WAIT_MS="100",
    )
    service.wait_ready()
    texts = [f"review number {i} was fine" for i in range(8)]

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            return await asyncio.gather(*(client.post("/predict", json={"text": t}) for t in texts))

    responses = asyncio.run(burst())
    assert [r.status_code for r in responses] == [200] * 8
    assert {r.json()["model"]["runtime"] for r in responses} == {"onnx"}
    metrics = httpx.get(f"{service.url}/metrics").text
    count = float(re.search(r"^nlp_bench_batch_texts_count (\S+)$", metrics, re.M).group(1))
    total = float(re.search(r"^nlp_bench_batch_texts_sum (\S+)$", metrics, re.M).group(1))
    assert total == 8
    assert count < 8
    assert 'runtime="onnx"' in metrics
