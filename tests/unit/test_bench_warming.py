"""Warming before warm scenarios: the capacity the schedule needs, opened before the load."""

from __future__ import annotations

from datetime import datetime

import httpx
import numpy as np

from nlp_bench_pipeline.bench.verification import first_success
from nlp_bench_pipeline.bench.warming import concurrent_need, warm, warming_schedule
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, utcnow
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule
from nlp_bench_pipeline.targets.base import DeployedContext
from tests.fixtures.predict_stub import predict_stub


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
