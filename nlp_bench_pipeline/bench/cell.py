"""One benchmark cell, start to finish: fresh platform, load test, rows into DuckDB. No Dagster.

The cell's scenario is resolved once, and each repetition becomes a ``RepetitionPlan`` (load
plan, deployment spec, run id, provenance) before anything starts. For each repetition: deploy
the target from scratch (``with target.deployed(spec)``), warm it (warm scenarios), run the plan
against it through ``launch`` (Dagster Pipes in the asset), tear down, then ingest the rows with
the platform's events and samples in one transaction. A repetition that fails is stored as a
``failed`` run with its events and samples; nothing half-written reaches DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from nlp_bench_pipeline.bench.host_load import HostLoadMeter
from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.bench.warming import (
    first_success_record,
    time_first_success,
    warm,
    warming_schedule,
)
from nlp_bench_pipeline.core.deployments import Deployment
from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.core.runs import Provenance, RunRecord, RunSummary
from nlp_bench_pipeline.loadgen.repetition import PLAN_FILE, RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.ingest import IngestReport
from nlp_bench_pipeline.targets.base import Target

Launcher = Callable[[RepetitionPlan], RunSummary]
WARMING_TIMEOUT_S = 300.0
Progress = Callable[[str], None]


class RepetitionResult(BaseModel):
    """One repetition: the deployment it ran on, the runner's summary, what was ingested."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    deployment: Deployment
    summary: RunSummary
    record: RunRecord
    ingested: dict[str, Any]


class CellResult(BaseModel):
    """Every repetition of one cell, and its ``run_summary`` rows from DuckDB."""

    cell: Cell
    series_id: str
    repetitions: list[RepetitionResult]
    summary_rows: list[dict[str, Any]]

    @property
    def run_ids(self) -> list[str]:
        return [r.record.run_id for r in self.repetitions]

    @property
    def complete(self) -> bool:
        return all(r.record.status == "complete" for r in self.repetitions)


class CellFailed(RuntimeError):
    """Some repetitions of a cell failed; their runs are stored with status ``failed``."""


def plan_cell(
    cell: Cell,
    plan: BenchmarkPlan,
    *,
    series_id: str,
    provenance: Provenance,
    work_dir: Path,
) -> list[RepetitionPlan]:
    """Every repetition of ``cell``, resolved once: a bad scenario fails before any platform."""
    overrides = {"repetitions": plan.repetitions} if plan.repetitions else {}
    scenario = load_scenario(cell.scenario, plan.profile, overrides=overrides)
    return RepetitionPlan.resolve(
        scenario,
        series_id=series_id,
        target=cell.target,
        work_dir=work_dir,
        deployment=plan.deployment_spec(cell.target, idle_s=scenario.longest_idle_s),
        provenance=provenance,
        slo_p99_ms=plan.slo_for(cell.scenario),
        mode=plan.load_mode if cell.target == "aws-lambda" else "http",
    )


def run_cell(
    repetitions: list[RepetitionPlan],
    target: Target,
    store: MetricStore,
    *,
    launch: Launcher,
    progress: Progress = print,
) -> CellResult:
    """Run every repetition on a fresh platform each, and store the results.

    A repetition that fails (deploy, warming, load test) is stored as a ``failed`` run with the
    platform's events and samples, the others still run, and :class:`CellFailed` is raised last.
    """
    first = repetitions[0]
    cell = Cell(target=first.target, scenario=first.scenario.name)  # type: ignore[arg-type]
    results, failures = [], []
    for repetition in repetitions:
        tag = f"{cell} repetition {repetition.repetition + 1}/{first.scenario.repetitions}"

        def report(line: str, tag: str = tag) -> None:
            progress(f"{tag}: {line}")

        try:
            results.append(_run_repetition(repetition, target, store, launch, report))
        except Exception as exc:  # stored as a failed run; the cell fails below
            progress(f"{tag}: FAILED: {type(exc).__name__}: {exc}")
            failures.append(f"repetition {repetition.repetition}: {type(exc).__name__}: {exc}")
    rows = store.summary_rows([r.record.run_id for r in results])
    if failures:
        raise CellFailed(f"{cell}: " + "; ".join(failures))
    return CellResult(cell=cell, series_id=first.series_id, repetitions=results, summary_rows=rows)


