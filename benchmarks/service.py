"""The service's own cost: model load time, and what HTTP adds to one request's latency.

Baseline: tokenise + forward pass in this process, with the same thread count as the server.
Measured: the same text through uvicorn over a keep-alive loopback connection. The two are
measured in alternating rounds in one run, so drift in the machine's speed hits both alike.
Target: HTTP adds at most 10 % at 16, 64 and 128 tokens.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from benchmarks.report import Section, table
from nlp_bench_pipeline.targets.processes import ChildProcess, free_port, python_command

TOKEN_LENGTHS = (16, 64, 128)
THREADS = 2
ROUNDS = 3
REQUESTS_PER_ROUND = 15
TARGET_OVERHEAD = 0.10
ROOT = Path(__file__).resolve().parents[1]
SENTENCE = (
    "the film was a gripping and beautiful story about a family that loses everything and "
    "slowly finds its way back through patience humour and a great deal of stubborn love"
)
WORDS = SENTENCE.split()


def text_of_tokens(tokenizer, tokens: int) -> str:
    """A sentence that tokenises to exactly ``tokens`` ids, special tokens included."""
    words: list[str] = []
    while len(tokenizer(" ".join(words))["input_ids"]) < tokens:
        words.append(WORDS[len(words) % len(WORDS)])
    while len(tokenizer(" ".join(words))["input_ids"]) > tokens:
        words.pop()
    return " ".join(words)


def _ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000.0


def run() -> Section:
    from inference_service.model import load_model
    from inference_service.settings import ServiceSettings

    settings = ServiceSettings(model="synthetic", threads=THREADS)
    started = time.perf_counter()
    model = load_model(settings)
    in_process_load_s = time.perf_counter() - started
    texts = {n: text_of_tokens(model.tokenizer, n) for n in TOKEN_LENGTHS}

    port = free_port()
    owner = f"bench-service-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as logs:
        spawn = time.perf_counter()
        server = ChildProcess.start(
            "service",
            python_command("-m", "inference_service", "--port", str(port)),
            owner=owner,
            env={"NLP_BENCH_MODEL": "synthetic", "NLP_BENCH_THREADS": str(THREADS)},
            log_dir=Path(logs),
            cwd=ROOT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            ready = _wait_ready(url, server)
            process_to_ready_s = time.perf_counter() - spawn
            rows, figures, passed = _measure(model, texts, url)
        finally:
            server.stop()
    figures.update(
        {
            "threads": THREADS,
            "in_process_load_s": round(in_process_load_s, 3),
            "server_load_seconds": ready["load_seconds"],
            "server_process_start_to_ready_s": round(process_to_ready_s, 3),
            "load_breakdown_s": {k: round(v, 3) for k, v in model.timings_s.items()},
        }
    )
    body = "\n".join(
        [
            f"Synthetic full-size DistilBERT (digest `{model.digest[:19]}…`), "
            f"{THREADS} torch threads, {ROUNDS} alternating rounds × {REQUESTS_PER_ROUND} "
            "sequential requests per length; p50 of each.",
            "",
            f"Model load in-process: **{in_process_load_s:.2f} s** "
            f"({', '.join(f'{k} {v:.2f} s' for k, v in model.timings_s.items())}); "
            f"server process start → `/readyz` 200: **{process_to_ready_s:.2f} s** "
            f"(its own load {ready['load_seconds']:.2f} s).",
            "",
            table(
                ["tokens", "in-process p50 ms", "HTTP p50 ms", "HTTP − in-process ms", "ratio"],
                rows,
            ),
            "",
            f"Target: HTTP adds ≤ {TARGET_OVERHEAD:.0%} at every length.",
        ]
    )
    return Section(
        "service", "Inference service: model load and HTTP overhead", body, passed, figures
    )


def _wait_ready(url: str, server: ChildProcess, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"service exited:\n{server.log_tail()}")
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError("service not ready in time")


def _measure(model, texts: dict[int, str], url: str) -> tuple[list, dict, bool]:
    local: dict[int, list[float]] = {n: [] for n in texts}
    remote: dict[int, list[float]] = {n: [] for n in texts}
    with httpx.Client(base_url=url, timeout=30) as client:
        for text in texts.values():  # warm both paths
            model.predict([text])
            client.post("/predict", json={"text": text}).raise_for_status()
        for _ in range(ROUNDS):
            for n, text in texts.items():
                for _ in range(REQUESTS_PER_ROUND):
                    t0 = time.perf_counter()
                    model.predict([text])
                    local[n].append(time.perf_counter() - t0)
                for _ in range(REQUESTS_PER_ROUND):
                    t0 = time.perf_counter()
                    client.post("/predict", json={"text": text}).raise_for_status()
                    remote[n].append(time.perf_counter() - t0)
    rows, figures, passed = [], {"p50_ms": {}}, True
    for n in texts:
        base, http = _ms(local[n]), _ms(remote[n])
        ratio = http / base
        passed &= ratio <= 1 + TARGET_OVERHEAD
        rows.append([n, base, http, http - base, f"{ratio:.3f}"])
        figures["p50_ms"][n] = {"in_process": round(base, 3), "http": round(http, 3)}
    return rows, figures, passed


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(run().body)
