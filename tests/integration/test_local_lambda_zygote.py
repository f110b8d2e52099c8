"""The zygote start mode: environments forked from one initialised process (docs/adr/0043).

The service runs with the tiny model at 3,538 MB (two torch threads, so its passes are OpenMP
parallel regions); the fork's own view of itself comes from ``echo_handler`` below, a handler
that reports its variables, descriptors and process group at call time. After every test no
process carrying the deployment's NLP_BENCH_OWNER may remain.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from nlp_bench_pipeline.core.deployments import DEFAULT_HANDLER, Deployment, DeploymentSpec
from nlp_bench_pipeline.core.processes import owned_processes
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget
from tests.process_checks import ended

pytestmark = pytest.mark.slow
ECHO = f"{__name__}.echo_handler"
TWO_THREADS_MB = 3538  # 2 vCPU: NLP_BENCH_THREADS=2
# A fork's first inference with the tiny model takes well under a second; one that hangs in a
# dead OpenMP team never answers. The bound leaves room for a busy 2-core host.
FIRST_INFERENCE_BOUND_S = 10.0
PR_GET_PDEATHSIG = 2


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """What this process is, read when it is invoked (in the fork, not at import in the zygote)."""
    time.sleep(float(json.loads(event.get("body") or "{}").get("sleep_s", 0)))
    death_signal = ctypes.c_int()
    ctypes.CDLL(None).prctl(PR_GET_PDEATHSIG, ctypes.byref(death_signal), 0, 0, 0)
    body = {
        "environ": dict(os.environ),
        "pid": os.getpid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "death_signal": death_signal.value,
        "stdout": os.readlink("/proc/self/fd/1"),
    }
    headers = {"x-nlp-bench-environment-id": os.environ.get("NLP_BENCH_ENVIRONMENT_ID", "")}
    return {"statusCode": 200, "headers": headers, "body": json.dumps(body)}


def descriptors(pid: int) -> set[str]:
    """What each of a process's descriptors refers to (``socket:[inode]``, a path, ...)."""
    targets = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            targets.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return targets


