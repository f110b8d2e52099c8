"""The cell runner: a repetition that fails is stored as a failed run, with its platform record."""

from __future__ import annotations

import contextlib
import json
from datetime import datetime
from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.cell import CellFailed, plan_cell, run_cell
from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, utcnow
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.base import DeployedContext
from nlp_bench_pipeline.targets.events import EventLog, SampleLog
from tests.fixtures.predict_stub import predict_stub


class RecordingTarget(DeployedContext):
    """A platform that deploys instantly and records a pod's life as events."""

    name = "local-k8s"

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.log = EventLog("local-k8s")
        self.sample_log = SampleLog()
        self.torn_down = 0

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        self.log.record("pod_ready", "pod-1", init_ms=5.0)
        self.sample_log.append(
            ResourceSample(
                at=utcnow(), target="local-k8s", environment_id="pod-1", cpu_pct=50, rss_mb=100
            )
        )
        return Deployment(
            deployment_id="d-1",
            endpoint=self.endpoint,
            target="local-k8s",
            spec=spec,
            started_at=utcnow(),
            details={"pods": 1},
        )

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        raise AssertionError("cold_start does not warm")

    def teardown(self) -> None:
        self.torn_down += 1
        self.log.record("pod_killed", "pod-1", reason="deployment deleted")

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return self.log.since(since)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return self.sample_log.since(since)


def test_a_failed_load_test_is_stored_as_a_failed_run_with_its_events(tmp_path: Path) -> None:
    store = MetricStore(tmp_path / "bench.duckdb")
    stub = contextlib.ExitStack()
    target = RecordingTarget(stub.enter_context(predict_stub()))
    plan = BenchmarkPlan(targets=["local-k8s"], scenarios=["cold_start"], profile="smoke")

    def exploding_launch(request):
        raise RuntimeError("Locust exploded")

    repetitions = plan_cell(
        Cell(target="local-k8s", scenario="cold_start"), plan, series_id="series-1",
        provenance=Provenance(model_id="tiny-distilbert", dagster_run_id="dagster-1"),
        work_dir=tmp_path,
    )  # fmt: skip
    with stub, pytest.raises(CellFailed, match="Locust exploded"):
        run_cell(repetitions, target, store, launch=exploding_launch, progress=lambda line: None)
    assert target.torn_down == 1
    [run] = store.query("SELECT * FROM benchmark_runs").to_pylist()
    assert run["status"] == "failed"
    assert run["run_id"] == "series-1-local-k8s-cold_start-smoke-r0"
    assert run["scheduled"] == len(load_scenario("cold_start", "smoke").schedule(0))
    assert run["model_id"] == "tiny-distilbert"
    assert "RuntimeError: Locust exploded" in json.loads(run["host"])["error"]
    kinds = store.query('SELECT kind FROM platform_events ORDER BY "at"').column("kind")
    assert kinds.to_pylist() == ["pod_ready", "pod_killed"]
    assert store.query("SELECT count(*) AS n FROM resource_samples").to_pylist() == [{"n": 1}]
    assert store.query("SELECT count(*) AS n FROM requests").to_pylist() == [{"n": 0}]
