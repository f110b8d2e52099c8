"""``python -m nlp_bench_pipeline.loadgen``: the command line of the open-loop load generator.

This is what Dagster launches (``PipesSubprocessClient`` now, ``PipesK8sClient`` on EKS) with
``run --plan <plan.json>`` — a repetition the parent already resolved — and what a person runs
with ``run --host … --scenario …``, which resolves the plans here. It imports only
``dagster_pipes`` of Dagster (``reporting.py``); Locust runs as a supervised child
(``locust_process.py``).

A person's run is checked before it starts (nothing listening at ``--host`` is one line, exit 1)
and judged when it ends: the end-of-run table comes from the run's own rows through the store's
``run_summary`` (``run_figures``), not one success is exit 1, a crossed ``--fail-on`` threshold
exit 99. A parent's run (``--plan``, Pipes or not) keeps failed requests as data: it exits 0
unless its rows are inconsistent.

A run or a worker stops when its parent process exits (a killed pipeline): the parent's exit
becomes SIGTERM here, which unwinds the run and kills Locust's process group, so nothing goes on
sending to a platform nobody measures. While the parent lives nothing changes: every scheduled
request still gets its row.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import secrets
import socket
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import yaml

from inference_service.contract import PREDICT_PATH
from nlp_bench_pipeline.core.options import OneLineParser, number
from nlp_bench_pipeline.core.processes import signal_when_parent_exits
from nlp_bench_pipeline.core.runs import RunRecord, RunSummary
from nlp_bench_pipeline.loadgen.locust_process import run_plan, supervise, worker_command
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan, endpoint_url
from nlp_bench_pipeline.loadgen.reporting import Reporter, RunResult, open_reporter
from nlp_bench_pipeline.loadgen.scenarios import (
    PROFILES,
    ScenarioConfig,
    ScenarioError,
    load_catalog,
    load_scenario,
)
from nlp_bench_pipeline.loadgen.schedule import Segment
from nlp_bench_pipeline.store import MetricStore

PROG = "python -m nlp_bench_pipeline.loadgen"
# Exit codes of a standalone run (under Dagster Pipes failed requests are data: exit 0).
EXIT_RUN_FAILED = 1  # no request succeeded, nothing listening, or the rows are inconsistent
EXIT_USAGE = 2
EXIT_THRESHOLD = 99  # a --fail-on threshold was crossed (k6's code for the same)
CONNECT_TIMEOUT_S = 5.0
EPILOG = (
    "Exit codes of run: 0 ok; 1 nothing listening, no request succeeded or rows inconsistent; "
    "2 a usage error; 99 a --fail-on threshold was crossed. Under Dagster Pipes failed "
    "requests are data (rows in the store), not a failed run."
)

# --------------------------------------------------------------------------- thresholds

# Numeric run_summary columns a threshold may name (tests/unit/test_friendliness_loadgen.py
# checks each against the view); the percentiles' *_is_failure flags make a failed rank +inf.
THRESHOLD_METRICS = (
    *(f"{p}_ms" for p in ("p50", "p90", "p99", "p999", "max")),
    *(f"{p}_corrected_ms" for p in ("p50", "p90", "p99", "p999")),
    *(f"{p}_ok_ms" for p in ("p50", "p90", "p99", "p999", "max")),
    "p99_ok_corrected_ms",
    "send_lateness_p99_ms",
    "cold_start_p50_ms",
    "error_rate",
    "failed_share",
    "host_limited_share",
    "offered_rps",
    "throughput_rps",
    "requests",
    "ok",
    "errors",
    "dropped",
    "cold_starts",
)
SHARES = ("error_rate", "failed_share", "host_limited_share")
_THRESHOLD = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*([^%\s]+)\s*(%?)\s*$")
_COMPARE = {
    ">": lambda v, b: v > b,
    ">=": lambda v, b: v >= b,
    "<": lambda v, b: v < b,
    "<=": lambda v, b: v <= b,
}


@dataclass(frozen=True)
class Threshold:
    """``metric op bound``: the run fails when its ``run_summary`` figure satisfies it."""

    metric: str
    op: str
    bound: float
    text: str

    def crossed(self, row: Mapping[str, Any]) -> str | None:
        """Why the run crossed this threshold, or None when it did not."""
        value = row.get(self.metric)
        if _failure_flag(self.metric) and row.get(_failure_flag(self.metric)):
            return f"{self.text}: {self.metric} lands on a failed request"
        if value is None:
            return f"{self.text}: {self.metric} is empty for this run"
        if _COMPARE[self.op](float(value), self.bound):
            return f"{self.text}: {self.metric} = {float(value):g}"
        return None


def _failure_flag(metric: str) -> str | None:
    match = re.fullmatch(r"(p50|p90|p99|p999|max)(?:_corrected)?_ms", metric)
    return f"{match.group(1)}_is_failure" if match else None


def thresholds(text: str) -> list[Threshold]:
    """An argparse type: ``p99_ms>500,error_rate>0.01`` (a share also as ``1%``)."""
    found = []
    for part in (p for p in text.split(",") if p.strip()):
        match = _THRESHOLD.match(part)
        if not match:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r} is not METRIC>NUMBER (or >=, <, <=), e.g. 'p99_ms>500'"
            )
        metric, op, bound_text, percent = match.groups()
        if metric not in THRESHOLD_METRICS:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: unknown metric {metric!r}; choose from "
                f"{', '.join(THRESHOLD_METRICS)}"
            )
        try:
            bound = float(number(-1e18)(bound_text))
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{part.strip()!r}: {exc}") from None
        if percent and metric not in SHARES:
            raise argparse.ArgumentTypeError(
                f"{part.strip()!r}: only a share ({', '.join(SHARES)}) takes a percentage"
            )
        found.append(Threshold(metric, op, bound / 100 if percent else bound, part.strip()))
    if not found:
        raise argparse.ArgumentTypeError("no threshold given, e.g. 'p99_ms>500,error_rate>0.01'")
    return found


# --------------------------------------------------------------------------- command line


def build_parser() -> OneLineParser:
    parser = OneLineParser(
        prog=PROG,
        description="Open-loop load tests with Locust (see docs/adr/0030).",
        epilog=EPILOG,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="run a scenario against an endpoint",
        description="Run a scenario open loop against an endpoint; print a percentile table.",
        epilog=EPILOG,
    )
    run.add_argument(
        "--plan",
        type=Path,
        help="a plan.json written by a parent (the pipeline): run it, resolve nothing here",
    )
    _scenario_arguments(run, required=False)
    spread = run.add_mutually_exclusive_group()
    spread.add_argument(
        "--processes", type=number(1, 1024, integer=True), default=1,
        help="Locust processes on this host (default: %(default)s)",
    )  # fmt: skip
    spread.add_argument(
        "--expect-workers",
        type=number(1, 1024, integer=True),
        metavar="N",
        help="be a Locust master for N workers started elsewhere (`worker` command)",
    )
    run.add_argument(
        "--master-bind-host",
        default="127.0.0.1",
        help="0.0.0.0 to take workers from other hosts (default: %(default)s)",
    )
    run.add_argument(
        "--master-bind-port",
        type=number(1, 65535, integer=True),
        default=5557,
        help="(default: %(default)s)",
    )
    run.add_argument("--db", type=Path, help="also ingest each run into this DuckDB file")
    run.add_argument(
        "--json", action="store_true", help="print each run's summary as JSON, not the table"
    )
    run.add_argument(
        "--fail-on",
        type=thresholds,
        action="extend",
        default=[],
        metavar="METRIC>N,...",
        help="exit 99 when a run_summary figure crosses one, e.g. 'p99_ms>500,error_rate>0.01'",
    )
    worker = commands.add_parser("worker", help="a Locust worker for `run --expect-workers`")
    _scenario_arguments(worker, required=True)
    worker.add_argument("--master-host", required=True)
    worker.add_argument(
        "--master-port",
        type=number(1, 65535, integer=True),
        default=5557,
        help="(default: %(default)s)",
    )
    worker.add_argument(
        "--workers", type=number(1, 1024, integer=True), required=True,
        help="total workers of the run",
    )  # fmt: skip
    worker.add_argument(
        "--processes", type=number(1, 1024, integer=True), default=1,
        help="workers to start on this host (default: %(default)s)",
    )  # fmt: skip
    listing = commands.add_parser(
        "scenarios", help="list the scenarios, their profiles, rates and lengths"
    )
    listing.add_argument(
        "--catalog", type=Path, help="a scenario catalog YAML file (default: the built-in one)"
    )
    return parser


def _scenario_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument("--host", required=required, help="base URL, e.g. http://127.0.0.1:8000")
    parser.add_argument("--path", default=PREDICT_PATH, help="(default: %(default)s)")
    parser.add_argument("--scenario", required=required, help="see the `scenarios` command")
    parser.add_argument(
        "--profile", default="quick", choices=PROFILES, help="(default: %(default)s)"
    )
    parser.add_argument(
        "--catalog", type=Path, help="a scenario catalog YAML file (default: the built-in one)"
    )
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
        "--repetition",
        type=number(0, integer=True),
        help="run only this repetition (default: all of them)",
    )
    parser.add_argument(
        "--target",
        default="external",
        help="label for the run id and the store (default: %(default)s)",
    )
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
            problem = " ".join(str(getattr(exc, "problem", None) or "not valid YAML").split())
            raise ScenarioError(f"--set {item!r}: the value is not valid YAML ({problem})") from exc
    return overrides


def main(argv: Sequence[str] | None = None, *, default_work_dir: Path | None = None) -> int:
    """Run the command; ``default_work_dir`` is where run directories go without --work-dir."""
    parser = build_parser()
    args = parser.parse_args(argv)
    prog = f"{PROG} {args.command}"
    try:
        if args.command == "scenarios":
            print(scenario_listing(args.catalog))
            return 0
        plans = plans_from_args(args, default_work_dir=default_work_dir)
        if args.command == "worker" and len(plans) != 1:
            raise ScenarioError("a worker runs one repetition: give --repetition")
        if getattr(args, "db", None) is not None and (problem := db_problem(args.db)):
            raise ValueError(problem)
    except (ScenarioError, ValueError, OSError) as exc:
        print(f"{prog}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE
    expected_s = plans[0].scenario.duration_s + plans[0].start_lead_s
    with (
        signal_when_parent_exits(),
        open_reporter(json_output=getattr(args, "json", False), expected_s=expected_s) as reporter,
    ):
        if args.command == "worker":
            return run_worker(plans[0], args)
        checked_here = reporter.standalone and args.plan is None and args.expect_workers is None
        if checked_here and (problem := unreachable(plans[0].target_host)) is not None:
            reporter.line(f"{prog}: {problem}")
            return EXIT_RUN_FAILED
        return run_plans(plans, args, reporter)


def run_plans(plans: list[RepetitionPlan], args: argparse.Namespace, reporter: Reporter) -> int:
    """Run each repetition, report it, and decide the exit code (standalone only)."""
    spread = _spread_flags(args, plans[0])
    codes = [0]
    for plan in plans:
        if args.plan is None:
            plan.prepare()
        summary = run_plan(plan, reporter, spread, rows_here=args.expect_workers is None)
        figures, errors = (
            run_figures(summary, plan, args.db) if reporter.standalone or args.db else (None, [])
        )
        # A person's run fails on what they asked; a parent's (--plan) keeps failures as data.
        by_a_person = reporter.standalone and args.plan is None
        failures = judge(summary, figures, errors, args.fail_on) if by_a_person else []
        reporter.finished(RunResult(summary, figures, errors, [f for _, f in failures]))
        codes += [code for code, _ in failures]
        if summary.consistent is False:
            codes.append(EXIT_RUN_FAILED)
    # A broken run says more than a crossed threshold.
    return EXIT_RUN_FAILED if EXIT_RUN_FAILED in codes else max(codes)


def judge(
    summary: RunSummary,
    figures: Mapping[str, Any] | None,
    errors: Sequence[Mapping[str, Any]],
    limits: Sequence[Threshold],
) -> list[tuple[int, str]]:
    """Why a standalone run fails the command, each with its exit code (empty: it does not)."""
    prog = f"{PROG} run"
    if summary.rows and summary.ok == 0:
        return [(EXIT_RUN_FAILED, f"{prog}: {nothing_answered(summary, errors)}")]
    if figures is None:
        return []
    return [
        (EXIT_THRESHOLD, f"{prog}: --fail-on {why}")
        for why in (limit.crossed(figures) for limit in limits)
        if why is not None
    ]


def nothing_answered(summary: RunSummary, errors: Sequence[Mapping[str, Any]]) -> str:
    """One line for a run without a single success: what came back instead, and from where."""
    classes = ", ".join(f"{e['requests']} {e['error']}" for e in errors[:3])
    connection_level = all(e["outcome"] in ("connection_error", "timeout") for e in errors)
    what = "nothing answered at" if connection_level else "no request succeeded against"
    return (
        f"{what} {summary.host}: 0 ok of {summary.sent} sent"
        + (f" (measure phase: {classes})" if classes else "")
        + f"; rows in {summary.run_dir}"
    )


def unreachable(host: str, timeout_s: float = CONNECT_TIMEOUT_S) -> str | None:
    """Why nothing can be sent to ``host`` (no TCP connection), or None when something listens.

    Checked before a standalone run, so a typo in ``--host`` costs a second, not the schedule.
    """
    parts = urlsplit(host)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        return (
            f"nothing is listening at {host} ({type(exc).__name__}: {reason}); "
            "start the service, or check --host"
        )


def db_problem(db: Path) -> str | None:
    """Why ``--db`` cannot take the rows (one line naming it), or None when it can.

    Checked before any load is sent: found only after the run, a read-only path left the rows
    in Parquet and a traceback (issue 17, finding 6). The store itself is opened for writing —
    its folder made, the file created or opened, the schema brought up to date — and a file
    made in the folder beside it, where DuckDB writes its ``.wal``.
    """
    try:
        MetricStore(db).migrate()
        with tempfile.TemporaryFile(dir=db.parent):
            pass
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename and str(exc.filename) != str(db) else ""
        return f"--db {db}: cannot be written ({exc.strerror or type(exc).__name__}{where})"
    except duckdb.Error as exc:
        return f"--db {db}: cannot be written ({' '.join(str(exc).split())})"
    return None


def run_figures(
    summary: RunSummary, plan: RepetitionPlan, db: Path | None
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The run's ``run_summary`` row and ``run_errors`` rows, from its own Parquet files.

    The rows go through the store's real ingestion into ``db`` (``--db``) or a temporary
    DuckDB file, and the figures are the store's views over them: the one definition of every
    percentile (failures ranked slowest) serves the terminal, the store and the Dagster UI.
    Nothing to compute where the rows stay with remote workers or none were written.
    """
    if not summary.files:
        return None, []
    with contextlib.ExitStack() as stack:
        if db is None:
            db = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="loadgen-")))
            db = db / "run.duckdb"
        store = MetricStore(db)
        record = RunRecord.from_summary(summary, target=plan.target, provenance=plan.provenance)
        store.ingest_run(record, request_files=summary.files)
        rows = store.summary_rows([summary.run_id])
        return (rows[0] if rows else None), store.errors_by_class(summary.run_id)


