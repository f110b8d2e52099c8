"""``python -m nlp_bench_pipeline.loadgen``: run a scenario with Locust in a subprocess.

Locust is always a child process, never imported here: ``import locust`` patches the interpreter
with gevent, which breaks threads, asyncio and boto3 in whatever process does it. This runner is
what Dagster launches (``PipesSubprocessClient`` now, ``PipesK8sClient`` on EKS); it imports only
``dagster_pipes``, reports progress as Pipes log lines and each run's summary as a Pipes custom
message, and, started by hand, prints both instead. Locust's output goes to ``locust.log`` in the
run directory, never to a pipe nobody drains.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import yaml
from dagster_pipes import PipesContext, PipesEnvVarParamsLoader, open_dagster_pipes

from nlp_bench_pipeline.loadgen.launch import SUMMARY_MESSAGE
from nlp_bench_pipeline.loadgen.plan import (
    LOCUST_LOG_FILE,
    PLAN_ENV,
    SUMMARY_FILE,
    LoadPlan,
    progress_file,
    run_id_for,
)
from nlp_bench_pipeline.loadgen.results import RunSummary, progress_counts, summarise
from nlp_bench_pipeline.loadgen.scenarios import (
    PROFILES,
    ScenarioConfig,
    ScenarioError,
    load_catalog,
    load_scenario,
)
from nlp_bench_pipeline.settings import get_pipeline_settings

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
PROGRESS_EVERY_S = 5.0
# Beyond the plan's own deadline (which already allows for the last timeout): Locust start-up.
KILL_GRACE_S = 30.0
PIPES_ENV_PREFIX = "DAGSTER_PIPES_"


class Reporter(Protocol):
    def progress(self, message: str) -> None: ...

    def summary(self, summary: RunSummary) -> None: ...


class ConsoleReporter:
    """Standalone: progress lines on stderr, the summary as JSON on stdout."""

    def progress(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    def summary(self, summary: RunSummary) -> None:
        print(summary.model_dump_json(indent=2), flush=True)


class PipesReporter:
    """Under Dagster: progress to the run's log, the summary as a custom message for the asset."""

    def __init__(self, context: PipesContext) -> None:
        self.context = context

    def progress(self, message: str) -> None:
        self.context.log.info(message)

    def summary(self, summary: RunSummary) -> None:
        self.context.report_custom_message(
            {"kind": SUMMARY_MESSAGE, "summary": summary.model_dump(mode="json")}
        )


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.loadgen",
        description="Open-loop load tests with Locust (see docs/adr/0030).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario against an endpoint")
    _scenario_arguments(run)
    spread = run.add_mutually_exclusive_group()
    spread.add_argument("--processes", type=int, default=1, help="Locust processes on this host")
    spread.add_argument(
        "--expect-workers",
        type=int,
        metavar="N",
        help="be a Locust master for N workers started elsewhere (`worker` command)",
    )
    run.add_argument(
        "--master-bind-host", default="127.0.0.1", help="0.0.0.0 to take workers from other hosts"
    )
    run.add_argument("--master-bind-port", type=int, default=5557)
    run.add_argument("--db", type=Path, help="also ingest each run into this DuckDB file")
    worker = commands.add_parser("worker", help="a Locust worker for `run --expect-workers`")
    _scenario_arguments(worker)
    worker.add_argument("--master-host", required=True)
    worker.add_argument("--master-port", type=int, default=5557)
    worker.add_argument("--workers", type=int, required=True, help="total workers of the run")
    worker.add_argument("--processes", type=int, default=1, help="workers to start on this host")
    listing = commands.add_parser("scenarios", help="list the scenarios and their parameters")
    listing.add_argument("--catalog", type=Path, help="a scenario catalog YAML file")
    return parser


