"""One benchmark cell, start to finish: fresh platform, load test, rows into DuckDB. No Dagster.

For each repetition: deploy the target from scratch (``with target.deployed(spec)``), warm it
(warm scenarios), run the scenario's load against it through ``launch`` (Dagster Pipes in the
asset), tear down, then ingest the rows with the platform's events and samples in one
transaction. A repetition that fails is stored as a ``failed`` run with its events and samples;
nothing half-written reaches DuckDB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from nlp_bench_pipeline.loadgen.launch import LoadgenLaunch, loadgen_launch
from nlp_bench_pipeline.loadgen.plan import run_id_for
from nlp_bench_pipeline.loadgen.results import RunSummary
from nlp_bench_pipeline.loadgen.scenarios import ScenarioConfig, load_scenario
from nlp_bench_pipeline.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.ingest import IngestReport
from nlp_bench_pipeline.store.records import RunRecord
from nlp_bench_pipeline.targets.base import Deployment, DeploymentSpec, Target, utcnow
from nlp_bench_pipeline.targets.verification import first_success

Launcher = Callable[[LoadgenLaunch], RunSummary]
Progress = Callable[[str], None]


class Provenance(BaseModel):
    """What the rows were measured with, recorded on every ``benchmark_runs`` row."""

    model_config = ConfigDict(frozen=True)

    model_id: str | None = None
    model_digest: str | None = None
    image_digest: str | None = None
    code_version: str | None = None
    dagster_run_id: str | None = None


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


def run_cell(
    cell: Cell,
    plan: BenchmarkPlan,
    target: Target,
    store: MetricStore,
    *,
    launch: Launcher,
    series_id: str,
    provenance: Provenance,
    progress: Progress = print,
) -> CellResult:
    """Run every repetition of ``cell`` on a fresh platform each, and store the results.

    A repetition that fails (deploy, warming, load test) is stored as a ``failed`` run with the
    platform's events and samples, the others still run, and :class:`CellFailed` is raised last.
    """
    overrides = {"repetitions": plan.repetitions} if plan.repetitions else {}
    # Resolved here first: a bad scenario fails before any platform starts.
    scenario = load_scenario(cell.scenario, plan.profile, overrides=overrides)
    spec = plan.deployment_spec(cell.target, idle_s=scenario.longest_idle_s)
    results, failures = [], []
    for repetition in range(scenario.repetitions):
        tag = f"{cell} repetition {repetition + 1}/{scenario.repetitions}"
        try:
            results.append(
                _run_repetition(
                    cell,
                    plan,
                    scenario,
                    spec,
                    target,
                    store,
                    repetition,
                    launch=launch,
                    series_id=series_id,
                    provenance=provenance,
                    progress=lambda line, tag=tag: progress(f"{tag}: {line}"),
                )
            )
        except Exception as exc:  # stored as a failed run; the cell fails below
            progress(f"{tag}: FAILED: {type(exc).__name__}: {exc}")
            failures.append(f"repetition {repetition}: {type(exc).__name__}: {exc}")
    rows = store.summary_rows([r.record.run_id for r in results])
    if failures:
        raise CellFailed(f"{cell}: " + "; ".join(failures))
    return CellResult(cell=cell, series_id=series_id, repetitions=results, summary_rows=rows)


def _run_repetition(
    cell: Cell,
    plan: BenchmarkPlan,
    scenario: ScenarioConfig,
    spec: DeploymentSpec,
    target: Target,
    store: MetricStore,
    repetition: int,
    *,
    launch: Launcher,
    series_id: str,
    provenance: Provenance,
    progress: Progress,
) -> RepetitionResult:
    progress(f"deploying {cell.target}")
    started_at = utcnow()
    deployment: Deployment | None = None
    warming: dict[str, Any] = {}
    try:
        with target.deployed(spec) as deployment:
            if cell.scenario != "cold_start":  # cold_start measures from the bare deploy
                progress(f"warming {deployment.endpoint}")
                warming = warm(target)
            progress(f"load test (warm-up phase first) against {deployment.endpoint}")
            request = loadgen_launch(
                host=deployment.endpoint,
                scenario=cell.scenario,
                profile=plan.profile,
                target=cell.target,
                series_id=series_id,
                repetition=repetition,
                overrides={"repetitions": scenario.repetitions},
            )
            summary = launch(request)
    except Exception as exc:
        _store_failed_run(
            cell,
            plan,
            scenario,
            target,
            store,
            repetition,
            started_at,
            series_id=series_id,
            provenance=provenance,
            error=exc,
            host={"deployment": deployment.details if deployment else None, "warming": warming},
        )
        raise
    events = target.events(since=started_at)
    samples = target.samples(since=started_at)
    progress(f"writing {summary.rows} rows, {len(events)} events, {len(samples)} samples")
    record = RunRecord.from_summary(
        summary,
        target=cell.target,
        host={"deployment": deployment.details, "warming": warming},
        **provenance.model_dump(),
    )
    report: IngestReport = store.ingest_run(
        record, request_files=summary.files, events=events, samples=samples
    )
    return RepetitionResult(
        deployment=deployment, summary=summary, record=record, ingested=vars(report)
    )


def _store_failed_run(
    cell: Cell,
    plan: BenchmarkPlan,
    scenario: ScenarioConfig,
    target: Target,
    store: MetricStore,
    repetition: int,
    started_at: datetime,
    *,
    series_id: str,
    provenance: Provenance,
    error: BaseException,
    host: dict[str, Any],
) -> None:
    """A ``failed`` run row with the platform's events and samples: what went wrong stays."""
    record = RunRecord(
        run_id=run_id_for(series_id, cell.target, cell.scenario, plan.profile, repetition),
        series_id=series_id,
        target=cell.target,
        scenario=cell.scenario,
        repetition=repetition,
        repetitions=scenario.repetitions,
        profile=plan.profile,
        started_at=started_at,
        finished_at=utcnow(),
        status="failed",
        scheduled=len(scenario.schedule(repetition)),
        dropped=0,
        config=scenario.model_dump(mode="json"),
        host={**host, "error": f"{type(error).__name__}: {error}"},
        **provenance.model_dump(),
    )
    store.ingest_run(
        record,
        request_files=[],
        events=target.events(since=started_at),
        samples=target.samples(since=started_at),
    )


def warm(target: Target, timeout_s: float = 300) -> dict[str, Any]:
    """Minimum capacity ready (pods), then one prediction served (a Lambda environment warm).

    A warm scenario must not measure the platform's first cold start; on a slow host a local
    Lambda cold start can outlast the scenario's own warm-up phase. The warming request is not
    a row of the run, but its platform events are, so what it was is returned for the record.
    """
    started = time.monotonic()
    deployment = target.wait_ready(timeout_s)
    with httpx.Client(base_url=deployment.endpoint, timeout=60) as client:
        response, latency_ms, before = first_success(client, timeout_s=timeout_s)
    return {
        "environment_id": response.headers.get("x-nlp-bench-environment-id"),
        "cold_start_header": response.headers.get("x-nlp-bench-cold-start") == "1",
        "latency_ms": round(latency_ms, 3),
        "seconds": round(time.monotonic() - started, 3),
        "responses_before": dict(before),
    }
