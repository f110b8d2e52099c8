"""One benchmark cell, start to finish: fresh platform, load test, rows into DuckDB. No Dagster.

For each repetition: deploy the target from scratch (``with target.deployed(spec)``), run the
scenario's load against it through ``launch`` (Dagster Pipes in the asset, a plain subprocess on
the command line), tear down, then ingest the rows with the platform's events and samples in one
transaction. A failed load test still leaves its events; nothing half-written reaches DuckDB.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from nlp_bench_pipeline.loadgen.launch import LoadgenLaunch, loadgen_launch
from nlp_bench_pipeline.loadgen.plan import SUMMARY_FILE
from nlp_bench_pipeline.loadgen.results import RunSummary
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.ingest import IngestReport
from nlp_bench_pipeline.store.records import RunRecord
from nlp_bench_pipeline.targets.base import Deployment, Target, utcnow
from nlp_bench_pipeline.targets.verification import first_success

Launcher = Callable[[LoadgenLaunch], RunSummary]
Progress = Callable[[str], None]
# Events a teardown produces land a moment after the load ends; keep a margin around the run.
EVENT_MARGIN = timedelta(seconds=1)


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
    """Run every repetition of ``cell`` on a fresh platform each, and store the results."""
    overrides = {"repetitions": plan.repetitions} if plan.repetitions else {}
    # Resolved here first: a bad scenario fails before any platform starts.
    scenario = load_scenario(cell.scenario, plan.profile, overrides=overrides)
    spec = plan.deployment_spec(cell.target, idle_s=scenario.longest_idle_s)
    results = []
    for repetition in range(scenario.repetitions):
        tag = f"{cell} repetition {repetition + 1}/{scenario.repetitions}"
        progress(f"{tag}: deploying {cell.target}")
        started_at = utcnow() - EVENT_MARGIN
        warming: dict[str, Any] = {}
        with target.deployed(spec) as deployment:
            if cell.scenario != "cold_start":  # cold_start measures from the bare deploy
                progress(f"{tag}: warming {deployment.endpoint}")
                warming = warm(target)
            progress(f"{tag}: load test (warm-up phase first) against {deployment.endpoint}")
            request = loadgen_launch(
                host=deployment.endpoint,
                scenario=cell.scenario,
                profile=plan.profile,
                target=cell.target,
                series_id=series_id,
                repetition=repetition,
                overrides=overrides,
            )
            summary = launch(request)
        events = target.events(since=started_at)
        samples = target.samples(since=started_at)
        progress(
            f"{tag}: writing {summary.rows} rows, {len(events)} events, {len(samples)} samples"
        )
        record = RunRecord.from_summary(
            summary,
            target=cell.target,
            host={"deployment": deployment.details, "warming": warming},
            **provenance.model_dump(),
        )
        report: IngestReport = store.ingest_run(
            record, request_files=summary.files, events=events, samples=samples
        )
        results.append(
            RepetitionResult(
                deployment=deployment, summary=summary, record=record, ingested=vars(report)
            )
        )
    rows = store.summary_rows([r.record.run_id for r in results])
    return CellResult(cell=cell, series_id=series_id, repetitions=results, summary_rows=rows)


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


def subprocess_launcher(progress: Progress = print) -> Launcher:
    """Run the load generator as a plain child process (the command line's way, no Pipes)."""

    def launch(request: LoadgenLaunch) -> RunSummary:
        completed = subprocess.run(
            request.command,
            env={**os.environ, **request.env},
            capture_output=True,
            text=True,
            check=False,
        )
        for line in completed.stderr.strip().splitlines()[-5:]:
            progress(f"  loadgen: {line}")
        summary_path = Path(request.run_dir) / SUMMARY_FILE
        if not summary_path.is_file():
            raise RuntimeError(
                f"load generator exited {completed.returncode} without a summary:\n"
                + completed.stderr[-2000:]
            )
        return RunSummary.model_validate(json.loads(summary_path.read_text()))

    return launch
