"""Locust in a child process of its own, supervised: started, watched, stopped with its group.

Locust is always a child, never imported here: ``import locust`` patches the interpreter with
gevent, which breaks threads, asyncio and boto3 in whatever process does it. The child is a
``ChildProcess`` (own session, owner tag, output to ``locust.log`` in the run directory, never a
pipe nobody drains); whatever way this module's wait is left — the run's deadline, an exception,
SIGTERM from whoever runs us — the whole process group dies with it, so a cancelled run never
leaves Locust sending. Should this process die without unwinding (SIGKILL), Locust's master gets
SIGTERM from the kernel (a parent-death signal) and stops its workers itself.

Locust gets the plan's path and what a process needs (``PROCESS_ESSENTIALS``), nothing else of
this process's environment: no credentials, no Dagster Pipes variables — except, for a plan that
signs its requests with SigV4 or invokes Lambda directly, boto3's credential chain
(``launch.aws_credentials_for``). Every listener it opens
is on 127.0.0.1 unless the spread flags bind the master elsewhere (``--expect-workers`` with
``--master-bind-host``): with ``--processes N`` Locust's own default would be every interface.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from nlp_bench_pipeline.core.processes import PROCESS_ESSENTIALS, ChildProcess
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.launch import aws_credentials_for
from nlp_bench_pipeline.loadgen.repetition import (
    LOCUST_LOG_FILE,
    PLAN_ENV,
    PLAN_FILE,
    SUMMARY_FILE,
    RepetitionPlan,
    progress_file,
)
from nlp_bench_pipeline.loadgen.reporting import Reporter, RunProgress
from nlp_bench_pipeline.loadgen.results import progress_counts, summarise

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
# How often the progress files are read (they are rewritten every 2 s by each Locust process).
PROGRESS_POLL_S = 0.5
# Beyond the plan's own deadline (which already allows for the last timeout): Locust start-up.
KILL_GRACE_S = 30.0
KILLED_PAST_DEADLINE = -9
LOOPBACK = "127.0.0.1"


def locust_command(plan: RepetitionPlan, spread: Sequence[str]) -> list[str]:
    """The headless Locust command line for a plan (the locustfile reads the plan itself)."""
    users = plan.workers
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        f"--users={users}",
        f"--spawn-rate={users * 100}",  # all scheduler users at once
        f"--host={plan.target_host}",
        f"--run-time={int(plan.deadline_s) + 1}s",  # a backstop: the master quits when all are done
        "--stop-timeout=5",
        "--exit-code-on-error=0",  # failed requests are data, not a failed run
        "--only-summary",
        "--loglevel=WARNING",
        # The master of --processes N listens for its workers; a later flag in ``spread``
        # (--expect-workers with --master-bind-host) is the one that counts.
        f"--master-bind-host={LOOPBACK}",
        *spread,
    ]


def worker_command(master_host: str, master_port: int, processes: int) -> list[str]:
    """A Locust worker (or several) for a master elsewhere."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        f"--master-host={master_host}",
        f"--master-port={master_port}",
        "--loglevel=WARNING",
        *([f"--processes={processes}"] if processes > 1 else []),
    ]


def locust_env(plan_path: Path) -> dict[str, str]:
    """What Locust is given beyond ``PROCESS_ESSENTIALS``: the plan's path."""
    return {PLAN_ENV: str(plan_path)}


def run_plan(
    plan: RepetitionPlan, reporter: Reporter, spread: Sequence[str], *, rows_here: bool = True
) -> RunSummary:
    """Run one prepared repetition to the end and summarise it (also saved as JSON)."""
    scheduled = len(plan.schedule())
    reporter.line(
        f"run {plan.run_id}: {plan.scenario.name}/{plan.scenario.profile} rep {plan.repetition}, "
        f"{scheduled} requests over {plan.scenario.duration_s:.0f} s against "
        f"{plan.target_host}, {plan.workers} Locust process(es)"
    )
    started_at = datetime.now(UTC)
    limit_s = plan.deadline_s + KILL_GRACE_S
    tracker = ProgressTracker(plan, scheduled)
    returncode = supervise(
        locust_command(plan, spread),
        plan,
        limit_s=limit_s,
        tick=lambda elapsed: reporter.progress(tracker.at(elapsed)),
    )
    if returncode == KILLED_PAST_DEADLINE:
        reporter.line(f"run {plan.run_id}: Locust ran past {limit_s:.0f} s and was killed")
    summary = summarise(
        plan, started_at=started_at, finished_at=datetime.now(UTC), rows_expected_here=rows_here
    )
    if returncode != 0:
        summary.problems.append(
            f"Locust exited with {returncode}; see {plan.run_dir / LOCUST_LOG_FILE}"
        )
        summary.consistent = False
    (plan.run_dir / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2))
    return summary


class ProgressTracker:
    """The counts the Locust processes rewrite, read into a :class:`RunProgress`.

    It remembers when every request first was due, so the draining phase can say how much of
    the last request's timeout is left.
    """

    def __init__(self, plan: RepetitionPlan, scheduled: int) -> None:
        self.plan = plan
        self.scheduled = scheduled
        self.files = [progress_file(plan.run_dir, i) for i in range(plan.workers)]
        self._all_due_at: float | None = None

    def at(self, elapsed_s: float) -> RunProgress:
        counts = dict(progress_counts(self.files))
        if self._all_due_at is None and counts and counts.get("due", 0) >= self.scheduled:
            self._all_due_at = elapsed_s
        return RunProgress(
            run_id=self.plan.run_id,
            scheduled=self.scheduled,
            elapsed_s=elapsed_s,
            drain_limit_s=self.plan.scenario.timeout_s,  # the last request sent times out by then
            counts=counts,
            draining_for_s=None if self._all_due_at is None else elapsed_s - self._all_due_at,
        )


def supervise(
    command: list[str],
    plan: RepetitionPlan,
    *,
    limit_s: float | None,
    tick: Callable[[float], None],
) -> int:
    """Run Locust for ``plan``; ``tick(elapsed)`` twice a second; kill it past the limit."""
    child = ChildProcess.start(
        Path(LOCUST_LOG_FILE).stem,
        command,
        owner=f"loadgen-{plan.run_id}",
        env=locust_env(plan.run_dir / PLAN_FILE),
        log_dir=plan.run_dir,
        inherit_env=PROCESS_ESSENTIALS | aws_credentials_for(plan),
        die_with_parent=signal.SIGTERM,
    )
    started = time.monotonic()
    try:
        while True:
            try:
                return child.popen.wait(timeout=PROGRESS_POLL_S)
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                if limit_s is not None and elapsed > limit_s:
                    child.kill()
                    return KILLED_PAST_DEADLINE
                tick(elapsed)
    finally:
        if child.alive():
            child.kill()
