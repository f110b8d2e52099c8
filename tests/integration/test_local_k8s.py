"""The local-k8s target with real pod processes on loopback (the trivial app, shortened timers).

Timings are asserted with generous margins only: the suite shares two cores with others.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.core.processes import owned_processes, python_command
from nlp_bench_pipeline.core.records import PlatformEvent, utcnow
from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.local_k8s import LocalK8sTarget

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TRIVIAL_APP = "tests.fixtures.trivial_app:app"
SYNC_S = 1.0
SAMPLE_S = 0.25
FAST: dict[str, Any] = {
    "startup_probe": {"periodSeconds": 0.1},
    "readiness_probe": {"periodSeconds": 0.2},
    "liveness_probe": {"periodSeconds": 0.5, "timeoutSeconds": 1.0, "failureThreshold": 3},
    "pod_start_latency_s": 0.1,
    "termination_grace_period_s": 2.0,
    "restart_backoff_s": 0.2,
    "sample_interval_s": SAMPLE_S,
    "nodes": {"pods_per_node": 8},
    "hpa": {"sync_period_s": SYNC_S, "scale_down_stabilization_s": 3.0},
}


def spec(
    replicas: int = 1,
    max_replicas: int | None = None,
    env: dict[str, str] | None = None,
    platform: dict[str, Any] | None = None,
    **fields: Any,
) -> DeploymentSpec:
    knobs = {**FAST, **(platform or {})}
    return DeploymentSpec(
        target="local-k8s",
        app=TRIVIAL_APP,
        model=fields.pop("model", "v1"),
        env=env or {},
        cpu=fields.pop("cpu", ResourceQuantity(request=0.5, limit=1.0)),
        min_replicas=replicas,
        max_replicas=max_replicas or replicas,
        platform=knobs,
        **fields,
    )


@pytest.fixture
def k8s(tmp_path: Path) -> Iterator[LocalK8sTarget]:
    """A target that is always torn down, leaving no process with its owner tag."""
    target = LocalK8sTarget(work_dir=tmp_path)
    yield target
    deployment = target.deployment
    target.teardown()
    if deployment is not None:
        assert owned_processes(deployment.deployment_id) == []


@dataclass(frozen=True)
class Outcome:
    sent: float
    done: float
    status: int | None  # None: connection error
    pod: str | None
    model: str | None


class Load:
    """Closed-loop keep-alive clients on threads; every request's outcome is kept."""

    def __init__(self, url: str, clients: int) -> None:
        self.url = url
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)

    def _client(self) -> None:
        with httpx.Client(base_url=self.url, timeout=20) as client:
            while not self._stop.is_set():
                self.outcomes.append(request(client))

    def since(self, at: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.sent >= at]


def request(client: httpx.Client) -> Outcome:
    sent = time.monotonic()
    try:
        response = client.post("/predict", json={"text": "a fine film"})
    except httpx.TransportError:
        return Outcome(sent, time.monotonic(), None, None, None)
    model = response.json().get("model", {}).get("id") if response.status_code == 200 else None
    pod = response.headers.get("x-nlp-bench-environment-id")
    return Outcome(sent, time.monotonic(), response.status_code, pod, model)


