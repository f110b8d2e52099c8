"""The service's own cost: model load time, and where one request's time goes.

Three paths at the same token lengths, in alternating rounds of one run so drift in the machine's
speed hits all alike: the raw forward pass (the classifier on token ids already made), the
in-process predict (tokenise + forward + softmax, what the inference thread runs) and the same
text through uvicorn over a keep-alive loopback connection, from the standard library's
``http.client`` (the leanest client; httpx alone costs about a millisecond). A short pause comes
before every request: torch's OpenMP threads spin for a while after a forward pass, and on 2
cores one process's spinning threads would tax the other's next request.
Targets: predict adds at most 10 % to the forward pass, and HTTP at most 10 % to predict, at 16,
64 and 128 tokens.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from benchmarks.report import Section, table
from nlp_bench_pipeline.core.processes import ChildProcess, free_port, python_command

TOKEN_LENGTHS = (16, 64, 128)
THREADS = 2
ROUNDS = 4
REQUESTS_PER_ROUND = 20
SETTLE_S = 0.05
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

    spawn = time.perf_counter()
    with serving({"NLP_BENCH_MODEL": "synthetic", "NLP_BENCH_THREADS": str(THREADS)}) as (
        url,
        ready,
    ):
        process_to_ready_s = time.perf_counter() - spawn
        rows, figures, passed = _measure(model, texts, url)
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
                [
                    "tokens",
                    "forward p50 ms",
                    "in-process predict p50 ms",
                    "HTTP p50 ms",
                    "predict / forward",
                    "HTTP / predict",
                    "HTTP − its own pass, p50 ms",
                ],
                rows,
            ),
            "",
            "The last column pairs each HTTP request with the pass the server timed for it "
            "(`timing.inference_ms`): the HTTP path's own cost, free of the forward pass's "
            "run-to-run spread that moves the unpaired medians.",
            "",
            f"Targets: predict adds ≤ {TARGET_OVERHEAD:.0%} to the forward pass and HTTP "
            f"≤ {TARGET_OVERHEAD:.0%} to predict, at every length.",
        ]
    )
    return Section(
        "service",
        "Inference service: model load and where a request's time goes",
        body,
        passed,
        figures,
    )


@contextlib.contextmanager
def serving(env: dict[str, str], timeout_s: float = 300) -> Iterator[tuple[str, dict]]:
    """``python -m inference_service`` with ``env`` on a free port; yields its URL and readiness.

    The benchmarks' one way to start the service: a fresh process, its logs in a temporary
    directory, stopped (and waited for) on exit.
    """
    port = free_port()
    owner = f"bench-service-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as logs:
        server = ChildProcess.start(
            "service",
            python_command("-m", "inference_service", "--port", str(port)),
            owner=owner,
            env={"HF_HUB_OFFLINE": "1", **env},
            log_dir=Path(logs),
            cwd=ROOT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            yield url, _wait_ready(url, server, timeout_s)
        finally:
            server.stop()


def _wait_ready(url: str, server: ChildProcess, timeout_s: float) -> dict:
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


def _timed(call) -> tuple[float, float]:
    """Pause, then time ``call``: (seconds, what the call returns as its own inference seconds)."""
    time.sleep(SETTLE_S)
    started = time.perf_counter()
    inference_s = call()
    return time.perf_counter() - started, inference_s


def _measure(model, texts: dict[int, str], url: str) -> tuple[list, dict, bool]:
    raw: dict[int, list[tuple[float, float]]] = {n: [] for n in texts}
    local: dict[int, list[tuple[float, float]]] = {n: [] for n in texts}
    remote: dict[int, list[tuple[float, float]]] = {n: [] for n in texts}
    encoded = {n: model.encoder.encode([text]) for n, text in texts.items()}
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)

    def forward(n: int) -> float:
        started = time.perf_counter()
        model.classifier(encoded[n].input_ids, encoded[n].attention_mask)
        return time.perf_counter() - started

    def in_process(text: str) -> float:
        started = time.perf_counter()
        model.predict([text])
        return time.perf_counter() - started

    def over_http(text: str) -> float:
        body = json.dumps({"text": text}).encode()
        connection.request("POST", "/predict", body, {"content-type": "application/json"})
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"/predict answered {response.status}: {payload[:200]!r}")
        return json.loads(payload)["timing"]["inference_ms"] / 1000.0

    try:
        for n, text in texts.items():  # warm every path
            forward(n)
            in_process(text)
            over_http(text)
        for _ in range(ROUNDS):
            for n, text in texts.items():
                raw[n] += [_timed(lambda n=n: forward(n)) for _ in range(REQUESTS_PER_ROUND)]
                local[n] += [
                    _timed(lambda t=text: in_process(t)) for _ in range(REQUESTS_PER_ROUND)
                ]
                # The forward and in-process rounds can outlast uvicorn's keep-alive (5 s), after
                # which the server has closed the connection: reopen it, untimed.
                connection.close()
                over_http(text)
                remote[n] += [
                    _timed(lambda t=text: over_http(t)) for _ in range(REQUESTS_PER_ROUND)
                ]
    finally:
        connection.close()
    rows, figures, passed = [], {"p50_ms": {}}, True
    for n in texts:
        pass_only = _ms([total for total, _ in raw[n]])
        base = _ms([total for total, _ in local[n]])
        through_http = _ms([total for total, _ in remote[n]])
        # Paired: each request's latency less the forward pass the server timed for it.
        paired = _ms([total - inference for total, inference in remote[n]])
        predict_ratio, http_ratio = base / pass_only, through_http / base
        passed &= predict_ratio <= 1 + TARGET_OVERHEAD and http_ratio <= 1 + TARGET_OVERHEAD
        rows.append(
            [n, pass_only, base, through_http, f"{predict_ratio:.3f}", f"{http_ratio:.3f}", paired]
        )
        figures["p50_ms"][n] = {
            "forward": round(pass_only, 3),
            "in_process": round(base, 3),
            "http": round(through_http, 3),
            "http_minus_own_inference": round(paired, 3),
        }
    return rows, figures, passed


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    print(run().body)