def _one_line(exc: BaseException) -> str:
    """An error's message on one line (a scenario's pydantic problems come one a line)."""
    first, *rest = [line.strip().removeprefix("- ") for line in str(exc).splitlines()] or [""]
    return " ".join([first, "; ".join(line for line in rest if line)]).strip()


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
    if args.command == "worker":
        return args.workers
    return args.expect_workers or args.processes


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


# --------------------------------------------------------------------------- scenarios


def scenario_listing(catalog: Path | None) -> str:
    """Every scenario with its description, and per profile its length, rates and requests."""
    entries = load_catalog(catalog)
    source = catalog or "the built-in catalog, nlp_bench_pipeline/loadgen/scenarios.yaml"
    lines = [
        f"Scenarios in {source}; profiles {', '.join(PROFILES)} (--profile), reshaped with --set",
        "",
    ]
    for name in entries.scenarios:  # in the catalog's order
        configs = [
            load_scenario(name, profile, catalog=catalog)
            for profile in PROFILES
            if profile in entries.scenarios[name]
        ]
        lines.append(f"{name}: {configs[0].description}" if configs else name)
        table = [["  profile", "length", "requests", "measured", "reps", "in flight", "phases"]]
        table += [_profile_row(config) for config in configs]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]) - 1)]
        for row in table:
            cells = [
                cell.ljust(width) if i == 0 else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(row, widths, strict=False))
            ]
            lines.append("  ".join([*cells, row[-1]]))
        lines.append("")
    return "\n".join(lines).rstrip()


