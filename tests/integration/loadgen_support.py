"""Helpers for the load-generator tests: uvicorn servers on loopback, runs, and their summaries."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from nlp_bench_pipeline.loadgen import loopback, runner
from nlp_bench_pipeline.loadgen.plan import SUMMARY_FILE
from nlp_bench_pipeline.loadgen.results import RunSummary
from nlp_bench_pipeline.targets.processes import ChildProcess, free_port, python_command

# Imported as a top-level module from its folder: the endpoint needs nothing else from the
# package, and the server then starts without importing the Dagster code location.
LOOPBACK = ("--app-dir", str(Path(loopback.__file__).parent), "loopback:app")


@contextlib.contextmanager
def uvicorn_server(
    tmp_path: Path, app: tuple[str, ...] = LOOPBACK, *, env: Mapping[str, str] | None = None
) -> Iterator[str]:
    """Serve ``app`` (uvicorn arguments) on a free loopback port; yields its base URL."""
    port = free_port()
    command = python_command(
        "-m", "uvicorn", *app, "--host=127.0.0.1", f"--port={port}", "--no-access-log",
        "--log-level=warning",
    )  # fmt: skip
    child = ChildProcess.start(
        f"uvicorn-{port}", command, owner=f"loadgen-test-{port}", env=env, log_dir=tmp_path
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(url, child)
        yield url
    finally:
        child.stop(grace_s=3)


def wait_until_answering(url: str, child: ChildProcess, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"server exited:\n{child.log_tail()}")
        with contextlib.suppress(httpx.TransportError):
            httpx.get(f"{url}/arrivals", timeout=1)
            return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s")


def run_loadgen(host: str, work_dir: Path, *settings: str, processes: int = 1) -> RunSummary:
    """One repetition of warm_steady/quick reshaped by ``--set`` settings; returns its summary."""
    code = runner.main(
        [
            "run",
            f"--host={host}",
            "--scenario=warm_steady",
            "--repetition=0",
            f"--processes={processes}",
            f"--work-dir={work_dir}",
            "--target=loopback",
            *(f"--set={s}" for s in settings),
        ]
    )
    (summary_file,) = work_dir.glob(f"loadgen/*/{SUMMARY_FILE}")
    summary = RunSummary.model_validate_json(summary_file.read_text())
    assert code == 0, summary.problems
    return summary


def arrivals(url: str) -> tuple[list[float], tuple[float, float] | None]:
    """When each /predict arrived at the loopback server, and its stall window."""
    body = httpx.get(f"{url}/arrivals", timeout=5).json()
    return body["arrivals"], tuple(body["stall"]) if body["stall"] else None


def count_within(times: list[float], window: tuple[float, float]) -> int:
    return sum(window[0] <= t < window[1] for t in times)
