"""``nlp-bench bench``: the whole pipeline through Dagster, one run per stage and per cell.

The runs execute one after another in the project's ``DAGSTER_HOME``, so every run shows in the
UI afterwards; then a summary table is printed. What can go wrong is handled before or as it
happens (issue 17, docs/reliability.md):

- every setting is checked first (``preflight.py``): a bad one is one line and exit 2, before the
  Dagster home, the DuckDB file or any process is touched;
- runs left behind by a killed earlier ``bench`` (owner process gone) are marked failed and their
  pool slots freed, so they cannot block this one; each run here carries this process's
  identity in its tags, so a later ``bench`` can do the same for it;
- a failed build stops everything with one line (nothing would work without the model); a
  failed deployment skips that target's cells; a failed cell does not stop the others, and the
  summaries still run over the good ones;
- SIGINT or SIGTERM stops the command, even while a run waits for a pool slot.

After the cells comes the peak-rate search (docs/peak.md; a smoke bench skips it). Then a bench
with AWS targets tears down what is left of their deployments, a line
per resource (each cell removes its own; ``--keep`` instead deploys each AWS target once more
and leaves it up until its expiry). Then come the summaries, the economics (prices, costs, the
memory sweep, the scale simulation) and the report; the report's path is the last line printed.
A bench that ran no ``warm_steady`` cell (the scenario the costs price) skips the economics
with a line saying so.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import signal
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

from nlp_bench_pipeline.cli.dagster_home import (
    ensure_dagster_home,
    owner_tags,
    recover_abandoned_runs,
)
from nlp_bench_pipeline.cli.preflight import PreflightFailed, preflight
from nlp_bench_pipeline.cli.results import print_summary
from nlp_bench_pipeline.core.processes import ProcessIdentity
from nlp_bench_pipeline.core.records import LOCAL_TARGETS
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.store.database import MetricStore

if TYPE_CHECKING:
    from dagster import DagsterInstance, ExecuteInProcessResult

    from nlp_bench_pipeline.bench.plan import Cell

PROG = "nlp-bench bench"
# The terminal shows the runs' INFO lines (progress, summaries) and above, not Dagster's DEBUG
# event stream; every event is still in the run's log in the UI.
CONSOLE_INFO = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(
        "bench", help="materialise the whole pipeline, then print a summary"
    )
    bench.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    bench.add_argument("--targets", help="comma-separated; default NLP_BENCH_TARGETS")
    bench.add_argument("--scenarios", help="comma-separated; default NLP_BENCH_SCENARIOS")
    bench.add_argument("--model", help="an NLP_BENCH_MODEL value; default synthetic")
    bench.add_argument("--skip-deploy", action="store_true", help="skip the deployment stage")
    bench.add_argument(
        "--keep",
        action="store_true",
        help="AWS targets: after the cells, deploy each once more and leave it up (until its "
        "expiry) instead of tearing down what is left",
    )
    bench.set_defaults(handler=bench_command)


def _apply_options(args: argparse.Namespace) -> None:
    """Command-line options become the NLP_BENCH_* defaults the resources are built from."""
    from nlp_bench_pipeline.settings import get_pipeline_settings

    for option, variable in (
        ("profile", "NLP_BENCH_PROFILE"),
        ("targets", "NLP_BENCH_TARGETS"),
        ("scenarios", "NLP_BENCH_SCENARIOS"),
        ("model", "NLP_BENCH_MODEL"),
    ):
        value = getattr(args, option)
        if value:
            os.environ[variable] = value
    get_pipeline_settings.cache_clear()


@dataclass(frozen=True)
class Stage:
    """One Dagster run of ``bench``: a job, and the partition it materialises."""

    job: str
    partition: str | None = None
    target: str | None = None  # the target a deploy or cell stage belongs to
    skip: str | None = None  # why this stage has nothing to do in this bench (not a failure)
    run_config: Mapping[str, Any] | None = None  # beside the console's, e.g. an op's config

    @property
    def label(self) -> str:
        return self.job + (f" [{self.partition}]" if self.partition else "")


def bench_command(args: argparse.Namespace) -> int:
    """Check, build, deploy each target, run every enabled cell, summarise; one run each."""
    _apply_options(args)
    try:
        checked = preflight()
    except PreflightFailed as failed:
        for problem in failed.problems:
            print(f"{PROG}: {problem}", file=sys.stderr)
        return 2
    home = ensure_dagster_home()
    import dagster as dg

    instance = dg.DagsterInstance.get()
    settings = checked.settings

    def store_killed_cell(run: dg.DagsterRun) -> list[str]:
        """A cell killed mid-run: its repetitions without a row are stored as failed runs."""
        if run.job_name != "benchmark_cell":
            return []
        from nlp_bench_pipeline.bench.cell import store_abandoned_repetitions

        stored = store_abandoned_repetitions(
            MetricStore(settings.db),
            settings.work_dir,
            run.run_id,
            "abandoned: the bench running it was killed mid-cell (its rows were not ingested)",
        )
        return [f"run {run_id}: stored as a failed run (killed mid-cell)" for run_id in stored]

    for line in recover_abandoned_runs(instance, store_killed_cell):
        print(f"{PROG}: {line}", flush=True)
    plan = checked.plan
    print(
        f"nlp-bench: {len(plan.cells())} cells, profile {plan.profile}, model {plan.model}, "
        f"Dagster home {home}",
        flush=True,
    )
    stages = [Stage("build")]
    if not args.skip_deploy:
        stages += [Stage("deploy", target, target) for target in plan.targets]
    stages += [
        Stage(
            "benchmark_cell",
            str(dg.MultiPartitionKey({"target": c.target, "scenario": c.scenario})),
            c.target,
        )
        for c in plan.cells()
    ]
    stages.append(_peak_stage(plan.profile))
    stages += cloud_stages(plan.targets, keep=args.keep)
    stages += [Stage("summaries"), _economics_stage(plan.cells()), Stage("report")]
    started = time.monotonic()
    with StageInterrupts(instance) as interrupts:
        try:
            outcome = _run_stages(stages, instance, interrupts)
        except KeyboardInterrupt:
            outcome = Outcome(128 + (interrupts.received or signal.SIGINT), summarise=False)
    if outcome.code > 128:
        print(f"{PROG}: interrupted; later stages were not run", file=sys.stderr)
        if not args.keep and (cloud := [t for t in plan.targets if t not in LOCAL_TARGETS]):
            print(
                f"{PROG}: what {', '.join(cloud)} left stays up until its expiry: "
                "`nlp-bench teardown --all` removes it now",
                file=sys.stderr,
            )
    if outcome.summarise:
        db = checked.settings.db
        print_summary(MetricStore(db).latest_summary_rows(plan.profile))
        print(f"\nDuckDB file: {db}")
        elapsed = time.monotonic() - started
        print(f"Runs: `make ui`, then http://127.0.0.1:3000/runs  ({elapsed:.0f} s)")
        report = checked.settings.report_dir / "index.html"
        if report.is_file():
            print(f"Report: {report}")
    return outcome.code


def cloud_stages(targets: list[str], *, keep: bool) -> list[Stage]:
    """After the cells: the plan's AWS deployments torn down, or (``keep``) deployed once more
    and left up — every cell removes its own, so nothing would be up otherwise. The local
    targets leave nothing: their deploy stage and every cell tear down as they go."""
    from nlp_bench_pipeline.defs.bench.teardown import JOB_NAME, OP_NAME

    cloud = [t for t in targets if t not in LOCAL_TARGETS]
    if not cloud:
        return []
    if not keep:
        return [Stage(JOB_NAME)]
    listing = {"ops": {OP_NAME: {"config": {"keep": True}}}}
    return [*(Stage("deploy", t, t) for t in cloud), Stage(JOB_NAME, run_config=listing)]


def _peak_stage(profile: str) -> Stage:
    """The peak-rate search after the cells (quick: one warmed series per target at the plan's
    size; full: every size and both policies); a smoke bench, for tests, searches nothing."""
    if profile == "smoke":
        return Stage("peak", skip="a smoke bench runs no peak search (nlp-bench peak does)")
    return Stage("peak")


def _economics_stage(cells: list[Cell]) -> Stage:
    """The economics price the priced scenario's runs; a bench that ran none has none to price."""
    from nlp_bench_pipeline.defs.economics.assets import CostEstimatesConfig

    priced = CostEstimatesConfig().scenario
    if any(cell.scenario == priced for cell in cells):
        return Stage("economics")
    return Stage("economics", skip=f"the costs price {priced} runs and this bench ran none")