def _profile_row(config: ScenarioConfig) -> list[str]:
    schedule = config.schedule()
    phases = "; ".join(
        f"{phase} " + ", ".join(_segment(s) for s in segments)
        for phase, segments in config.phases()
    )
    return [
        f"  {config.profile}",
        f"{config.duration_s:.0f} s",
        str(len(schedule)),
        str(schedule.count("measure")),
        f"x{config.repetitions}",
        str(config.max_inflight),
        phases,
    ]


def _segment(segment: Segment) -> str:
    """``10 s at 5/s``, ``30 s ramp 1→15/s``, ``25 s idle``; uniform arrivals marked."""
    if segment.rate == 0 and segment.final_rate == 0:
        return f"{segment.duration_s:g} s idle"
    if segment.end_rate is not None and segment.end_rate != segment.rate:
        shape = f"ramp {segment.rate:g}→{segment.final_rate:g}/s"
    else:
        shape = f"at {segment.rate:g}/s"
    uniform = " uniform" if segment.arrivals == "uniform" else ""
    return f"{segment.duration_s:g} s {shape}{uniform}"


def run_worker(plan: RepetitionPlan, args: argparse.Namespace) -> int:
    """A Locust worker (or several) for a master elsewhere; its rows stay in its run directory."""
    plan.write()
    return supervise(
        worker_command(args.master_host, args.master_port, args.processes),
        plan,
        limit_s=None,  # the master decides when the run ends
        tick=lambda _: None,
    )
