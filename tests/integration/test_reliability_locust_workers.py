"""Locust's forked workers stop when their master is killed (issue 17, finding 11).

With ``--processes N`` Locust's master forks its workers itself, so the death signal the runner
asks for reaches the master only. Here the master is SIGKILLed mid-run — nothing of it can
unwind or stop its workers — and every worker must be gone within seconds, and the loopback
endpoint must see no request after that. Before, the workers went on sending until their share
of the schedule ended.
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


def locust_master(runner: psutil.Process) -> psutil.Process:
    (master,) = [p for p in runner.children() if "locust" in p.cmdline()]
    return master


def test_killing_locusts_master_stops_its_forked_workers(tmp_path: Path) -> None:
    with serve(tmp_path / "logs") as url:
        runner = subprocess.Popen(
            [
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
        )
        try:
            deadline = time.monotonic() + 60
            while len(arrivals(url)[0]) < 40:
                assert time.monotonic() < deadline, "Locust did not start sending"
                time.sleep(0.2)
            master = locust_master(psutil.Process(runner.pid))
            workers = master.children()
            assert len(workers) == 2
            master.kill()
            deadline = time.monotonic() + 3  # at once: a graceful stop would take 5 s or more
            while not all_ended(workers):
                assert time.monotonic() < deadline, "a worker outlived its SIGKILLed master"
                time.sleep(0.1)
            stopped_at = len(arrivals(url)[0])
            time.sleep(2.0)
            assert len(arrivals(url)[0]) == stopped_at  # nothing more was sent
        finally:
            runner.kill()
            runner.wait(timeout=30)