def _scenario_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", required=True, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--path", default="/predict")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--profile", default="quick", choices=PROFILES)
    parser.add_argument("--catalog", type=Path, help="a scenario catalog YAML file")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=YAML",
        help="override a scenario field, e.g. --set max_inflight=64 "
        "--set 'measure=[{duration_s: 10, rate: 50}]'",
    )
    parser.add_argument(
        "--repetition", type=int, help="run only this repetition (default: all of them)"
    )
    parser.add_argument("--target", default="external", help="label for the run id and the store")
    parser.add_argument("--series-id", help="shared by the repetitions (default: a timestamp)")
    parser.add_argument("--work-dir", type=Path, help="default NLP_BENCH_WORK_DIR")


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=YAML`` pairs; the value is YAML so lists and mappings can be given inline."""
    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE")
        try:
            overrides[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ScenarioError(f"--set {item!r}: the value is not valid YAML ({exc})") from exc
    return overrides


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "scenarios":
            return _list_scenarios(args.catalog)
        plans = plans_from_args(args)
        if args.command == "worker" and len(plans) != 1:
            raise ScenarioError("a worker runs one repetition: give --repetition")
    except (ScenarioError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with _reporter() as reporter:
        if args.command == "worker":
            return run_worker(plans[0], args)
        ok = True
        spread = _spread_flags(args)
        for plan in plans:
            summary = run_plan(plan, reporter, spread, rows_here=args.expect_workers is None)
            reporter.summary(summary)
            if args.db:
                _ingest_standalone(summary, args.db, args.target, reporter)
            ok = ok and summary.consistent is not False
        return 0 if ok else 1


def plans_from_args(args: argparse.Namespace) -> list[LoadPlan]:
    """Resolve and validate everything up front: a bad config fails before anything starts."""
    scenario = load_scenario(
        args.scenario, args.profile, catalog=args.catalog, overrides=parse_overrides(args.overrides)
    )
    repetitions = _repetitions(scenario, args.repetition)
    series_id = args.series_id or (
        f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"  # unique per invocation
    )
    work_dir = args.work_dir or get_pipeline_settings().work_dir
    workers = _workers(args)
    plans = []
    for repetition in repetitions:
        run_id = run_id_for(series_id, args.target, scenario.name, scenario.profile, repetition)
        plans.append(
            LoadPlan(
                run_id=run_id,
                series_id=series_id,
                host=args.host,
                path=args.path,
                scenario=scenario,
                repetition=repetition,
                workers=workers,
                run_dir=Path(work_dir) / "loadgen" / run_id,
            )
        )
    return plans


def _repetitions(scenario: ScenarioConfig, only: int | None) -> list[int]:
    if only is None:
        return list(range(scenario.repetitions))
    if not 0 <= only < scenario.repetitions:
        raise ScenarioError(
            f"--repetition {only} is outside 0..{scenario.repetitions - 1} "
            f"(scenario {scenario.name!r} has {scenario.repetitions} repetition(s))"
        )
    return [only]


def _workers(args: argparse.Namespace) -> int:
    workers = args.workers if args.command == "worker" else args.expect_workers or args.processes
    if workers < 1 or args.processes < 1:
        raise ScenarioError("--processes, --workers and --expect-workers must be at least 1")
    return workers


def _spread_flags(args: argparse.Namespace) -> list[str]:
    """Locust flags for how the schedule is spread: one process, N local, or N anywhere."""
    if args.expect_workers:
        return [
            "--master",
            f"--expect-workers={args.expect_workers}",
            f"--master-bind-host={args.master_bind_host}",
            f"--master-bind-port={args.master_bind_port}",
        ]
    return [f"--processes={args.processes}"] if args.processes > 1 else []


@contextlib.contextmanager
def _reporter() -> Iterator[Reporter]:
    if PipesEnvVarParamsLoader().is_dagster_pipes_process():
        with open_dagster_pipes() as context:
            yield PipesReporter(context)
    else:
        yield ConsoleReporter()


def _list_scenarios(catalog: Path | None) -> int:
    entries = load_catalog(catalog)
    for name in entries.names:
        for profile in PROFILES:
            if profile in entries.scenarios[name]:
                config = load_scenario(name, profile, catalog=catalog)
                schedule = config.schedule()
                print(
                    f"{name:12} {profile:5} {config.duration_s:7.0f} s  "
                    f"{len(schedule):6d} requests ({schedule.count('measure')} measured)  "
                    f"x{config.repetitions}  max_inflight={config.max_inflight}"
                )
    return 0


# --------------------------------------------------------------------------- running Locust


def locust_command(plan: LoadPlan, spread: Sequence[str]) -> list[str]:
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
        f"--host={plan.host}",
        f"--run-time={int(plan.deadline_s) + 1}s",  # a backstop: the master quits when all are done
        "--stop-timeout=5",
        "--exit-code-on-error=0",  # failed requests are data, not a failed run
        "--only-summary",
        "--loglevel=WARNING",
        *spread,
    ]


def locust_env(plan_path: Path) -> dict[str, str]:
    """The parent's environment without Dagster Pipes' variables, plus the plan's path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(PIPES_ENV_PREFIX)}
    env[PLAN_ENV] = str(plan_path)
    return env


