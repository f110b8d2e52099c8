"""Both local platforms with the real service behind them, against issue 17's findings 3, 5, 7, 8
and 10. One deployment of each (tiny model) serves every test here.

- Fuzzing: schemathesis generates requests from the service's own OpenAPI document — every
  check, positive and negative generation — and sends them through the local Lambda's API
  Gateway front (≥ 1,000 to ``POST /predict``) and the local Kubernetes Service. The document is
  the app's plus what the front documents it may answer itself (API Gateway: 413, 429, 500, 502,
  503 with ``{"message": ...}``; the Service: 502, 503, 504); the app answers 404 and 405 itself.
  Anything else — an undocumented status, a body off its schema, an emulator 5xx — fails.
  hypothesis then sends raw bodies (any bytes, content type and encoding).
- Listeners: every listening socket of the platforms (this process's servers, the runtimes, the
  pods) and of a two-process Locust run is on 127.0.0.1.
- Environments: canary secrets set before the deployments reach no runtime, pod or Locust
  process (``/proc/<pid>/environ``).
"""

from __future__ import annotations

import collections
import contextlib
import copy
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_service.app import create_app
from inference_service.settings import ServiceSettings
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.core.processes import OWNER_ENV, owned_processes, python_command
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE
from nlp_bench_pipeline.targets.local_k8s import LocalK8sTarget
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget
from nlp_bench_pipeline.targets.local_lambda.payloads import REASON_HEADER

pytestmark = pytest.mark.slow
MAX_TEXTS = 4
PREDICT = "POST /predict"
LAMBDA_REQUESTS = 1_000
K8S_REQUESTS = 150
LOOPBACK = "127.0.0.1"
CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIACANARYFRONTS0000",
    "AWS_SECRET_ACCESS_KEY": "canary-fronts-secret-7c1d",
    "GROQ_API_KEY": "gsk_canary_fronts_3e9a",
    "HF_TOKEN": "hf_canary_fronts_51b2",
}
SENT: dict[str, collections.Counter[str]] = {
    "lambda": collections.Counter(),
    "k8s": collections.Counter(),
}
GATEWAY_MESSAGE = {
    "description": "API Gateway's own answer",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"message": {"type": "string"}},
                "required": ["message"],
            }
        }
    },
}
# API Gateway's documented answers of its own (docs/aws-facts.md): payload too large, throttled
# by the gateway, Lambda throttled, the function failed, the integration timed out.
GATEWAY_STATUSES = ("413", "429", "500", "502", "503")
SERVICE_ANSWER = {
    "description": "the Service's own answer (as the ALB in front of EKS)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"message": {"type": "string"}, "detail": {"type": "string"}},
                "required": ["message"],
            }
        }
    },
}


def document_with(front: dict[str, Any], statuses: tuple[str, ...]) -> dict[str, Any]:
    """The service's OpenAPI document, with ``statuses`` answered by the front on every call."""
    app = create_app(ServiceSettings(model="tiny", threads=1, max_texts=MAX_TEXTS))
    document = copy.deepcopy(app.openapi())
    for operations in document["paths"].values():
        for operation in operations.values():
            for status in statuses:
                operation["responses"].setdefault(status, front)
    return document


CONFIG = schemathesis.Config.from_dict({"generation": {"mode": "all"}})
lambda_schema = schemathesis.openapi.from_dict(
    document_with(GATEWAY_MESSAGE, GATEWAY_STATUSES), config=CONFIG
)
k8s_schema = schemathesis.openapi.from_dict(
    document_with(SERVICE_ANSWER, ("502", "503", "504")), config=CONFIG
)


