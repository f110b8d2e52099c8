"""Warming before warm scenarios: the capacity the schedule needs, opened before the load."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler

import httpx
import numpy as np
import pytest

from inference_service.contract import ENVIRONMENT_HEADER
from nlp_bench_pipeline.bench.verification import first_success
from nlp_bench_pipeline.bench.warming import (
    WarmingFailed,
    concurrent_need,
    warm,
    warming_schedule,
)
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.headers import REASON_HEADER
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, utcnow
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule
from nlp_bench_pipeline.targets.base import DeployedContext
from tests.fixtures.predict_stub import BODY, predict_stub
from tests.fixtures.threaded_http import serving_in_thread

API_GATEWAY_500 = b'{"message": "Internal server error"}'
Reply = tuple[int, str | None]  # status, reason header (200: a prediction from a new environment)
OK: Reply = (200, None)
INIT_ERROR: Reply = (502, "init_error:Runtime.ExitError")
THROTTLE: Reply = (500, "throttle:concurrency_limit")


def schedule(offsets: list[float]) -> ArrivalSchedule:
    n = len(offsets)
    return ArrivalSchedule(
        offsets_s=np.array(offsets),
        phases=np.ones(n, dtype=np.int8),
        payloads=np.zeros(n, dtype=np.int32),
        duration_s=max(offsets) + 1,
    )


def test_the_need_is_the_most_arrivals_within_twice_a_service_time() -> None:
    arrivals = schedule([0.0, 0.01, 0.015, 1.0, 2.0, 2.001, 2.002, 2.003])
    assert concurrent_need(arrivals, service_ms=10.0) == 4  # 2.000..2.003 within 2 × 20 ms
    assert concurrent_need(arrivals, service_ms=1.0) == 4  # service times floor at 20 ms
    assert concurrent_need(arrivals, service_ms=600.0) == 5  # 1.0 and 2.000..2.003 in 1.2 s
    assert concurrent_need(schedule([0.0, 5.0]), service_ms=100.0) == 1


class StubLambda(DeployedContext):
    """A Lambda-style target whose endpoint is the stub; concurrency limit 3."""

    name = "local-lambda"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def deployment(self) -> Deployment:
        return Deployment(
            deployment_id="d", endpoint=self.endpoint, target="local-lambda",
            spec=DeploymentSpec(target="local-lambda"), started_at=utcnow(),
            details={"limits": {"concurrency_limit": 3}},
        )  # fmt: skip

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        return self.deployment()

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return []

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return []


def test_a_lambda_target_gets_the_environments_its_schedule_needs_capped_by_its_limit() -> None:
    with predict_stub(environments=5) as url:
        target = StubLambda(url)
        with httpx.Client(base_url=url) as client:
            first = first_success(client)
        burst = schedule([0.0, 0.001, 0.002, 0.003, 0.004])  # 5 at once; the limit is 3
        warmed = warm(target, target.deployment(), first, burst)
    assert warmed["environments_needed"] == 5
    assert warmed["environments_wanted"] == 3
    assert warmed["environments_warm"] >= 3
    assert warmed["first_environment_id"] == "stub-env-0"


def test_what_is_warmed_follows_the_scenario() -> None:
    steady = load_scenario("warm_steady", "quick")
    burst = load_scenario("burst", "quick")
    assert len(warming_schedule(steady, 0)) == len(steady.schedule(0))  # the whole schedule
    assert len(warming_schedule(burst, 0)) == burst.schedule(0).count("warmup")  # its base rate
    assert warming_schedule(load_scenario("cold_start", "quick"), 0) is None


@contextlib.contextmanager
def scripted_lambda(script: list[Reply], then: Reply) -> Iterator[tuple[str, list[float]]]:
    """A Lambda-style front answering the n-th request with ``script[n]``, then ``then``.

    Yields the base URL and the arrival times, so a test can tell when requests stopped coming.
    Each 200 names a new environment; other answers carry the emulator's reason header.
    """
    arrivals: list[float] = []
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            with lock:
                n = len(arrivals)
                arrivals.append(time.monotonic())
            status, reason = script[n] if n < len(script) else then
            body = json.dumps(BODY).encode() if status == 200 else API_GATEWAY_500
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            if status == 200:
                self.send_header(ENVIRONMENT_HEADER, f"env-{n}")
            if reason:
                self.send_header(REASON_HEADER, reason)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    with serving_in_thread(Handler) as url:
        yield url, arrivals


def warm_three(url: str, timeout_s: float = 60) -> dict[str, object]:
    """Warm for five arrivals at once under a concurrency limit of 3 (three requests at once)."""
    target = StubLambda(url)
    with httpx.Client(base_url=url) as client:
        first = first_success(client)
    burst = schedule([0.0, 0.001, 0.002, 0.003, 0.004])
    return warm(target, target.deployment(), first, burst, timeout_s=timeout_s)


def test_an_init_error_repeated_across_the_warming_requests_stops_all_of_them() -> None:
    # Each new environment fails its init once, then the failed inits hold the concurrency:
    # no single request sees the init error twice, so only counting across requests stops it.
    with scripted_lambda([OK, INIT_ERROR, INIT_ERROR, INIT_ERROR], then=THROTTLE) as (url, seen):
        started = time.monotonic()
        with pytest.raises(
            WarmingFailed, match=r"failed their init 3 times with Runtime\.ExitError"
        ):
            warm_three(url)
        assert time.monotonic() - started < 15  # not the 60 s budget
        stopped_at = len(seen)
        time.sleep(0.6)  # longer than any backoff sleep of the policy
        assert len(seen) == stopped_at, "a warming request went on after warming stopped"


def test_an_answer_that_is_not_retried_stops_the_other_warming_requests() -> None:
    too_large: Reply = (413, "rejected:payload_too_large")
    with scripted_lambda([OK, too_large], then=THROTTLE) as (url, seen):
        started = time.monotonic()
        with pytest.raises(WarmingFailed, match="HTTP 413"):
            warm_three(url)
        assert time.monotonic() - started < 15
        stopped_at = len(seen)
        time.sleep(0.6)
        assert len(seen) == stopped_at


def test_what_the_warming_met_before_capacity_was_warm_is_recorded() -> None:
    script = [OK, THROTTLE, (503, "cold_start:gateway_timeout")]
    with scripted_lambda(script, then=OK) as (url, _):
        warmed = warm_three(url)
    assert warmed["environments_warm"] >= 3
    assert warmed["answers_before_warm"] == {
        "throttle:concurrency_limit": 1,
        "cold_start:gateway_timeout": 1,
    }
