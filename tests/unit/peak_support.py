"""A scripted platform for the peak-rate search: a stand-in endpoint for the harness's first
success and warming, and a launcher that writes each probe's rows with a latency that grows with
the probe's rate — so the true peak is known — through the real cell, ingest and store."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, utcnow
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan, requests_file
from nlp_bench_pipeline.targets.base import DeployedContext
from tests.unit.store_rows import T0, row, write_rows

K8S_DETAILS = {
    "cpu": {"request": 1.0, "limit": 1.0, "host_cores": 2, "threads": 1},
    "replicas": {"min": 2, "max": 2, "hpa": False},
    "host_limited": ["every pod runs on this host's 2 cores; nodes only gate when pods start"],
}
LAMBDA_DETAILS = {
    "limits": {"concurrency_limit": 3},
    "cpu": {"cores_requested": 1.0, "host_cores": 2},
    "host_limited": ["concurrency_limit"],
    "notes": {"concurrency_limit": "3, host-limited: lowered from AWS's 1,000 to fit the host"},
}


class ScriptedTarget(DeployedContext):
    """A local target whose endpoint is the stub; remembers every spec it was deployed with."""

    def __init__(self, name: str, endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self.specs: list[DeploymentSpec] = []

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        self.specs.append(spec)
        return self._deployment(spec)

    def _deployment(self, spec: DeploymentSpec) -> Deployment:
        details = LAMBDA_DETAILS if self.name.endswith("lambda") else K8S_DETAILS
        return Deployment(deployment_id="d", endpoint=self.endpoint, target=self.name, spec=spec,
                          started_at=utcnow(), details=details)  # fmt: skip

    def teardown(self) -> None:
        pass

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        return self._deployment(self.specs[-1])

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return []

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return []


class ScriptedLauncher:
    """Every request of a probe at rate r takes ``service_ms / (1 − r / capacity_rps)``; at or
    past capacity each one times out. The p99 bound B is held up to r = capacity × (1 − s / B)."""

    def __init__(self, capacity_rps: float = 21.0, service_ms: float = 50.0) -> None:
        self.capacity_rps = capacity_rps
        self.service_ms = service_ms
        self.plans: list[RepetitionPlan] = []

    def true_peak(self, bound_ms: float) -> float:
        return self.capacity_rps * (1 - self.service_ms / bound_ms)

    def __call__(self, plan: RepetitionPlan) -> RunSummary:
        self.plans.append(plan)
        rate = plan.scenario.measure[0].rate
        schedule = plan.schedule()
        rows: list[dict[str, Any]] = []
        for seq, (offset, phase) in enumerate(zip(schedule.offsets_s, schedule.phases,
                                                  strict=True)):  # fmt: skip
            name = "warmup" if phase == 0 else "measure"
            if rate >= self.capacity_rps:
                rows.append(row(seq, at_s=float(offset), phase=name, outcome="timeout",
                                status=None, latency_ms=10_000.0, error="Timeout"))  # fmt: skip
            else:
                latency = self.service_ms / (1 - rate / self.capacity_rps)
                rows.append(row(seq, at_s=float(offset), phase=name, latency_ms=latency))
        path = write_rows(requests_file(plan.run_dir, 0), rows)
        ok = sum(r["outcome"] == "ok" for r in rows)
        return RunSummary(
            run_id=plan.run_id, series_id=plan.series_id, scenario=plan.scenario.name,
            profile=plan.scenario.profile, repetition=plan.repetition, seed=plan.scenario.seed,
            host=plan.target_host, workers=1, started_at=datetime.fromtimestamp(T0 - 1, UTC),
            finished_at=datetime.fromtimestamp(T0 + schedule.duration_s + 1, UTC),
            scheduled=len(rows), scheduled_measure=schedule.count("measure"), rows=len(rows),
            sent=len(rows), ok=ok, errors=len(rows) - ok, dropped=0, locust_requests=len(rows),
            locust_failures=len(rows) - ok, workers_reported=1, consistent=True,
            run_dir=str(plan.run_dir), files=[str(path)],
            config=plan.scenario.model_dump(mode="json"), generator_host={},
        )  # fmt: skip


def work_dir(tmp_path: Path) -> Path:
    return tmp_path / "work"


# The searches these tests script: five probes to 20 % down to 1.5 req/s (quick's own search is
# three probes to 50 %, sized for make bench's minutes; what the tests pin is the search logic).
FIVE_PROBES = {"max_probes": 5, "tolerance": 0.2, "min_rps": 1.5}