@pytest.fixture(scope="module", autouse=True)
def canaries() -> Iterator[None]:
    """Secrets in this process's environment, as an operator's shell has them."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in CANARIES.items():
            patch.setenv(name, value)
        yield


@pytest.fixture(scope="module")
def lambda_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    target = LocalLambdaTarget(work_dir=tmp_path_factory.mktemp("lambda"))
    spec = DeploymentSpec(
        target="local-lambda",
        handler="inference_service.lambda_handler.handler",
        model="tiny",
        memory_mb=1769,
        env={"NLP_BENCH_MAX_TEXTS": str(MAX_TEXTS)},
        platform={"init_timeout_s": 60},
    )
    try:
        deployment = target.deploy(spec)
        warm = httpx.post(f"{deployment.endpoint}/predict", json={"text": "warm"}, timeout=120)
        assert warm.status_code == 200, warm.text
        yield deployment
    finally:
        target.teardown()


@pytest.fixture(scope="module")
def lambda_front(lambda_deployment: Deployment) -> str:
    return lambda_deployment.endpoint


@pytest.fixture(scope="module")
def k8s_deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    target = LocalK8sTarget(work_dir=tmp_path_factory.mktemp("k8s"))
    spec = DeploymentSpec(
        target="local-k8s",
        model="tiny",
        env={"NLP_BENCH_MAX_TEXTS": str(MAX_TEXTS)},
        cpu=ResourceQuantity(request=1.0, limit=1.0),
        platform={"preset": "quick", "readiness_probe": {"periodSeconds": 0.2}},
    )
    try:
        deployment = target.deploy(spec)
        target.wait_ready(timeout_s=120)
        yield deployment
    finally:
        target.teardown()


@pytest.fixture(scope="module")
def k8s_front(k8s_deployment: Deployment) -> str:
    return k8s_deployment.endpoint


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@lambda_schema.parametrize()
@settings(max_examples=1_100, deadline=None, suppress_health_check=list(HealthCheck))
def test_through_the_lambda_front_every_request_gets_a_documented_answer(
    case: Any, lambda_front: str, session: requests.Session
) -> None:
    SENT["lambda"][case.operation.label] += 1
    case.call_and_validate(base_url=lambda_front, session=session, timeout=60)


@k8s_schema.parametrize()
@settings(max_examples=K8S_REQUESTS, deadline=None, suppress_health_check=list(HealthCheck))
def test_through_the_k8s_service_every_request_gets_a_documented_answer(
    case: Any, k8s_front: str, session: requests.Session
) -> None:
    SENT["k8s"][case.operation.label] += 1
    case.call_and_validate(base_url=k8s_front, session=session, timeout=60)


def test_schemathesis_sent_enough_requests_through_each_front() -> None:
    if not SENT["lambda"] or not SENT["k8s"]:
        pytest.skip("counts the requests of the tests above; run the module")
    assert SENT["lambda"][PREDICT] >= LAMBDA_REQUESTS
    assert SENT["k8s"][PREDICT] >= K8S_REQUESTS * 0.9


CONTENT_TYPES = ["application/json", "text/plain", "application/octet-stream", "", "x/\x7f"]
ENCODINGS = [None, "gzip", "deflate", "br", "zstd", "identity", "gzip, br", "bogus"]


def raw_post(url: str, body: bytes, content_type: str, encoding: str | None) -> httpx.Response:
    headers = {"content-type": content_type}
    if encoding is not None:
        headers["content-encoding"] = encoding
    return httpx.post(f"{url}/predict", content=body, headers=headers, timeout=60)


def assert_answered_like_the_app(response: httpx.Response, body: bytes) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    response.json()
    if REASON_HEADER in response.headers and len(body) >= 8:
        assert body not in response.content  # the front's own answers echo nothing


@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(CONTENT_TYPES),
    encoding=st.sampled_from(ENCODINGS),
)
@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
def test_raw_bodies_through_the_lambda_front_get_the_apps_json_answers(
    lambda_front: str, body: bytes, content_type: str, encoding: str | None
) -> None:
    assert_answered_like_the_app(raw_post(lambda_front, body, content_type, encoding), body)


@given(
    body=st.binary(max_size=2048),
    content_type=st.sampled_from(CONTENT_TYPES),
    encoding=st.sampled_from(ENCODINGS),
)
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_raw_bodies_through_the_k8s_service_get_the_apps_json_answers(
    k8s_front: str, body: bytes, content_type: str, encoding: str | None
) -> None:
    assert_answered_like_the_app(raw_post(k8s_front, body, content_type, encoding), body)


def test_a_valid_json_body_labelled_gzip_is_answered_as_the_app_answers_it(
    lambda_front: str, k8s_front: str
) -> None:
    # The probe's finding 3: the front answered 500 where the app answers 200.
    answers = [
        raw_post(url, b'{"text": "fine"}', "application/json", "gzip").status_code
        for url in (lambda_front, k8s_front)
    ]
    assert answers == [200, 200]


# -- listeners and environments -------------------------------------------------------------


def listening(processes: list[psutil.Process]) -> dict[str, set[str]]:
    """Each process's listening TCP addresses, by command line."""
    found: dict[str, set[str]] = {}
    for proc in processes:
        try:
            sockets = proc.net_connections(kind="inet")
            name = " ".join(proc.cmdline())[:120]
        except psutil.Error:
            continue
        addresses = {f"{c.laddr.ip}:{c.laddr.port}" for c in sockets if c.status == "LISTEN"}
        if addresses:
            found.setdefault(name, set()).update(addresses)
    return found