def _run_repetition(
    plan: RepetitionPlan, target: Target, store: MetricStore, launch: Launcher, progress: Progress
) -> RepetitionResult:
    if plan.deployment is None:
        raise ValueError(f"run {plan.run_id} has no deployment spec")
    progress(f"deploying {plan.target}")
    deployed_at, deploy_started = utcnow(), time.monotonic()
    deployment: Deployment | None = None
    measured: dict[str, Any] = {"deployed_at": deployed_at, "slo_p99_ms": plan.slo_p99_ms}
    warming: dict[str, Any] = {}
    try:
        with target.deployed(plan.deployment) as deployment:
            first = time_first_success(deployment, deploy_started, WARMING_TIMEOUT_S)
            measured["time_to_first_success_ms"] = round(first.seconds_since * 1000.0, 3)
            progress(f"first success {first.seconds_since:.2f} s after the deploy began")
            warming = first_success_record(first)
            to_warm = warming_schedule(plan.scenario, plan.repetition)
            if to_warm is not None:  # cold_start measures from the bare deploy
                progress(f"warming {deployment.endpoint} ({plan.scenario.warm_capacity})")
                warming = warm(target, deployment, first, to_warm)
            progress(f"load test (warm-up phase first) against {deployment.endpoint}")
            with HostLoadMeter() as meter:
                summary = launch(plan.aimed_at(deployment))
    except Exception as exc:
        host = {"deployment": deployment.details if deployment else None, "warming": warming}
        _store_failed_run(plan, target, store, measured, error=exc, host=host)
        raise
    # A cloud target completes its record at teardown (REPORT lines that arrived late).
    deployment = getattr(target, "last_deployment", None) or deployment
    events = target.events(since=deployed_at)
    samples = target.samples(since=deployed_at)
    progress(f"writing {summary.rows} rows, {len(events)} events, {len(samples)} samples")
    record = RunRecord.from_summary(
        summary,
        target=plan.target,
        host={
            "deployment": deployment.details,
            "warming": warming,
            "host_load": meter.result.as_dict() if meter.result else None,
        },
        provenance=plan.provenance,
        **measured,
    )
    report: IngestReport = store.ingest_run(
        record, request_files=summary.files, events=events, samples=samples
    )
    return RepetitionResult(
        deployment=deployment, summary=summary, record=record, ingested=vars(report)
    )


def _store_failed_run(
    plan: RepetitionPlan,
    target: Target,
    store: MetricStore,
    measured: dict[str, Any],
    *,
    error: BaseException,
    host: dict[str, Any],
) -> None:
    """A ``failed`` run row with the platform's events and samples: what went wrong stays."""
    started_at: datetime = measured["deployed_at"]
    record = _failed_record(
        plan, started_at, {**host, "error": f"{type(error).__name__}: {error}"}, measured
    )
    store.ingest_run(
        record,
        request_files=[],
        events=target.events(since=started_at),
        samples=target.samples(since=started_at),
    )


def _failed_record(
    plan: RepetitionPlan, started_at: datetime, host: dict[str, Any], measured: dict[str, Any]
) -> RunRecord:
    """The ``failed`` row of a repetition: its plan's identity and schedule, no requests."""
    return RunRecord(
        run_id=plan.run_id,
        series_id=plan.series_id,
        target=plan.target,
        scenario=plan.scenario.name,
        repetition=plan.repetition,
        repetitions=plan.scenario.repetitions,
        profile=plan.scenario.profile,
        started_at=started_at,
        finished_at=utcnow(),
        status="failed",
        scheduled=len(plan.schedule()),
        dropped=0,
        config=plan.scenario.model_dump(mode="json"),
        host=host,
        measure_s=plan.measure_s,
        **plan.provenance.model_dump(),
        **measured,
    )


def store_abandoned_repetitions(
    store: MetricStore, work_dir: Path, series_id: str, reason: str
) -> list[str]:
    """The repetitions of a killed cell (Dagster run ``series_id``) that left no run row,
    stored as ``failed`` with ``reason``: a run killed mid-cell is in the store as failed, not
    missing. Its partial rows are not ingested (a crashed run leaves none half-written); its
    files stay in its run directory. Returns the run ids stored."""
    stored = []
    for path in sorted(Path(work_dir).glob(f"**/{series_id}-*/{PLAN_FILE}")):
        plan = RepetitionPlan.read(path)
        if plan.series_id != series_id or store.has_run(plan.run_id):
            continue
        started_at = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        host = {"error": reason, "run_dir": str(path.parent)}
        record = _failed_record(plan, started_at, host, {})
        store.ingest_run(record, request_files=[], events=[], samples=[])
        stored.append(plan.run_id)
    return stored
