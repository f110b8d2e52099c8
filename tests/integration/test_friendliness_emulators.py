"""The emulators' standalone commands talk: what the platform did, as its own tools show it, in
the terminal and in events.log (issue 14).

local-lambda runs the trivial handler (no model) with a concurrency limit of 1, so a second
request at once is throttled; local-k8s runs the trivial app with a 2 s "model load", so the
Service answers 503 before a pod is ready and the command says "ready" only after it is.
"""

from __future__ import annotations

import concurrent.futures
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from nlp_bench_pipeline.core.processes import free_port, owned_processes, python_command
from nlp_bench_pipeline.targets.console import EVENTS_LOG

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
TRIVIAL_HANDLER = "tests.fixtures.trivial_lambda.handler"
TRIVIAL_APP = "tests.fixtures.trivial_app:app"
REASON_HEADER = "x-nlp-bench-reason"


class Command:
    """A command whose stdout lines are read as they come, then stopped with SIGTERM."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env={**os.environ, **env}, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = 60) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.lines)
                continue
            self.lines.append(line)
            if text in line:
                return line
        pytest.fail(f"no line with {text!r} in:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=60)
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return code


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[Command]]:
    commands: list[Command] = []
    yield commands
    for command in commands:
        command.process.kill()
        command.process.wait()


def test_local_lambda_prints_report_lines_throttles_and_cold_starts(tmp_path: Path, started):
    port = free_port()
    command = Command(
        python_command(
            "-m", "nlp_bench_pipeline.targets.local_lambda", "--port", str(port),
            "--handler", TRIVIAL_HANDLER, "--set", "concurrency_limit=1",
        ),
        {"NLP_BENCH_WORK_DIR": str(tmp_path)},
    )  # fmt: skip
    started.append(command)
    endpoint, owner = command.wait_for("local-lambda endpoint: ").split()[-2:]
    command.wait_for("COLD START Init Duration: ")
    command.wait_for("START RequestId: ")
    command.wait_for("END RequestId: ")
    report = command.wait_for("REPORT RequestId: ")
    assert "\tBilled Duration: " in report
    assert "\tInit Duration: " in report  # the verification request was the cold start
    command.wait_for("ready: POST ")
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        slow = pool.submit(httpx.post, f"{endpoint}/predict", json={"sleep_s": 1.5}, timeout=30)
        time.sleep(0.5)
        throttled = httpx.post(f"{endpoint}/predict", json={}, timeout=30)
        assert slow.result().status_code == 200
    assert throttled.status_code == 500
    assert throttled.headers[REASON_HEADER] == "throttle:concurrency_limit"
    assert set(throttled.json()) == {"message"}  # API Gateway's body, the reason only in the header
    line = command.wait_for("THROTTLE 500 concurrency_limit")
    assert "concurrency limit 1" in line
    assert command.stop() == 0
    assert command.lines[-1] == "stopped; every runtime process is gone"
    assert owned_processes(owner) == []
    logged = (tmp_path / "local-lambda" / owner / EVENTS_LOG).read_text()
    assert logged.count("REPORT RequestId: ") == 2  # the verification and the slow request
    assert "THROTTLE 500 concurrency_limit" in logged


def test_local_lambda_quiet_leaves_the_per_invoke_lines_out(tmp_path: Path, started):
    command = Command(
        python_command(
            "-m", "nlp_bench_pipeline.targets.local_lambda", "--port", str(free_port()),
            "--handler", TRIVIAL_HANDLER, "-q",
        ),
        {"NLP_BENCH_WORK_DIR": str(tmp_path)},
    )  # fmt: skip
    started.append(command)
    owner = command.wait_for("local-lambda endpoint: ").split()[-1]
    command.wait_for("ready: POST ")
    assert command.stop() == 0
    assert not any("REPORT RequestId" in line for line in command.lines)
    assert any("COLD START" in line for line in command.lines)
    assert "REPORT RequestId" in (tmp_path / "local-lambda" / owner / EVENTS_LOG).read_text()


def test_local_k8s_says_ready_only_once_a_pod_is(tmp_path: Path, started):
    command = Command(
        python_command(
            "-m", "nlp_bench_pipeline.targets.local_k8s", "--app", TRIVIAL_APP,
            "--profile", "quick", "--platform", '{"pod_start_latency_s": 0.1}',
        ),
        {"NLP_BENCH_WORK_DIR": str(tmp_path), "NLP_BENCH_FAULT_LOAD_DELAY_S": "2"},
    )  # fmt: skip
    started.append(command)
    first = command.wait_for("Service listening at ")
    deployment_id, endpoint = first.split()[1], first.split()[-1]
    early = httpx.post(f"{endpoint}/predict", json={"text": "x"}, timeout=10)
    if early.status_code == 503:  # the usual case: the pod is still "loading its model"
        assert early.headers[REASON_HEADER] == "cold_start:no_ready_endpoints"
    assert command.wait_for("TYPE").split() == ["TIME", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert "Scheduled" in command.wait_for("pod/")
    ready_event = command.wait_for(" Ready ")
    assert "Readiness probe passed" in ready_event
    ready = command.wait_for("ready: ")
    assert command.lines.index(ready_event) < command.lines.index(ready)
    assert not any("serving at" in line for line in command.lines[: command.lines.index(ready)])
    assert httpx.post(f"{endpoint}/predict", json={"text": "x"}, timeout=10).status_code == 200
    assert command.stop() == 0
    assert any(" Killing " in line for line in command.lines)
    assert owned_processes(deployment_id) == []
    logged = (tmp_path / "local-k8s" / deployment_id / EVENTS_LOG).read_text()
    assert "Scheduled" in logged
    assert "Killing" in logged