def wait_for(condition: Callable[[], Any], timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def first_event(target: LocalK8sTarget, kind: str, since: datetime | None = None) -> PlatformEvent:
    return wait_for(
        lambda: next((e for e in target.events(since) if e.kind == kind), None), 20, kind
    )


def seconds_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()


def test_local_k8s_target_implements_the_target_protocol(k8s: LocalK8sTarget) -> None:
    assert isinstance(k8s, Target)
    assert k8s.name == "local-k8s"


def test_service_answers_503_until_a_pod_is_ready(k8s: LocalK8sTarget) -> None:
    deployment = k8s.deploy(spec(env={"NLP_BENCH_FAULT_LOAD_DELAY_S": "1.5"}))
    with httpx.Client(base_url=deployment.endpoint) as client:
        early = client.post("/predict", json={"text": "x"})
        assert early.status_code == 503
        assert early.json() == {"message": "Service Unavailable", "detail": "no ready endpoints"}
        k8s.wait_ready(timeout_s=30)
        assert client.post("/predict", json={"text": "x"}).status_code == 200
    ready = first_event(k8s, "pod_ready")
    assert ready.detail["model_load_ms"] == pytest.approx(1500)
    assert ready.init_ms is not None
    assert ready.init_ms >= 1500


def test_requests_spread_evenly_over_ready_pods_under_keep_alive(k8s: LocalK8sTarget) -> None:
    deployment = k8s.deploy(spec(replicas=3))
    k8s.wait_ready(timeout_s=30)
    counts: collections.Counter[str | None] = collections.Counter()
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(base_url=deployment.endpoint) as keep_alive:
            for _ in range(40):
                outcome = request(keep_alive)
                assert outcome.status == 200
                with lock:
                    counts[outcome.pod] += 1

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(counts) == {p.name for p in k8s.pods()}
    even = 160 / 3
    assert all(0.75 * even <= n <= 1.25 * even for n in counts.values()), counts


def test_deploy_is_idempotent_for_the_same_spec(k8s: LocalK8sTarget) -> None:
    first = k8s.deploy(spec(replicas=2))
    k8s.wait_ready(timeout_s=30)
    pods = k8s.pods()
    assert k8s.deploy(spec(replicas=2)) == first
    assert k8s.pods() == pods


def test_every_pod_has_resource_samples(k8s: LocalK8sTarget) -> None:
    k8s.deploy(spec(replicas=2))
    k8s.wait_ready(timeout_s=30)
    names = {p.name for p in k8s.pods()}
    wait_for(lambda: names <= {s.environment_id for s in k8s.samples()}, 5, "samples")
    assert all(s.rss_mb > 0 for s in k8s.samples())


def test_hpa_scales_out_on_requests_in_flight_within_one_sync_period(
    k8s: LocalK8sTarget,
) -> None:
    deployment = k8s.deploy(
        spec(
            replicas=1,
            max_replicas=3,
            env={"TRIVIAL_APP_DELAY_MS": "100"},
            platform={"hpa": {**FAST["hpa"], "metric": "inflight", "target": 1}},
        )
    )
    k8s.wait_ready(timeout_s=30)
    load_started = utcnow()
    with Load(deployment.endpoint, clients=4):
        scale_out = first_event(k8s, "scale_out", since=load_started)
    assert seconds_between(load_started, scale_out.at) <= SYNC_S + SAMPLE_S + 1.5
    assert scale_out.detail["from_replicas"] == 1
    assert scale_out.detail["to_replicas"] >= 2
    assert scale_out.detail["metric"] == "inflight"
    assert scale_out.detail["metric_value"] > 1.1


def test_hpa_scales_in_only_after_the_stabilisation_window(k8s: LocalK8sTarget) -> None:
    window_s = FAST["hpa"]["scale_down_stabilization_s"]
    deployment = k8s.deploy(
        spec(
            replicas=1,
            max_replicas=2,
            env={"TRIVIAL_APP_DELAY_MS": "100"},
            platform={"hpa": {**FAST["hpa"], "metric": "inflight", "target": 1}},
        )
    )
    k8s.wait_ready(timeout_s=30)
    with Load(deployment.endpoint, clients=4):
        first_event(k8s, "scale_out")
    load_stopped = utcnow()
    scale_in = first_event(k8s, "scale_in")
    # The last high recommendation came at the latest one sync after the load stopped, and at
    # the earliest one sync before; the scale-in waits a full window after it.
    assert seconds_between(load_stopped, scale_in.at) >= window_s - SYNC_S
    assert (scale_in.detail["from_replicas"], scale_in.detail["to_replicas"]) == (2, 1)
    killed = first_event(k8s, "pod_killed", since=scale_in.at)
    assert killed.detail["reason"] == "scaled in"


def test_hpa_on_cpu_scales_out_when_pods_burn_cpu(k8s: LocalK8sTarget) -> None:
    deployment = k8s.deploy(
        spec(
            replicas=1,
            max_replicas=2,
            env={"TRIVIAL_APP_CPU_MS": "20"},
            cpu=ResourceQuantity(request=0.25, limit=0.5),
            platform={"hpa": {**FAST["hpa"], "metric": "cpu", "target": 50}},
        )
    )
    k8s.wait_ready(timeout_s=30)
    with Load(deployment.endpoint, clients=3):
        scale_out = first_event(k8s, "scale_out")
    assert scale_out.detail["metric"] == "cpu"
    assert scale_out.detail["metric_value"] > 55  # percent of the 0.25-core request
    assert scale_out.detail["to_replicas"] == 2


def test_scale_out_beyond_node_capacity_waits_for_the_node_add_delay(
    k8s: LocalK8sTarget,
) -> None:
    delay_s = 1.5
    nodes = {"pods_per_node": 1, "initial_nodes": 1, "add_delay_s": delay_s}
    k8s.deploy(spec(replicas=1, platform={"nodes": nodes}))
    k8s.wait_ready(timeout_s=30)
    scaled_at = utcnow()
    k8s.deploy(spec(replicas=2, platform={"nodes": nodes}))
    k8s.wait_ready(timeout_s=30)
    node = first_event(k8s, "node_added", since=scaled_at)
    scheduled = first_event(k8s, "pod_scheduled", since=scaled_at)
    assert node.duration_ms == pytest.approx(delay_s * 1000)
    assert scheduled.detail["node"] == node.environment_id
    assert scheduled.detail["pending_ms"] >= delay_s * 1000
    assert seconds_between(scaled_at, scheduled.at) >= delay_s


def test_sigkilled_pod_loses_only_its_in_flight_requests_and_restarts(
    k8s: LocalK8sTarget,
) -> None:
    clients = 4
    deployment = k8s.deploy(spec(replicas=2, env={"TRIVIAL_APP_DELAY_MS": "50"}))
    k8s.wait_ready(timeout_s=30)
    victim = k8s.pods()[0]
    assert victim.pid is not None
    with Load(deployment.endpoint, clients=clients) as load:
        time.sleep(0.5)
        killed_at = time.monotonic()
        os.killpg(victim.pid, signal.SIGKILL)
        restarted = first_event(k8s, "pod_restarted")
        k8s.wait_ready(timeout_s=30)
        back_at = time.monotonic()
        time.sleep(0.5)
    failures = [o for o in load.outcomes if o.status != 200]
    assert len(failures) <= clients  # at most one request in flight per client
    # 502: the request had reached the pod. SIGKILL lands asynchronously: allow a moment.
    assert all(o.status == 502 and o.sent < killed_at + 0.25 for o in failures), failures
    assert all(o.status == 200 for o in load.since(back_at))
    assert victim.name in {o.pod for o in load.since(back_at)}
    assert restarted.environment_id == victim.name
    assert restarted.detail["restart_count"] == 1
    crash = first_event(k8s, "crash")
    assert crash.detail["exit_code"] == -signal.SIGKILL


def test_hung_pod_fails_liveness_and_is_restarted(k8s: LocalK8sTarget) -> None:
    platform = {
        "liveness_probe": {"periodSeconds": 0.3, "timeoutSeconds": 0.5, "failureThreshold": 2},
        "termination_grace_period_s": 0.5,  # SIGTERM cannot stop a blocked loop: SIGKILL soon
    }
    deployment = k8s.deploy(
        spec(replicas=1, env={"NLP_BENCH_FAULT_HANG_ON_REQUEST": "2"}, platform=platform)
    )
    k8s.wait_ready(timeout_s=30)
    with httpx.Client(base_url=deployment.endpoint, timeout=30) as client:
        assert client.post("/predict", json={"text": "x"}).status_code == 200
        hung = client.post("/predict", json={"text": "x"})
        assert hung.status_code == 502  # the pod was killed under the request
        killed = first_event(k8s, "pod_killed")
        assert killed.detail["reason"] == "liveness probe failed"
        restarted = first_event(k8s, "pod_restarted")
        assert restarted.detail["restart_count"] == 1
        k8s.wait_ready(timeout_s=30)
        assert client.post("/predict", json={"text": "x"}).status_code == 200
    assert k8s.pods()[0].restarts == 1


def test_rolling_update_under_load_loses_no_request(k8s: LocalK8sTarget) -> None:
    deployment = k8s.deploy(spec(replicas=2, model="v1", env={"TRIVIAL_APP_DELAY_MS": "20"}))
    k8s.wait_ready(timeout_s=30)
    old_pods = {p.name for p in k8s.pods()}
    with Load(deployment.endpoint, clients=3) as load:
        time.sleep(0.3)
        k8s.deploy(spec(replicas=2, model="v2", env={"TRIVIAL_APP_DELAY_MS": "20"}))
        k8s.wait_ready(timeout_s=60)
        time.sleep(0.3)
    assert load.outcomes
    assert all(o.status == 200 for o in load.outcomes)
    models = [o.model for o in sorted(load.outcomes, key=lambda o: o.done)]
    assert models[0] == "v1"
    assert models[-1] == "v2"
    new_pods = {p.name for p in k8s.pods()}
    assert len(new_pods) == 2
    assert not new_pods & old_pods
    rolled = [e for e in k8s.events() if e.kind == "pod_killed"]
    assert {e.detail["reason"] for e in rolled} == {"rolling update"}


def test_a_pod_batches_and_answers_malformed_http_with_the_services_json_400(
    k8s: LocalK8sTarget,
) -> None:
    k8s.deploy(spec(env={"NLP_BENCH_BATCH_MAX_WAIT_MS": "1"}))
    k8s.wait_ready(timeout_s=30)
    (pod,) = k8s.pods()
    assert pod.pid is not None
    environ = psutil.Process(pod.pid).environ()
    assert environ["NLP_BENCH_BATCH_MAX_SIZE"] == "8"  # the target's default for pods
    assert environ["NLP_BENCH_BATCH_MAX_WAIT_MS"] == "1"  # the spec's env wins
    with socket.create_connection(("127.0.0.1", pod.port), timeout=5) as conn:
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert b"content-type: application/json" in head.lower()
    assert json.loads(body)["message"] == "malformed HTTP request"
    assert b"NOT HTTP" not in answer


def test_command_line_serves_until_interrupted_and_leaves_no_process(tmp_path: Path) -> None:
    command = python_command(
        "-m", "nlp_bench_pipeline.targets.local_k8s", "--replicas", "1", "--app", TRIVIAL_APP
    )
    command += ["--preset", "quick", "--platform", '{"pod_start_latency_s": 0.1}']
    env = {**os.environ, "NLP_BENCH_WORK_DIR": str(tmp_path)}
    cli = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert cli.stdout is not None
        first_line = cli.stdout.readline()
        deployment_id, endpoint = first_line.split()[1], first_line.split()[-1]
        with httpx.Client(base_url=endpoint) as client:
            wait_for(lambda: request(client).status == 200, 30, "a ready pod")
        assert owned_processes(deployment_id)
        cli.send_signal(signal.SIGINT)
        assert cli.wait(timeout=30) == 0
    finally:
        cli.kill()
    assert owned_processes(deployment_id) == []


@pytest.mark.full_model
def test_full_size_model_pod_turns_ready_and_classifies(k8s: LocalK8sTarget) -> None:
    probes = {"periodSeconds": 1.0, "timeoutSeconds": 3.0, "failureThreshold": 5}
    deployment = k8s.deploy(
        DeploymentSpec(
            target="local-k8s",
            model="synthetic",
            platform={**FAST, "liveness_probe": probes},
        )
    )
    k8s.wait_ready(timeout_s=240)
    response = httpx.post(
        f"{deployment.endpoint}/predict", json={"text": "a gripping, beautiful film"}, timeout=60
    )
    assert response.status_code == 200
    body = response.json()
    assert body["predictions"][0]["label"] in ("POSITIVE", "NEGATIVE")
    assert body["model"]["accuracy_meaningful"] is False
    assert response.headers["x-nlp-bench-environment-id"] == k8s.pods()[0].name
    ready = first_event(k8s, "pod_ready")
    assert ready.detail["model_load_ms"] > 0
    assert ready.init_ms is not None
    assert ready.init_ms > ready.detail["model_load_ms"]