def run_plan(
    plan: LoadPlan, reporter: Reporter, spread: Sequence[str], *, rows_here: bool = True
) -> RunSummary:
    """Run one repetition to the end and summarise it (the summary is also saved as JSON)."""
    plan.clear_earlier_attempt()
    plan_path = plan.write()
    scheduled = len(plan.schedule())
    reporter.progress(
        f"run {plan.run_id}: {plan.scenario.name}/{plan.scenario.profile} rep {plan.repetition}, "
        f"{scheduled} requests over {plan.scenario.duration_s:.0f} s against {plan.host}, "
        f"{plan.workers} Locust process(es)"
    )
    started_at = datetime.now(UTC)
    limit_s = plan.deadline_s + KILL_GRACE_S
    returncode = _run_locust(
        locust_command(plan, spread),
        locust_env(plan_path),
        plan.run_dir / LOCUST_LOG_FILE,
        limit_s=limit_s,
        tick=lambda elapsed: reporter.progress(_progress_line(plan, scheduled, elapsed)),
    )
    if returncode == -signal.SIGKILL:
        reporter.progress(f"run {plan.run_id}: Locust ran past {limit_s:.0f} s and was killed")
    summary = summarise(
        plan, started_at=started_at, finished_at=datetime.now(UTC), rows_expected_here=rows_here
    )
    if returncode != 0:
        summary.problems.append(
            f"Locust exited with {returncode}; see {plan.run_dir / LOCUST_LOG_FILE}"
        )
        summary.consistent = False
    (plan.run_dir / SUMMARY_FILE).write_text(summary.model_dump_json(indent=2))
    reporter.progress(_summary_line(summary))
    return summary


def _run_locust(
    command: list[str],
    env: dict[str, str],
    log_path: Path,
    *,
    limit_s: float | None,
    tick: Callable[[float], None],
) -> int:
    """Run Locust in its own session; ``tick(elapsed)`` every few seconds; kill it past the limit.

    Its whole process group dies with it, however this function is left — a past-deadline kill,
    an exception, or SIGTERM from whoever runs us (``__main__`` makes it SystemExit) — so a
    cancelled run never leaves Locust sending.
    """
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    started = time.monotonic()
    try:
        while True:
            try:
                return process.wait(timeout=PROGRESS_EVERY_S)
            except subprocess.TimeoutExpired:
                elapsed = time.monotonic() - started
                if limit_s is not None and elapsed > limit_s:
                    _kill_group(process)
                    return -signal.SIGKILL
                tick(elapsed)
    finally:
        if process.poll() is None:
            _kill_group(process)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)


def _progress_line(plan: LoadPlan, scheduled: int, elapsed: float) -> str:
    files = [progress_file(plan.run_dir, i) for i in range(plan.workers)]
    counts = progress_counts(files)
    done = sum(counts.get(k, 0) for k in ("ok", "http_error", "timeout", "connection_error"))
    return (
        f"run {plan.run_id}: {elapsed:.0f}/{plan.scenario.duration_s + plan.start_lead_s:.0f} s, "
        f"due {counts.get('due', 0)}/{scheduled}, sent {counts.get('sent', 0)}, done {done}, "
        f"ok {counts.get('ok', 0)}, dropped {counts.get('dropped', 0)}"
    )


def _summary_line(summary: RunSummary) -> str:
    verdict = {True: "consistent", False: "INCONSISTENT", None: "rows on the workers"}
    line = (
        f"run {summary.run_id}: {summary.rows}/{summary.scheduled} rows, ok {summary.ok}, "
        f"errors {summary.errors}, dropped {summary.dropped}, Locust counted "
        f"{summary.locust_requests} -- {verdict[summary.consistent]}"
    )
    return line + "".join(f"\n  problem: {p}" for p in summary.problems)


def run_worker(plan: LoadPlan, args: argparse.Namespace) -> int:
    """A Locust worker (or several) for a master elsewhere; its rows stay in its run directory."""
    plan_path = plan.write()
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        f"--master-host={args.master_host}",
        f"--master-port={args.master_port}",
        "--loglevel=WARNING",
        *([f"--processes={args.processes}"] if args.processes > 1 else []),
    ]
    return _run_locust(
        command,
        locust_env(plan_path),
        plan.run_dir / LOCUST_LOG_FILE,
        limit_s=None,  # the master decides when the run ends
        tick=lambda _: None,
    )


def _ingest_standalone(summary: RunSummary, db: Path, target: str, reporter: Reporter) -> None:
    """``--db``: load the run (no platform events: the endpoint is not a managed target)."""
    from nlp_bench_pipeline.store import MetricStore, RunRecord

    store = MetricStore(db)
    store.ingest_run(RunRecord.from_summary(summary, target=target), request_files=summary.files)
    row = store.summary_rows([summary.run_id])[0]
    reporter.progress(json.dumps(row, default=str, indent=2))