@dataclass(frozen=True)
class Outcome:
    """How ``bench`` ends: its exit code, and whether there are results to summarise."""

    code: int
    summarise: bool = True


def _run_stages(
    stages: list[Stage], instance: DagsterInstance, interrupts: StageInterrupts
) -> Outcome:
    """Run ``stages`` in order under the stop rules (see the module's docstring)."""
    from nlp_bench_pipeline.definitions import defs

    tags = owner_tags(ProcessIdentity.current())
    failures: list[str] = []
    unmet: list[str] = []
    broken_targets: set[str] = set()
    for stage in stages:
        if stage.job == "benchmark_cell" and stage.target in broken_targets:
            print(f"==> {stage.label}\n    skipped: {stage.target} did not deploy", flush=True)
            failures.append(f"{stage.label} (skipped)")
            continue
        print(f"==> {stage.label}", flush=True)
        if stage.skip:
            print(f"    skipped: {stage.skip}", flush=True)
            continue
        run_id = str(uuid.uuid4())
        interrupts.watch(run_id)
        result = defs.resolve_job_def(stage.job).execute_in_process(
            run_config={**CONSOLE_INFO, **(stage.run_config or {})},
            instance=instance,
            partition_key=stage.partition,
            raise_on_error=False,
            run_id=run_id,
            tags=tags,
        )
        interrupts.run_id = None
        if interrupts.received:
            return Outcome(128 + interrupts.received, summarise=False)
        failed_checks = sorted(
            e.check_name for e in result.get_asset_check_evaluations() if not e.passed
        )
        verdict = "ok" if result.success else "FAILED"
        if failed_checks:
            verdict += f" (not met: {', '.join(failed_checks)})"
            unmet.append(f"{stage.partition}: {', '.join(failed_checks)}")
        print(f"    {verdict}  run {result.run_id}", flush=True)
        if result.success:
            for line in _teardown_lines(stage, result):
                print(f"    {line}", flush=True)
            continue
        reason = failure_line(result)
        if stage.job == "build":
            print(f"{PROG}: the build failed, so nothing else ran: {reason}", file=sys.stderr)
            return Outcome(1, summarise=False)
        if stage.job == "deploy" and stage.target:
            broken_targets.add(stage.target)
        print(f"    {reason}", flush=True)
        failures.append(stage.label)
    if unmet:
        # Error-rate and SLO bounds are results, not faults: reported, not a failed command.
        print("\nBounds not met (checks): " + "; ".join(unmet))
    if failures:
        print(f"failed: {'; '.join(failures)}", file=sys.stderr)
        return Outcome(1)
    return Outcome(0)