def gone_or_zombie(pid: int) -> bool:
    """A zombie waits for whoever adopted it to reap it: it no longer runs."""
    try:
        return ended(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return True


class Platform:
    def __init__(self, work_dir: Path) -> None:
        self.target = LocalLambdaTarget(work_dir=work_dir, sample_interval_s=0.5)
        self.owners: list[str] = []

    def deploy(self, handler: str, *, env: dict[str, str] | None = None, **platform: Any):
        spec = DeploymentSpec(
            target="local-lambda",
            handler=handler,
            model="tiny",
            memory_mb=TWO_THREADS_MB,
            env=env or {},
            platform={"start": "zygote", **platform},
        )
        deployment = self.target.deploy(spec)
        self.owners.append(deployment.deployment_id)
        return deployment

    def post(self, deployment: Deployment, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{deployment.endpoint}/predict", json=body, timeout=60)


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    platform = Platform(tmp_path)
    try:
        yield platform
    finally:
        platform.target.teardown()
        for owner in platform.owners:
            assert owned_processes(owner) == [], f"processes of {owner} outlived teardown"


def test_a_forked_environment_answers_its_first_inference_as_a_restore(
    platform: Platform,
) -> None:
    deployment = platform.deploy(DEFAULT_HANDLER)
    started = time.monotonic()
    first = platform.post(deployment, {"text": "a gripping, beautiful film"})
    elapsed = time.monotonic() - started
    second = platform.post(deployment, {"text": "a dull, lifeless plot"})
    assert first.status_code == 200, first.text
    assert elapsed < FIRST_INFERENCE_BOUND_S
    env_id = first.headers["x-nlp-bench-environment-id"]
    assert env_id.startswith("ee-")  # its own id, not the zygote's
    assert (first.headers["x-nlp-bench-cold-start"], second.headers["x-nlp-bench-cold-start"]) == (
        "1",
        "0",
    )
    [cold_start] = [e for e in platform.target.events() if e.kind == "cold_start"]
    assert cold_start.detail["init_type"] == "snap-start"
    assert cold_start.init_ms == pytest.approx(cold_start.detail["restore_ms"], abs=0.001)
    first_report = next(e for e in platform.target.events() if e.kind == "report")
    assert "Restore Duration: " in first_report.detail["line"]
    assert "Billed Restore Duration: " in first_report.detail["line"]
    assert "Init Duration" not in first_report.detail["line"]
    assert first_report.init_ms is None
    assert deployment.details["zygote"]["init_ms"] > 0


def test_a_zygote_that_entered_a_parallel_region_is_refused(
    platform: Platform, tmp_path: Path
) -> None:
    # The warm-up runs a two-thread forward pass in the zygote's init: its forks would hang.
    with pytest.raises(RuntimeError, match=r"Zygote\.UnsafeFork: an OpenMP parallel region"):
        platform.deploy(DEFAULT_HANDLER, env={"NLP_BENCH_WARMUP": "1"})
    [log_dir] = tmp_path.iterdir()  # one per deployment, named for its owner
    platform.owners.append(log_dir.name)


def test_each_fork_has_its_own_variables_session_log_and_none_of_the_zygotes_descriptors(
    platform: Platform,
) -> None:
    deployment = platform.deploy(ECHO, env={"NLP_BENCH_MARKER": "from-the-deployment"})
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(lambda _: platform.post(deployment, {"sleep_s": 1.0}).json(), range(2))
        )
    ids = {answer["environ"]["NLP_BENCH_ENVIRONMENT_ID"] for answer in answers}
    assert len(ids) == 2
    assert len({answer["environ"]["AWS_LAMBDA_RUNTIME_API"] for answer in answers}) == 2
    for answer in answers:
        environ = answer["environ"]
        assert environ["NLP_BENCH_MARKER"] == "from-the-deployment"
        assert environ["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
        assert environ["NLP_BENCH_OWNER"] == deployment.deployment_id
        assert "NLP_BENCH_ZYGOTE_CONTROL" not in environ  # the zygote's, not the deployment's
        assert "AWS_LAMBDA_LOG_STREAM_NAME" not in environ  # as SnapStart functions see it
        assert answer["pid"] == answer["pgid"] == answer["sid"]
        assert answer["death_signal"] == signal.SIGKILL
        assert answer["stdout"].endswith(f"{environ['NLP_BENCH_ENVIRONMENT_ID']}.log")
    # The zygote's control socket and wakeup pipe stay the zygote's: no fork holds them.
    zygote = {d for d in descriptors(deployment.details["zygote"]["pid"]) if d.endswith("]")}
    for answer in answers:
        assert descriptors(answer["pid"]) & zygote == set()


def test_a_zygote_that_dies_takes_its_environments_with_it(platform: Platform) -> None:
    deployment = platform.deploy(ECHO)
    fork_pid = platform.post(deployment, {}).json()["pid"]
    os.kill(deployment.details["zygote"]["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
        owned_processes(deployment.deployment_id) or not gone_or_zombie(fork_pid)
    ):
        time.sleep(0.05)
    assert owned_processes(deployment.deployment_id) == []  # before any teardown
    assert gone_or_zombie(fork_pid)
    after = platform.post(deployment, {})
    assert after.status_code == 502
    crashes = [e for e in platform.target.events() if e.kind == "crash"]
    assert crashes[0].environment_id == "zygote"
    assert any(e.detail.get("error_type") == "Runtime.ZygoteExited" for e in crashes)


FORK_HAZARDS_SCRIPT = """
import json, os, signal, sys
from inference_service.model import load_model
from inference_service.settings import ServiceSettings
from nlp_bench_pipeline.targets.local_lambda.zygote_runtime import fork_hazards
model = load_model(ServiceSettings(model="tiny", threads=2))
before = fork_hazards()
model.predict(["a two-thread pass enters an OpenMP parallel region"])
after = fork_hazards()
pid = os.fork()
if pid == 0:
    signal.alarm(3)  # the fork's first pass hangs; the alarm ends it
    model.predict(["the fork's first pass"])
    os._exit(0)
_, status = os.waitpid(pid, 0)
print(json.dumps({"before": before, "after": after, "fork": os.waitstatus_to_exitcode(status)}))
"""


def test_the_guard_detects_the_parallel_region_that_hangs_a_fork(model_cache: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-c", FORK_HAZARDS_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    assert result["before"] == []
    assert len(result["after"]) == 1
    assert "OpenMP parallel region was entered before fork" in result["after"][0]
    assert result["fork"] == -signal.SIGALRM  # what the guard prevents: the fork hung
