"""After its parent is killed, the load generator stops sending (issue 17, finding 11).

The runner is started by a parent process, as Dagster Pipes starts it, against the loopback
endpoint, which counts arrivals at the server. Killing the parent with SIGKILL — nothing can
unwind it — must stop the runner and every Locust process within seconds, and the endpoint must
see no request after that. Before, Locust went on sending until its schedule ended. A healthy
run (the parent lives) keeps every row: the other load-generator tests run through the same
runner and check rows = scheduled.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from nlp_bench_pipeline.loadgen.loopback import arrivals, serve
from tests.process_checks import all_ended

pytestmark = pytest.mark.slow
PARENT = """
import subprocess, sys, time
runner = subprocess.Popen(sys.argv[1:])
print(runner.pid, flush=True)
time.sleep(600)
"""


def test_killing_the_runners_parent_stops_every_request(tmp_path: Path) -> None:
    with serve(tmp_path / "logs") as url:
        command = [
            sys.executable,
            "-m",
            "nlp_bench_pipeline.loadgen",
            "run",
            f"--host={url}",
            "--scenario=warm_steady",
            "--profile=smoke",
            "--processes=2",
            f"--work-dir={tmp_path}",
            "--set=warmup=[{duration_s: 1, rate: 5}]",
            "--set=measure=[{duration_s: 60, rate: 20}]",
        ]
        parent = subprocess.Popen(
            [sys.executable, "-c", PARENT, *command], stdout=subprocess.PIPE, text=True
        )
        assert parent.stdout is not None
        runner = psutil.Process(int(parent.stdout.readline()))
        deadline = time.monotonic() + 60
        while len(arrivals(url)[0]) < 40:
            assert time.monotonic() < deadline, "Locust did not start sending"
            time.sleep(0.2)
        tree = [runner, *runner.children(recursive=True)]
        assert len(tree) >= 4  # the runner, Locust's master and its two workers
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while not all_ended(tree):
            assert time.monotonic() < deadline, [p.cmdline() for p in tree if p.is_running()]
            time.sleep(0.1)
        stopped_at = len(arrivals(url)[0])
        time.sleep(2.0)
        assert len(arrivals(url)[0]) == stopped_at  # nothing more was sent
        assert stopped_at < 20 * 30  # far short of the schedule's 1,200 requests