def _teardown_lines(stage: Stage, result: ExecuteInProcessResult) -> list[str]:
    """What the teardown stage tore down or kept, a line each (other stages: none)."""
    from nlp_bench_pipeline.defs.bench.teardown import JOB_NAME, OP_NAME

    return list(result.output_for_node(OP_NAME)) if stage.job == JOB_NAME else []


def failure_line(result: ExecuteInProcessResult) -> str:
    """What made a run fail, in one line: the step and its error (the root cause's message)."""
    for event in result.get_step_failure_events():
        data = event.step_failure_data
        if data is None or data.error is None:
            continue
        error = data.error
        while error.cause is not None:
            error = error.cause
        return f"{event.step_key}: {error.cls_name}: {_one_line(error.message)}"
    failure = result.get_run_failure_event()
    return _one_line(failure.message or "the run failed") if failure else "the run failed"


def _one_line(message: str) -> str:
    """The first line of a message and, for a multi-line one, its last (the child's error)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


class StageInterrupts:
    """SIGINT and SIGTERM stop ``bench``, even while a run waits for a pool slot.

    Inside ``execute_in_process`` Dagster keeps a signal that arrives outside a step for the next
    step to raise — which a run waiting for a pool slot never reaches, so such a run ignored
    both (issue 17). Every signal is also seen here: the interpreter's C handler writes it to
    ``signal.set_wakeup_fd`` whatever Python handler Dagster has installed. If the run is still
    waiting for a slot a moment later, nothing of it has started: it is marked canceled, its
    claims freed, and the process exits. A signal during a step interrupts the step as Dagster
    does (its platform is torn down); ``received`` then makes ``bench`` stop after that run.
    Between runs SIGTERM, like SIGINT, raises ``KeyboardInterrupt``.
    """

    GRACE_S = 2.0
    POLL_S = 2.0  # how often a run that may wait for a slot is looked at, to say so once

    def __init__(self, instance: DagsterInstance) -> None:
        self.instance = instance
        self.run_id: str | None = None
        self.received: int | None = None
        self._signal_read, self._signal_write = os.pipe()
        self._stop_read, self._stop_write = os.pipe()
        os.set_blocking(self._signal_write, False)
        self._watcher = threading.Thread(target=self._watch, name="stage-interrupts", daemon=True)
        self._previous: tuple[int, Any] = (-1, None)

    def __enter__(self) -> StageInterrupts:
        self._previous = (
            signal.set_wakeup_fd(self._signal_write, warn_on_full_buffer=False),
            signal.signal(signal.SIGTERM, signal.default_int_handler),
        )
        self._watcher.start()
        return self

    def watch(self, run_id: str) -> None:
        """The run about to start is the one to cancel if it waits for a slot when signalled.

        The wakeup fd is set again: an event loop on the main thread that removed its signal
        handlers in the meantime would have cleared it.
        """
        self.run_id = run_id
        signal.set_wakeup_fd(self._signal_write, warn_on_full_buffer=False)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        wakeup_fd, term_handler = self._previous
        signal.set_wakeup_fd(wakeup_fd)
        signal.signal(signal.SIGTERM, term_handler)
        os.write(self._stop_write, b"x")
        self._watcher.join()
        for fd in (self._signal_read, self._signal_write, self._stop_read, self._stop_write):
            os.close(fd)

    def _watch(self) -> None:
        announced: str | None = None
        while True:
            readable, _, _ = select.select(
                [self._signal_read, self._stop_read], [], [], self.POLL_S
            )
            if self._stop_read in readable:
                return
            if not readable:  # the poll's timeout: no signal to read (a read would block)
                run_id = self.run_id
                if run_id is not None and run_id != announced and self._announce_wait(run_id):
                    announced = run_id
                continue
            for signum in os.read(self._signal_read, 64):
                if signum in (signal.SIGINT, signal.SIGTERM):
                    self.received = signum
                    self._stop_if_blocked(signum)

    def _stop_if_blocked(self, signum: int) -> None:
        deadline = time.monotonic() + self.GRACE_S
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if self.run_id is None:
                return
        run_id = self.run_id
        if run_id is None or not self._waits_for_slot(run_id):
            return
        run = self.instance.get_run_by_id(run_id)
        if run is not None:
            self.instance.report_run_canceled(
                run, f"{PROG} was interrupted while this run waited for a pool slot"
            )
        self.instance.event_log_storage.free_concurrency_slots_for_run(run_id)
        print(
            f"{PROG}: interrupted while run {run_id} waited for a pool slot; "
            "it is canceled and nothing of it started",
            file=sys.stderr,
            flush=True,
        )
        with contextlib.suppress(Exception):
            sys.stdout.flush()
        os._exit(128 + signum)

    def _waits_for_slot(self, run_id: str) -> bool:
        slot = self._slot(run_id)
        return slot is not None and not slot[0]

    def _slot(self, run_id: str) -> tuple[bool, str, set[str]] | None:
        """Whether ``run_id`` holds its slots (False: it waits for one), the pool and the runs
        holding that pool's slots; None while the run has claimed nothing."""
        storage = self.instance.event_log_storage
        held = None
        for key in storage.get_concurrency_keys():
            info = storage.get_concurrency_info(key)
            if run_id in info.pending_run_ids and run_id not in info.active_run_ids:
                return False, key, set(info.active_run_ids)
            if run_id in info.active_run_ids:
                held = True, key, set(info.active_run_ids)
        return held

    def _announce_wait(self, run_id: str) -> bool:
        """Say once that the run waits for a slot (Dagster logs it at DEBUG, below the console).
        True when there is nothing more to say: said, or the run holds its slot."""
        try:
            slot = self._slot(run_id)
        except Exception:  # the storage is busy or gone as the run ends: look again later
            return False
        if slot is None:
            return False
        holds, pool, holders = slot
        if not holds:
            print(
                f"    waiting for a slot of pool {pool}, held by run "
                f"{', '.join(sorted(holders))} (Ctrl-C cancels this run)",
                flush=True,
            )
        return True
