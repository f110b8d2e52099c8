"""The standalone load generator as a program: its table, its thresholds and the exit it ends with,
against nothing, against a server that only fails, and against the loopback endpoint (issue 14).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen.loopback import serve
from nlp_bench_pipeline.loadgen.runner import EXIT_RUN_FAILED, EXIT_THRESHOLD, PROG
from tests.fixtures.threaded_http import serving_in_thread

pytestmark = pytest.mark.slow
SMOKE = ("--scenario=warm_steady", "--profile=smoke", "--set=warmup=[{duration_s: 0.5, rate: 4}]")


def loadgen(
    url: str, work_dir: Path, *extra: str, timeout_s: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "nlp_bench_pipeline.loadgen", "run", f"--host={url}",
         f"--work-dir={work_dir}", *SMOKE, *extra],
        capture_output=True, text=True, timeout=timeout_s,
    )  # fmt: skip


class AlwaysUnavailable(BaseHTTPRequestHandler):
    """Every POST gets a 503, as a platform that has no capacity answers."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.send_response(503)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return


@contextlib.contextmanager
def failing_server() -> Iterator[str]:
    with serving_in_thread(AlwaysUnavailable) as url:
        yield url


def test_nothing_listening_exits_1_at_once_with_one_line(tmp_path: Path):
    started = time.monotonic()
    done = loadgen("http://127.0.0.1:9", tmp_path)
    assert done.returncode == EXIT_RUN_FAILED
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"{PROG} run: nothing is listening at http://127.0.0.1:9 (")
    assert time.monotonic() - started < 15  # before the schedule, not after it
    assert not (tmp_path / "loadgen").exists()


def test_a_server_that_answers_nothing_but_errors_fails_the_run_and_says_so(tmp_path: Path):
    with failing_server() as url:
        done = loadgen(url, tmp_path, "--set=measure=[{duration_s: 2, rate: 5}]")
    assert done.returncode == EXIT_RUN_FAILED, done.stderr
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .startswith(f"{PROG} run: no request succeeded against {url}: 0 ok of ")
    )
    assert "HTTP 503" in done.stderr.strip().splitlines()[-1]
    assert "errors by class (measure phase):" in done.stdout
    assert "HTTP 503" in done.stdout


def test_a_p99_over_its_fail_on_threshold_exits_99_and_the_table_shows_it(tmp_path: Path):
    with serve(tmp_path / "logs", stall_after_s=1.0, stall_s=0.8) as url:
        done = loadgen(
            url, tmp_path, "--set=measure=[{duration_s: 3, rate: 10}]",
            "--fail-on=p99_ms>500,error_rate>1%",
        )  # fmt: skip
    assert done.returncode == EXIT_THRESHOLD, done.stdout + done.stderr
    [crossed] = [line for line in done.stderr.splitlines() if "--fail-on" in line]
    assert crossed.startswith(f"{PROG} run: --fail-on p99_ms>500: p99_ms = ")
    table = done.stdout.splitlines()
    assert any(line.split()[:3] == ["latency", "ms", "p50"] for line in table)
    every = next(line for line in table if line.startswith("every request, from send"))
    assert float(every.split()[6].replace(",", "")) > 500  # the p99 column
    assert "offered" in done.stdout
    assert "throughput" in done.stdout


def test_json_prints_the_summary_with_its_figures_and_a_healthy_run_exits_0(tmp_path: Path):
    with serve(tmp_path / "logs") as url:
        done = loadgen(url, tmp_path, "--set=measure=[{duration_s: 2, rate: 10}]", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["consistent"] is True
    assert summary["figures"]["requests"] == summary["scheduled_measure"]
    assert summary["figures"]["p99_ms"] is not None
    assert summary["failures"] == []
    assert "consistent" in done.stderr  # the one-line summary goes to stderr beside the JSON
