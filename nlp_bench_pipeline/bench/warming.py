"""What the harness does between deploy and load: time the first success, then warm capacity.

Every run records the time from its deploy to the first successful prediction (the figure a
cold deploy costs a user). A warm scenario must then not measure cold starts: pods must be
ready (``Target.wait_ready``), and a Lambda-style target must have as many warm execution
environments as its arrival schedule needs at once — otherwise the Poisson stream's clusters
start inits inside the measured phase and the "warm" p99 is a cold one. How much to warm is the
scenario's ``warm_capacity``: the whole schedule for steady scenarios, the warm-up phase (the
base rate) for a ramp or a burst, whose own scale-out is what they measure. The schedule itself
stays fixed and seeded; only the platform is prepared. What was warmed is returned for the
run's record, with the emulators' account of every answer that was not a prediction
(``x-nlp-bench-reason``: throttles, cold-start timeouts, init errors).

Warming stops early on an init that keeps failing. Real Lambda re-runs a failed init on every
invoke, so a function whose new environments cannot initialise answers the same init error to
each of the warming's concurrent requests, and their retries meet throttles while the failed
inits hold the concurrency: counted per request, no request ever sees the error three times, and
warming would retry until its time ran out. So identical init errors are counted over all of the
warming's requests (from the reason header), and the policy's ``identical_init_errors`` of them
stop every request at its next backoff sleep: :class:`WarmingFailed` names the init error.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np

from inference_service.contract import ENVIRONMENT_HEADER, PREDICT_PATH
from nlp_bench_pipeline.bench.verification import (
    FIRST_SUCCESS_POLICY,
    PROBE_BODY,
    FirstSuccess,
    client_auth,
    first_success,
)
from nlp_bench_pipeline.client import (
    CallFailed,
    RepeatedInitError,
    RetryPolicy,
    classify_response,
    send,
)
from nlp_bench_pipeline.core.deployments import Deployment
from nlp_bench_pipeline.core.headers import REASON_HEADER
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS
from nlp_bench_pipeline.loadgen.scenarios import ScenarioConfig
from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule
from nlp_bench_pipeline.targets.base import Target

# A request's service time is doubled for the warming window: headroom for the spread of
# service times and for a request that lands just as another finishes.
SERVICE_TIME_HEADROOM = 2.0
MIN_SERVICE_MS = 20.0
WARMING_ROUNDS = 3


class WarmingFailed(RuntimeError):
    """Warming stopped before the capacity it wanted was warm; the message says what it met."""


class _Stopped(Exception):
    """Raised out of a warming request's backoff sleep once the warming has given up."""


class _WarmingAnswers:
    """What every warming request met, counted across requests, and the signal to give up.

    Sees each response as httpx receives it (an event hook), before the backoff client judges
    it; the client's own judgement (``classify_response``) says which answers are init errors.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.reasons: Counter[str] = Counter()
        self.repeated_init_error: str | None = None
        self.failure: Exception | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def on_response(self, response: httpx.Response) -> None:
        reason = response.headers.get(REASON_HEADER)
        if not reason:
            return
        label = classify_response(response.status_code, response.headers, b"", 0.0).label
        with self._lock:
            self.reasons[reason] += 1
            if label == "init_error" and self.reasons[reason] >= self.policy.identical_init_errors:
                self.repeated_init_error = self.repeated_init_error or reason
                self._stop.set()

    def failed(self, error: Exception) -> None:
        """One request ended without a prediction: the others stop too."""
        with self._lock:
            self.failure = self.failure or error
        self._stop.set()

    def sleep(self, seconds: float) -> None:
        """The backoff sleep of every warming request: cut short once warming gives up."""
        if self._stop.wait(seconds):
            raise _Stopped

    def raise_if_stopped(self, environments: int, wanted: int) -> None:
        got = f"{environments} of {wanted} environments warm"
        if self.repeated_init_error is not None:
            count = self.reasons[self.repeated_init_error]
            raise WarmingFailed(
                f"warming stopped with {got}: new environments failed their init {count} times "
                f"with {self.repeated_init_error.partition(':')[2]} ({REASON_HEADER}: "
                f"{self.repeated_init_error}); not retrying an init that fails the same way"
            )
        if self.failure is not None:
            raise WarmingFailed(f"warming stopped with {got}: {self.failure}") from self.failure


def time_first_success(deployment: Deployment, since: float, timeout_s: float) -> FirstSuccess:
    """Deploy began at ``since`` (monotonic): probe until the first success and time it."""
    with httpx.Client(
        base_url=deployment.endpoint, timeout=60, auth=client_auth(deployment)
    ) as client:
        return first_success(client, since=since, timeout_s=timeout_s)


def first_success_record(first: FirstSuccess) -> dict[str, Any]:
    """What the first success after the deploy was, for ``benchmark_runs.host.warming``."""
    return {
        "first_environment_id": first.environment_id,
        "first_cold_start_header": first.cold_start_header,
        "first_latency_ms": round(first.latency_ms, 3),
        "responses_before_first": first.seen_before,
        "environment_ids": [first.environment_id],
    }


def warming_schedule(scenario: ScenarioConfig, repetition: int) -> ArrivalSchedule | None:
    """The arrivals to warm for, by the scenario's ``warm_capacity`` (None: warm nothing)."""
    if scenario.warm_capacity == "none":
        return None
    schedule = scenario.schedule(repetition)
    if scenario.warm_capacity == "schedule":
        return schedule
    return schedule.phase("warmup")