def platform_processes(deployment: Deployment) -> list[psutil.Process]:
    """The processes of a deployment: those carrying its owner tag, and their children."""
    owned = owned_processes(deployment.deployment_id)
    children = [child for proc in owned for child in proc.children(recursive=True)]
    return [*owned, *children]


def assert_loopback_only(found: dict[str, set[str]]) -> None:
    elsewhere = {
        name: sorted(a for a in addresses if not a.startswith(f"{LOOPBACK}:"))
        for name, addresses in found.items()
    }
    assert not any(elsewhere.values()), elsewhere


def assert_no_canary(proc: psutil.Process) -> None:
    environ = proc.environ()
    assert not set(CANARIES) & set(environ), proc.cmdline()
    assert not any(value in environ.values() for value in CANARIES.values()), proc.cmdline()


@pytest.mark.parametrize("platform", ["lambda_deployment", "k8s_deployment"])
def test_every_listener_of_a_platform_is_on_loopback_and_no_child_sees_a_secret(
    platform: str, request: pytest.FixtureRequest
) -> None:
    deployment: Deployment = request.getfixturevalue(platform)
    children = platform_processes(deployment)
    assert children, "the deployment has no running process"
    found = listening([psutil.Process(), *children])  # the fronts run in this process
    addresses = set().union(*found.values())
    # The front, and a runtime's Runtime API (in this process) or a pod (its own process).
    assert f"{LOOPBACK}:{deployment.endpoint.rsplit(':', 1)[1]}" in addresses, found
    assert len(addresses) >= 2, found
    assert_loopback_only(found)
    for child in children:
        assert_no_canary(child)
        assert child.environ()[OWNER_ENV] == deployment.deployment_id


def test_a_two_process_locust_run_listens_on_loopback_only_and_keeps_every_row(
    lambda_front: str, tmp_path: Path
) -> None:
    command = python_command(
        "-m",
        "nlp_bench_pipeline.loadgen",
        "run",
        f"--host={lambda_front}",
        "--scenario=warm_steady",
        "--profile=smoke",
        "--processes=2",
        f"--work-dir={tmp_path}",
        "--set=warmup=[{duration_s: 1, rate: 2}]",
        "--set=measure=[{duration_s: 4, rate: 5}]",
    )
    runner = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: dict[str, set[str]] = {}
    environments: dict[int, tuple[str, dict[str, str]]] = {}
    try:
        deadline = time.monotonic() + 60
        while runner.poll() is None and time.monotonic() < deadline:
            for proc in psutil.Process(runner.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    # The latest reading: until its execve a new child is still the forked
                    # starter, whose environment is its parent's (the canaries included).
                    environments[proc.pid] = (" ".join(proc.cmdline()), proc.environ())
                for name, addresses in listening([proc]).items():
                    seen.setdefault(name, set()).update(addresses)
            time.sleep(0.2)
        output, _ = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 0, output[-3000:]
    assert len(environments) >= 3, environments  # Locust's master and its two workers
    assert any("locust" in name for name in seen), seen  # the master listened for its workers
    assert_loopback_only(seen)
    for command_line, environ in environments.values():
        assert not set(CANARIES) & set(environ), command_line
    [summary_file] = tmp_path.glob(f"loadgen/*/{SUMMARY_FILE}")
    summary = RunSummary.model_validate_json(summary_file.read_text())
    assert summary.rows == summary.scheduled > 0
