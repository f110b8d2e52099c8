"""The local-lambda target with real awslambdaric processes on loopback, shortened timers.

Pool mechanics run the trivial handler (tests/fixtures/trivial_lambda.py); one test runs the real
service with the full-size synthetic model. After every test no process carrying the
deployment's NLP_BENCH_OWNER may remain.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.processes import free_port, owned_processes, python_command
from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TRIVIAL = "tests.fixtures.trivial_lambda.handler"
INTERNAL_ERROR = {"message": "Internal server error"}


class Platform:
    """One test's local-lambda deployments, a client for the current one, and event helpers."""

    def __init__(self, work_dir: Path) -> None:
        self.target = LocalLambdaTarget(work_dir=work_dir, sample_interval_s=0.2)
        self.owners: list[str] = []
        self.client: httpx.Client | None = None

    def deploy(
        self,
        *,
        handler: str = TRIVIAL,
        env: dict[str, str] | None = None,
        model: str = "synthetic",
        memory_mb: int = 1769,
        **platform: Any,
    ) -> Deployment:
        spec = DeploymentSpec(
            target="local-lambda",
            handler=handler,
            model=model,
            memory_mb=memory_mb,
            env=env or {},
            platform=platform,
        )
        deployment = self.target.deploy(spec)
        self.owners.append(deployment.deployment_id)
        self.client = httpx.Client(base_url=deployment.endpoint, timeout=60)
        return deployment

    def post(self, body: dict[str, Any] | None = None, path: str = "/predict") -> httpx.Response:
        assert self.client is not None
        return self.client.post(path, json=body or {"text": "fine"})

    def post_together(self, *bodies: dict[str, Any]) -> list[httpx.Response]:
        with ThreadPoolExecutor(len(bodies)) as pool:
            return list(pool.map(self.post, bodies))

    def events(self, kind: str | None = None) -> list[PlatformEvent]:
        return [e for e in self.target.events() if kind is None or e.kind == kind]

    def wait_until(self, condition: Callable[[], bool], timeout_s: float = 15.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, f"timed out; events: {self.events()}"
            time.sleep(0.05)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        self.target.teardown()


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.close()
        for owner in platform.owners:
            assert owned_processes(owner) == [], f"processes of {owner} outlived teardown"


def environment_of(response: httpx.Response) -> str:
    return response.headers["x-nlp-bench-environment-id"]


def cold(response: httpx.Response) -> str:
    return response.headers["x-nlp-bench-cold-start"]


def test_first_request_is_cold_and_the_next_reuses_its_environment(platform: Platform) -> None:
    platform.deploy()
    first, second = platform.post(), platform.post()
    assert (first.status_code, cold(first)) == (200, "1")
    assert (second.status_code, cold(second)) == (200, "0")
    assert environment_of(first) == environment_of(second)
    assert [e.kind for e in platform.events() if e.kind != "report"] == ["init_start", "cold_start"]


def test_function_sees_lambda_environment_variables(platform: Platform) -> None:
    platform.deploy(memory_mb=3538, function_name="sentiment")
    variables = platform.post().json()["variables"]
    assert variables["AWS_LAMBDA_FUNCTION_NAME"] == "sentiment"
    assert variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "3538"
    assert variables["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert variables["AWS_LAMBDA_LOG_STREAM_NAME"].split("]")[0].endswith("[$LATEST")
    assert variables["AWS_REGION"] == "us-east-1"
    assert variables["_HANDLER"] == TRIVIAL
    assert variables["LAMBDA_TASK_ROOT"] == str(ROOT)
    assert variables["NLP_BENCH_THREADS"] == "2"  # 3,538 MB = 2 vCPU


def test_two_concurrent_requests_start_two_environments_and_a_third_reuses_one(
    platform: Platform,
) -> None:
    platform.deploy()
    together = platform.post_together({"sleep_s": 1.0}, {"sleep_s": 1.0})
    third = platform.post()
    assert [r.status_code for r in together] == [200, 200]
    assert {cold(r) for r in together} == {"1"}
    assert len({environment_of(r) for r in together}) == 2
    assert cold(third) == "0"
    assert environment_of(third) in {environment_of(r) for r in together}
    assert len(platform.events("cold_start")) == 2


def test_idle_environments_are_evicted_down_to_zero(platform: Platform) -> None:
    platform.deploy(idle_eviction_s=0.5)
    platform.post_together({"sleep_s": 1.0}, {"sleep_s": 1.0})
    platform.wait_until(lambda: platform.target.environments() == [])
    assert len(platform.events("evict")) == 2
    assert cold(platform.post()) == "1"


def test_concurrency_limit_throttles_with_500(platform: Platform) -> None:
    platform.deploy(concurrency_limit=1)
    responses = platform.post_together({"sleep_s": 1.0}, {"sleep_s": 1.0})
    assert sorted(r.status_code for r in responses) == [200, 500]
    throttled = next(r for r in responses if r.status_code == 500)
    assert throttled.json() == INTERNAL_ERROR
    assert "x-nlp-bench-environment-id" not in throttled.headers
    [event] = platform.events("throttle")
    assert event.detail["reason"] == "concurrency_limit"
    assert event.detail["gateway_request_id"] == throttled.headers["apigw-requestid"]


def test_scale_out_rate_throttles_new_environments_beyond_the_window(platform: Platform) -> None:
    platform.deploy(concurrency_limit=4, scale_out_limit=2, scale_out_window_s=60)
    responses = platform.post_together(*[{"sleep_s": 1.0}] * 4)
    assert sorted(r.status_code for r in responses) == [200, 200, 500, 500]
    reasons = [e.detail["reason"] for e in platform.events("throttle")]
    assert reasons == ["scale_out_rate", "scale_out_rate"]


def test_gateway_rate_limit_answers_429(platform: Platform) -> None:
    platform.deploy(gateway_rate_limit_rps=0.01, gateway_burst=1)
    first, second = platform.post(), platform.post()
    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json() == {"message": "Too Many Requests"}
    assert [e.detail["reason"] for e in platform.events("throttle")] == ["gateway_rate_limit"]


def test_provisioned_environment_serves_without_a_cold_start(platform: Platform) -> None:
    platform.deploy(provisioned_concurrency=1, idle_eviction_s=0.3)
    [provisioned] = platform.target.environments()
    inits_before = len(platform.events("init_start"))
    time.sleep(0.6)  # past the idle time: provisioned environments are never evicted
    response = platform.post()
    assert (response.status_code, cold(response)) == (200, "0")
    assert environment_of(response) == provisioned.environment_id
    assert len(platform.events("init_start")) == inits_before == 1
    assert platform.events("evict") == []
    [report] = platform.events("report")
    assert report.init_ms is None


def test_gateway_timeout_during_slow_init_then_the_environment_serves_warm(
    platform: Platform,
) -> None:
    platform.deploy(env={"NLP_BENCH_FAULT_LOAD_DELAY_S": "3"}, integration_timeout_s=1)
    first = platform.post()
    assert first.status_code == 503
    assert first.json() == {"message": "Service Unavailable"}
    assert "x-nlp-bench-cold-start" not in first.headers
    [timeout] = platform.events("timeout")
    assert timeout.detail["scope"] == "gateway"
    assert timeout.detail["waited_on_init"] is True
    assert timeout.detail["gateway_request_id"] == first.headers["apigw-requestid"]
    [init] = platform.events("init_start")
    assert timeout.environment_id == init.environment_id
    # The abandoned invoke still runs once the init is done (as on AWS); then the next is warm.
    platform.wait_until(lambda: len(platform.events("report")) == 1)
    second = platform.post()
    assert (second.status_code, cold(second)) == (200, "0")
    assert environment_of(second) == init.environment_id
    assert len(platform.events("init_start")) == 1


def test_init_over_the_limit_is_retried_inside_the_first_invoke(platform: Platform) -> None:
    platform.deploy(
        env={"NLP_BENCH_FAULT_LOAD_DELAY_S": "1.5"}, init_timeout_s=1, function_timeout_s=8
    )
    response = platform.post()
    assert response.status_code == 200
    [init_timeout] = platform.events("timeout")
    assert (init_timeout.detail["scope"], init_timeout.detail["attempt"]) == ("init", 1)
    assert [e.detail["attempt"] for e in platform.events("init_start")] == [1, 2]
    [report] = platform.events("report")
    assert report.init_ms is None  # the retried init is part of the invoke's Duration
    assert report.duration_ms is not None
    assert report.duration_ms >= 1500


def test_rest_api_round_trip_uses_payload_format_1_0(platform: Platform) -> None:
    platform.deploy(api="rest")
    response = platform.post(path="/predict?lang=en")
    assert response.status_code == 200
    assert response.json()["payload_format"] == "1.0"
    assert cold(response) == "1"
    assert "x-amzn-RequestId" in response.headers


def test_rest_api_integration_timeout_answers_504(platform: Platform) -> None:
    platform.deploy(api="rest", integration_timeout_s=0.5)
    platform.post()  # warm
    response = platform.post({"sleep_s": 1.5})
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_rest_api_answers_502_for_a_response_without_status_code(platform: Platform) -> None:
    platform.deploy(api="rest")
    response = platform.post({"raw": True})
    assert response.status_code == 502
    assert response.json() == INTERNAL_ERROR


def test_function_timeout_kills_and_replaces_the_environment(platform: Platform) -> None:
    platform.deploy(function_timeout_s=1)
    first = platform.post()
    response = platform.post({"sleep_s": 5})
    assert response.status_code == 502
    assert response.json() == INTERNAL_ERROR
    [timeout] = platform.events("timeout")
    assert timeout.detail["scope"] == "function"
    assert timeout.detail["message"] == "Task timed out after 1.00 seconds"
    report = platform.events("report")[-1]
    assert (report.detail["status"], report.detail["error_type"]) == ("timeout", "Sandbox.Timedout")
    assert "Status: timeout" in report.detail["line"]
    after = platform.post()
    assert cold(after) == "1"
    assert environment_of(after) != environment_of(first)


def test_crash_mid_request_answers_502_and_spares_other_environments(platform: Platform) -> None:
    platform.deploy()
    survivor, crashed = platform.post_together({"sleep_s": 1.0}, {"crash": True})
    assert survivor.status_code == 200
    assert crashed.status_code == 502
    [crash] = platform.events("crash")
    assert (crash.detail["phase"], crash.detail["exit_code"]) == ("invoke", 70)
    assert [e.environment_id for e in platform.target.environments()] == [environment_of(survivor)]
    assert platform.post().status_code == 200


def test_function_error_answers_502_and_keeps_the_environment(platform: Platform) -> None:
    platform.deploy()
    failed, after = platform.post({"error": True}), platform.post()
    assert failed.status_code == 502
    assert (after.status_code, cold(after)) == (200, "0")
    report = platform.events("report")[0]
    assert (report.detail["status"], report.detail["error_type"]) == ("error", "ValueError")


def test_init_error_answers_502_after_lambda_retries_the_init(platform: Platform) -> None:
    platform.deploy(env={"NLP_BENCH_FAULT_LOAD_FAIL": "1"})
    response = platform.post()
    assert response.status_code == 502
    crashes = [(c.detail["phase"], c.detail["error_type"]) for c in platform.events("crash")]
    assert crashes == [("init", "RuntimeError"), ("init", "RuntimeError")]
    assert [e.detail["attempt"] for e in platform.events("init_start")] == [1, 2]
    platform.wait_until(lambda: platform.target.environments() == [])


def test_request_over_the_payload_limit_answers_413(platform: Platform) -> None:
    platform.deploy(max_request_bytes=1000)
    response = platform.post({"text": "x" * 2000})
    assert response.status_code == 413
    assert platform.events("init_start") == []


def test_response_over_six_megabytes_answers_502(platform: Platform) -> None:
    platform.deploy()
    response = platform.post({"response_bytes": 7 * 1024 * 1024})
    assert response.status_code == 502
    report = platform.events("report")[0]
    assert report.detail["error_type"] == "Function.ResponseSizeTooLarge"
    # awslambdaric exits when its response is refused; the next request gets a fresh runtime.
    assert platform.post().status_code == 200
    [crash] = platform.events("crash")
    assert (crash.detail["phase"], crash.detail["error_type"]) == ("idle", "Runtime.ExitError")


def test_report_records_are_consistent(platform: Platform) -> None:
    platform.deploy()
    for _ in range(3):
        platform.post()
    reports = platform.events("report")
    assert len(reports) == 3
    assert [r.init_ms is not None for r in reports] == [True, False, False]
    for report in reports:
        assert report.billed_ms is not None
        assert report.duration_ms is not None
        assert report.billed_ms >= report.duration_ms + (report.init_ms or 0)
        assert report.memory_mb == 1769
        assert report.max_memory_mb is not None
        assert 0 < report.max_memory_mb <= report.memory_mb
        assert report.detail["over_memory"] is False
        assert report.detail["line"].startswith(f"REPORT RequestId: {report.detail['request_id']}")
    assert "Init Duration" in reports[0].detail["line"]


def test_deploy_is_idempotent_and_events_outlive_teardown(platform: Platform) -> None:
    first = platform.deploy()
    again = platform.deploy()
    assert again is first
    platform.post()
    platform.target.teardown()
    assert {e.kind for e in platform.target.events()} >= {"init_start", "cold_start", "report"}
    assert platform.target.environments() == []


def test_every_environment_is_sampled(platform: Platform) -> None:
    platform.deploy()
    environment = environment_of(platform.post({"sleep_s": 0.5}))
    platform.wait_until(lambda: bool(platform.target.samples()))
    sample = platform.target.samples()[0]
    assert sample.environment_id == environment
    assert sample.rss_mb > 0


def _sigint_ignored() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


@pytest.mark.parametrize(
    "inherited",
    [None, _sigint_ignored],
    ids=["from a terminal", "from a script's background job (SIGINT inherited ignored)"],
)
def test_command_line_serves_until_interrupted(tmp_path: Path, inherited) -> None:
    port = free_port()
    command = [
        *python_command("-m", "nlp_bench_pipeline.targets.local_lambda"),
        *("--port", str(port), "--memory", "2048", "--handler", TRIVIAL),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env={**os.environ, "NLP_BENCH_WORK_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=inherited,
    )
    try:
        assert process.stdout is not None
        endpoint, owner = process.stdout.readline().split()[-2:]
        assert endpoint == f"http://127.0.0.1:{port}"
        assert httpx.post(f"{endpoint}/predict", json={}, timeout=30).status_code == 200
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, output
    assert "every runtime process is gone" in output
    assert owned_processes(owner) == []


def test_command_line_with_a_failing_init_says_so_in_one_line_and_does_not_serve(
    tmp_path: Path,
) -> None:
    # Issue 17: it printed "serving" and then started a new failing runtime per request.
    command = [
        *python_command("-m", "nlp_bench_pipeline.targets.local_lambda"),
        *("--port", str(free_port()), "--handler", TRIVIAL),
        *("--env", "NLP_BENCH_FAULT_LOAD_FAIL=1"),
    ]
    completed = subprocess.run(
        command,
        cwd=ROOT,
        env={**os.environ, "NLP_BENCH_WORK_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "serving; Ctrl-C to stop" not in completed.stdout
    [line] = completed.stderr.strip().splitlines()
    assert line.startswith("local-lambda: the function's init failed, so it does not serve: ")
    assert "RuntimeError: model load failed on purpose" in line
    owner = completed.stdout.splitlines()[0].split()[-1]
    assert owned_processes(owner) == []


@pytest.mark.full_model
def test_full_model_prediction_is_cold_then_warm_from_the_same_environment(
    platform: Platform,
) -> None:
    # This test is about the handler's round trip, not the init limit: on a busy 2-core host the
    # full model's init can pass 10 s and would then be retried, doubling the test's time.
    platform.deploy(
        handler="inference_service.lambda_handler.handler", model="synthetic", init_timeout_s=60
    )
    first = platform.post({"text": "a gripping, beautiful film"})
    second = platform.post({"text": "a dull, lifeless plot"})
    assert first.status_code == 200, first.text
    assert first.json()["predictions"][0]["label"] in {"POSITIVE", "NEGATIVE"}
    assert (cold(first), cold(second)) == ("1", "0")
    assert environment_of(first) == environment_of(second)
    [cold_start] = platform.events("cold_start")
    assert cold_start.init_ms is not None
    assert cold_start.init_ms > 0
