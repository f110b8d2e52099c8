"""The live comparison through the backoff client, against servers scripted to fail N times."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER
from nlp_bench_pipeline.bench.comparison import LiveComparison, compare
from nlp_bench_pipeline.client import REASON_HEADER, RetryPolicy
from nlp_bench_pipeline.defs.report.live import comparison_metadata
from tests.fixtures.threaded_http import serving_in_thread

FAST = RetryPolicy(max_attempts=8, base_s=0.01, cap_s=0.02, budget_s=20.0)
PREDICTION = {
    "predictions": [{"label": "POSITIVE", "score": 0.9876}],
    "model": {"id": "tiny", "digest": "sha256:abc"},
    "timing": {"server_ms": 3.0},
}


@contextmanager
def scripted(
    failures: int,
    *,
    status: int = 503,
    reason: str = "cold_start:gateway_timeout",
    delay_s: float = 0.0,
) -> Iterator[str]:
    """A server answering ``status`` (with the emulator's reason header) ``failures`` times,
    then a prediction from ``env-1`` whose cold-start header is 0 (its second prediction)."""
    calls = {"n": 0}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            time.sleep(delay_s)
            calls["n"] += 1
            failing = calls["n"] <= failures
            body = json.dumps({"message": "Service Unavailable"} if failing else PREDICTION)
            self.send_response(status if failing else 200)
            if failing:
                self.send_header(REASON_HEADER, reason)
            else:
                self.send_header(ENVIRONMENT_HEADER, "env-1")
                self.send_header(COLD_START_HEADER, "0")
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    with serving_in_thread(Handler) as url:
        yield url


def test_a_target_that_fails_twice_answers_on_the_third_attempt() -> None:
    with scripted(2) as url:
        (answer,) = compare("a fine film", {"scripted": url}, policy=FAST)
    assert answer.ok
    assert answer.attempts == 3
    assert answer.attempt_labels == ["cold_start", "cold_start", "ok"]
    assert answer.first_status == 503
    assert answer.first_label == "cold_start"
    assert answer.label == "POSITIVE"
    assert answer.score == 0.9876
    assert answer.environment_id == "env-1"
    assert answer.time_to_first_success_ms is not None
    assert answer.time_to_first_success_ms >= answer.first_attempt_ms


def test_an_answer_after_a_cold_attempt_counts_as_cold_though_its_header_says_warm() -> None:
    with scripted(1) as url:
        (answer,) = compare("a fine film", {"scripted": url}, policy=FAST)
    assert answer.cold_start_header is False
    assert answer.cold_start is True
    assert answer.start == "cold"


def test_a_function_whose_init_keeps_failing_stops_early_with_the_reason() -> None:
    with scripted(100, status=502, reason="init_error:Runtime.ImportModuleError") as url:
        (answer,) = compare("a fine film", {"scripted": url}, policy=FAST)
    assert not answer.ok
    assert answer.attempts == FAST.identical_init_errors
    assert "Runtime.ImportModuleError" in answer.error


def test_retries_spent_are_reported_not_raised() -> None:
    with scripted(100, status=500, reason="throttle:concurrency_limit") as url:
        (answer,) = compare("a fine film", {"scripted": url}, policy=FAST)
    assert not answer.ok
    assert answer.attempts == FAST.max_attempts
    assert "max_attempts" in answer.error
    assert answer.label is None


def test_targets_are_asked_in_parallel() -> None:
    with scripted(0, delay_s=1.0) as slow, scripted(0, delay_s=1.0) as also_slow:
        started = time.monotonic()
        answers = compare("a fine film", {"a": slow, "b": also_slow}, policy=FAST)
        elapsed = time.monotonic() - started
    assert [a.target for a in answers] == ["a", "b"]
    assert all(a.ok for a in answers)
    assert elapsed < 1.8


def test_the_assets_metadata_tables_every_answer() -> None:
    with scripted(1) as url:
        answers = compare("a fine film", {"scripted": url}, policy=FAST)
    comparison = LiveComparison(
        comparison_id="c1", text="a fine film", answers=answers, stored=False
    )
    metadata = comparison_metadata(comparison)
    table = metadata["answers"].value
    assert "| scripted | POSITIVE | 0.99 |" in table
    assert "| cold_start | 2 |" in table
    assert table.rstrip().endswith("| cold |")
    assert metadata["stored_in_duckdb"].value is False
    assert metadata["detail"].value[0]["attempt_labels"] == ["cold_start", "ok"]
