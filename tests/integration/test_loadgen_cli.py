"""The runner as a program: standalone with ingestion; cancelled, it leaves no Locust behind."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from nlp_bench_pipeline.loadgen.loopback import serve
from nlp_bench_pipeline.loadgen.repetition import PLAN_ENV
from nlp_bench_pipeline.store import MetricStore

pytestmark = pytest.mark.slow


def runner_command(url: str, work_dir: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "nlp_bench_pipeline.loadgen", "run", f"--host={url}",
        "--scenario=warm_steady", "--repetition=0", f"--work-dir={work_dir}", "--series-id=cli",
        *extra,
    ]  # fmt: skip


def test_standalone_run_prints_its_summary_and_ingests_into_duckdb(tmp_path: Path):
    db = tmp_path / "metrics.duckdb"
    with serve(tmp_path) as url:
        done = subprocess.run(
            runner_command(
                url, tmp_path, f"--db={db}", "--json",
                "--set=warmup=[{duration_s: 0.5, rate: 20}]",
                "--set=measure=[{duration_s: 1, rate: 50}]",
            ),
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["consistent"] is True
    assert "consistent" in done.stderr  # progress and the summary line go to stderr
    (row,) = MetricStore(db).summary_rows([summary["run_id"]])
    assert row["requests"] == summary["scheduled_measure"]
    assert row["target"] == "external"


def locust_processes(plan_path: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(PLAN_ENV) == str(plan_path):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_terminated_runner_takes_locust_down_with_it(tmp_path: Path):
    with serve(tmp_path) as url:
        long_run = runner_command(
            url, tmp_path, "--processes=2", "--set=measure=[{duration_s: 60, rate: 5}]"
        )
        runner = subprocess.Popen(long_run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while not list(tmp_path.glob("loadgen/*/progress-w*.json")):
                assert time.monotonic() < deadline, "Locust never started sending"
                time.sleep(0.2)
            plan_path = next(tmp_path.glob("loadgen/*/plan.json"))
            assert len(locust_processes(plan_path)) == 3  # master and two workers
            runner.send_signal(signal.SIGTERM)
            assert runner.wait(timeout=30) == 128 + signal.SIGTERM
            _, alive = psutil.wait_procs(locust_processes(plan_path), timeout=10)
            assert alive == []
        finally:
            runner.kill()
            runner.wait()
