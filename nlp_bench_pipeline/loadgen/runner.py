"""``python -m nlp_bench_pipeline.loadgen``: the command line of the open-loop load generator.

This is what Dagster launches (``PipesSubprocessClient`` now, ``PipesK8sClient`` on EKS) with
``run --plan <plan.json>`` — a repetition the parent already resolved — and what a person runs
with ``run --host … --scenario …``, which resolves the plans here. It imports only
``dagster_pipes`` of Dagster (``reporting.py``); Locust runs as a supervised child
(``locust_process.py``).

A run or a worker stops when its parent process exits (a killed pipeline): the parent's exit
becomes SIGTERM here, which unwinds the run and kills Locust's process group, so nothing goes on
sending to a platform nobody measures. While the parent lives nothing changes: every scheduled
request still gets its row.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from inference_service.contract import PREDICT_PATH
from nlp_bench_pipeline.core.processes import signal_when_parent_exits
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.locust_process import run_plan, supervise, worker_command
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan, endpoint_url
from nlp_bench_pipeline.loadgen.reporting import Reporter, open_reporter
from nlp_bench_pipeline.loadgen.scenarios import (
    PROFILES,
    ScenarioError,
    load_catalog,
    load_scenario,
)

# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nlp_bench_pipeline.loadgen",
        description="Open-loop load tests with Locust (see docs/adr/0030).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run a scenario against an endpoint")
    run.add_argument(
        "--plan",
        type=Path,
        help="a plan.json written by a parent (the pipeline): run it, resolve nothing here",
    )
    _scenario_arguments(run, required=False)
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
    _scenario_arguments(worker, required=True)
    worker.add_argument("--master-host", required=True)
    worker.add_argument("--master-port", type=int, default=5557)
    worker.add_argument("--workers", type=int, required=True, help="total workers of the run")
    worker.add_argument("--processes", type=int, default=1, help="workers to start on this host")
    listing = commands.add_parser("scenarios", help="list the scenarios and their parameters")
    listing.add_argument("--catalog", type=Path, help="a scenario catalog YAML file")
    return parser


def _scenario_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--host", required=required, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--path", default=PREDICT_PATH)
    parser.add_argument("--scenario", required=required)
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


def main(argv: Sequence[str] | None = None, *, default_work_dir: Path | None = None) -> int:
    """Run the command; ``default_work_dir`` is where run directories go without --work-dir."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "scenarios":
            return _list_scenarios(args.catalog)
        plans = plans_from_args(args, default_work_dir=default_work_dir)
        if args.command == "worker" and len(plans) != 1:
            raise ScenarioError("a worker runs one repetition: give --repetition")
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with signal_when_parent_exits(), open_reporter() as reporter:
        if args.command == "worker":
            return run_worker(plans[0], args)
        ok = True
        spread = _spread_flags(args, plans[0])
        for plan in plans:
            if args.plan is None:
                plan.prepare()
            summary = run_plan(plan, reporter, spread, rows_here=args.expect_workers is None)
            reporter.summary(summary)
            if args.db:
                _ingest_standalone(summary, plan, args.db, reporter)
            ok = ok and summary.consistent is not False
        return 0 if ok else 1


def plans_from_args(
    args: argparse.Namespace, *, default_work_dir: Path | None = None
) -> list[RepetitionPlan]:
    """The plans to run: the parent's ``--plan``, or resolved here from the options.

    Everything is validated up front: a bad config fails before anything starts.
    """
    if getattr(args, "plan", None) is not None:
        return [RepetitionPlan.read(args.plan)]
    if not args.host or not args.scenario:
        raise ScenarioError("give --plan, or --host and --scenario")
    host = endpoint_url(args.host)
    scenario = load_scenario(
        args.scenario, args.profile, catalog=args.catalog, overrides=parse_overrides(args.overrides)
    )
    work_dir = args.work_dir or default_work_dir
    if work_dir is None:
        raise ScenarioError("give --work-dir (or set NLP_BENCH_WORK_DIR)")
    series_id = args.series_id or (
        f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(2)}"  # unique per invocation
    )
    plans = RepetitionPlan.resolve(
        scenario,
        series_id=series_id,
        target=args.target,
        work_dir=work_dir,
        repetitions=None if args.repetition is None else [args.repetition],
        path=args.path,
        workers=_workers(args),
    )
    return [plan.aimed_at(host) for plan in plans]


def _workers(args: argparse.Namespace) -> int:
    workers = args.workers if args.command == "worker" else args.expect_workers or args.processes
    if workers < 1 or args.processes < 1:
        raise ScenarioError("--processes, --workers and --expect-workers must be at least 1")
    return workers


def _spread_flags(args: argparse.Namespace, plan: RepetitionPlan) -> list[str]:
    """Locust flags for how the schedule is spread: one process, N local, or N anywhere."""
    if args.expect_workers:
        return [
            "--master",
            f"--expect-workers={args.expect_workers}",
            f"--master-bind-host={args.master_bind_host}",
            f"--master-bind-port={args.master_bind_port}",
        ]
    return [f"--processes={plan.workers}"] if plan.workers > 1 else []


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


def run_worker(plan: RepetitionPlan, args: argparse.Namespace) -> int:
    """A Locust worker (or several) for a master elsewhere; its rows stay in its run directory."""
    plan.write()
    return supervise(
        worker_command(args.master_host, args.master_port, args.processes),
        plan,
        limit_s=None,  # the master decides when the run ends
        tick=lambda _: None,
    )


def _ingest_standalone(
    summary: RunSummary, plan: RepetitionPlan, db: Path, reporter: Reporter
) -> None:
    """``--db``: load the run (no platform events: the endpoint is not a managed target)."""
    from nlp_bench_pipeline.core.runs import RunRecord
    from nlp_bench_pipeline.store import MetricStore

    store = MetricStore(db)
    record = RunRecord.from_summary(summary, target=plan.target, provenance=plan.provenance)
    store.ingest_run(record, request_files=summary.files)
    row = store.summary_rows([summary.run_id])[0]
    reporter.progress(json.dumps(row, default=str, indent=2))