def concurrent_need(schedule: ArrivalSchedule, service_ms: float) -> int:
    """The most requests the schedule has in flight at once if each takes ``service_ms``.

    Arrivals within one service time of each other need an environment each (one request at a
    time per Lambda environment).
    """
    offsets = np.sort(schedule.offsets_s)
    if len(offsets) == 0:
        return 0
    window_s = max(service_ms, MIN_SERVICE_MS) * SERVICE_TIME_HEADROOM / 1000.0
    starts = np.searchsorted(offsets, offsets - window_s, side="right")
    return int(np.max(np.arange(len(offsets)) - starts + 1))


def warm(
    target: Target,
    deployment: Deployment,
    first: FirstSuccess,
    schedule: ArrivalSchedule,
    *,
    timeout_s: float = 300,
) -> dict[str, Any]:
    """Minimum capacity ready, and on Lambda-style targets the environments ``schedule`` needs.

    The caller passes the part of the schedule to warm for (the whole of a steady scenario, the
    warm-up phase of a ramp or burst). The warming requests are not rows of the run; their
    platform events are, so what they were is returned for the record.
    """
    started = time.monotonic()
    target.wait_ready(timeout_s)
    warmed = first_success_record(first)
    if target.name in LAMBDA_STYLE_TARGETS:
        service_ms = float(first.response.json().get("timing", {}).get("server_ms") or 0.0)
        limit = deployment.details.get("limits", {}).get("concurrency_limit")
        need = concurrent_need(schedule, service_ms)
        wanted = min(need, limit) if limit else need
        environments, answers = _open_environments(
            deployment, wanted, {first.environment_id}, timeout_s
        )
        warmed |= {
            "service_ms": round(service_ms, 3),
            "environments_needed": need,
            "environments_wanted": wanted,
            "environments_warm": len(environments),
            "environment_ids": sorted(environments),
            "answers_before_warm": dict(answers.reasons),
        }
    warmed["seconds"] = round(time.monotonic() - started, 3)
    return warmed


def _open_environments(
    deployment: Deployment, wanted: int, warm: set[str], timeout_s: float
) -> tuple[set[str], _WarmingAnswers]:
    """Send overlapping predictions until ``wanted`` distinct environments have served one.

    Requests sent together find the warm environments busy, so each extra one starts an
    environment (a cold start, retried through the gateway's timeout if it must be). Raises
    :class:`WarmingFailed` when an init keeps failing or a request ends without a prediction.
    """
    environments = set(warm)
    policy = FIRST_SUCCESS_POLICY.model_copy(update={"budget_s": timeout_s})
    answers = _WarmingAnswers(policy)
    with httpx.Client(
        base_url=deployment.endpoint,
        timeout=60,
        auth=client_auth(deployment),
        event_hooks={"response": [answers.on_response]},
    ) as client:

        def predict(_: int) -> str:
            try:
                result = send(
                    client,
                    "POST",
                    PREDICT_PATH,
                    json=PROBE_BODY,
                    policy=policy,
                    sleep=answers.sleep,
                )
                return result.raise_for_failure().headers.get(ENVIRONMENT_HEADER, "")
            except _Stopped:
                return ""
            except (CallFailed, RepeatedInitError) as exc:
                answers.failed(exc)
                return ""

        for _ in range(WARMING_ROUNDS):
            if len(environments) >= wanted:
                break
            width = wanted  # every environment busy at once, so the missing ones must start
            with ThreadPoolExecutor(max_workers=width) as pool:
                environments |= set(pool.map(predict, range(width))) - {""}
            answers.raise_if_stopped(len(environments), wanted)
    return environments, answers
