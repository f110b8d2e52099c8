"""Calibration from the metric store: what each distribution is read from, and the defaults."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlp_bench_pipeline.simulate.calibration import Calibration, CalibrationError, calibrate
from nlp_bench_pipeline.simulate.distributions import DEFAULT_INIT, cpu_scale, vcpus_for_memory
from nlp_bench_pipeline.store.database import MetricStore

T0 = 1_800_000_000.0
REQUEST_COLUMNS = (
    "run_id", "seq", "phase", "intended_at", "sent_at", "done_at", "latency_ms",
    "corrected_latency_ms", "send_lateness_ms", "outcome", "status_code", "ok", "error",
    "cold_start", "environment_id", "gateway_request_id", "input_tokens", "server_ms",
    "payload_tokens", "worker",
)  # fmt: skip


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


@dataclass
class Request:
    """One row of ``requests`` (docs/schema.md); times in seconds from T0."""

    seq: int
    intended_s: float
    latency_ms: float | None
    server_ms: float | None = None
    phase: str = "measure"
    outcome: str = "ok"
    status_code: int | None = 200
    cold_start: bool = False
    environment_id: str | None = "env-1"
    gateway_request_id: str | None = None

    def values(self, run_id: str) -> tuple[Any, ...]:
        sent = self.intended_s if self.outcome != "dropped" else None
        done = None if sent is None or self.latency_ms is None else sent + self.latency_ms / 1000
        return (
            run_id, self.seq, self.phase, at(self.intended_s),
            None if sent is None else at(sent), None if done is None else at(done),
            self.latency_ms, self.latency_ms, 0.0, self.outcome, self.status_code,
            self.outcome == "ok", None if self.outcome == "ok" else f"HTTP {self.status_code}",
            self.cold_start, self.environment_id, self.gateway_request_id,
            20 if self.outcome == "ok" else None, self.server_ms, 20, 0,
        )  # fmt: skip


@dataclass
class Event:
    """One row of ``platform_events``."""

    kind: str
    at_s: float
    environment_id: str | None = None
    init_ms: float | None = None
    duration_ms: float | None = None
    memory_mb: float | None = None
    detail: dict[str, Any] = field(default_factory=dict)


class StoreBuilder:
    """A metric store file with hand-made runs that follow docs/schema.md."""

    def __init__(self, path: Path) -> None:
        self.store = MetricStore(path)
        self.store.migrate()

    def run(
        self,
        run_id: str,
        target: str,
        requests: list[Request],
        events: list[Event] = (),  # type: ignore[assignment]
        *,
        scenario: str = "warm_steady",
        host: dict[str, Any] | None = None,
        series: str = "series-1",
        status: str = "complete",
    ) -> str:
        with self.store.connect() as conn:
            conn.execute(
                "INSERT INTO benchmark_runs (run_id, series_id, target, scenario, repetition,"
                " repetitions, profile, started_at, finished_at, status, scheduled,"
                " locust_requests, dropped, config, host)"
                " VALUES (?, ?, ?, ?, 0, 1, 'quick', ?, ?, ?, ?, ?, 0, ?, ?)",
                [
                    run_id, series, target, scenario, at(-1), at(600), status, len(requests),
                    len(requests), json.dumps({"seed": 1}), json.dumps(host or {}),
                ],
            )  # fmt: skip
            if requests:
                conn.executemany(
                    f"INSERT INTO requests ({', '.join(REQUEST_COLUMNS)})"
                    f" VALUES ({', '.join(['?'] * len(REQUEST_COLUMNS))})",
                    [r.values(run_id) for r in requests],
                )
            if events:
                conn.executemany(
                    'INSERT INTO platform_events (run_id, "at", target, kind, environment_id,'
                    " init_ms, duration_ms, memory_mb, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (run_id, at(e.at_s), target, e.kind, e.environment_id, e.init_ms,
                         e.duration_ms, e.memory_mb, json.dumps(e.detail))
                        for e in events
                    ],
                )  # fmt: skip
        return run_id


def warm_requests(n: int, server_ms: float, overhead_ms: float = 2.0, start: int = 0):
    return [Request(start + i, 0.5 * i, server_ms + overhead_ms, server_ms) for i in range(n)]


@pytest.fixture
def builder(tmp_path: Path) -> StoreBuilder:
    return StoreBuilder(tmp_path / "metrics.duckdb")


def test_without_a_store_or_runs_the_defaults_are_used_and_said(builder):
    for calibration in (calibrate(None, "lambda"), calibrate(builder.store, "lambda")):
        described = calibration.describe("lambda")
        assert described["source"] == "defaults"
        assert described["defaults_used_for"] == ["work", "overhead", "init", "throttle_latency"]
        assert all("default" in q["source"] for q in described["quantities"].values())


def test_lambda_work_per_memory_size_from_warm_requests_and_reports(builder):
    for run_id, memory, server in (("r-small", 1769, 100.0), ("r-large", 3008, 60.0)):
        builder.run(
            run_id,
            "local-lambda",
            [*warm_requests(30, server), Request(30, 16.0, 8_000.0, server, cold_start=True)],
            [
                Event("report", 1.0, "env-1", duration_ms=server, memory_mb=memory),
                Event(
                    "cold_start", 16.0, "env-2", init_ms=7_500.0, detail={"init_type": "on-demand"}
                ),
                Event(
                    "cold_start",
                    0.0,
                    "env-p",
                    init_ms=99_000.0,
                    detail={"init_type": "provisioned-concurrency"},
                ),
            ],
            series=run_id,
            scenario=run_id,
        )
    calibration = calibrate(builder.store, "lambda")
    assert sorted(calibration.lambda_work) == [1769, 3008]
    assert calibration.lambda_work[1769].median_ms == 100.0  # the cold request is left out
    assert calibration.lambda_overhead.value == 2.0
    assert calibration.init.samples_ms.tolist() == [7_500.0, 7_500.0]  # on-demand inits only
    scaled = calibration.lambda_work_for(10_240)  # nearest measured: 3008 MB
    factor = cpu_scale(vcpus_for_memory(3008), vcpus_for_memory(10_240))
    assert scaled.median_ms == pytest.approx(60.0 * factor)
    assert "3008 MB -> 10240 MB" in scaled.source
    assert calibration.describe("lambda", 1769)["source"] == "mixed"  # no throttle measured


def test_pod_service_time_is_rebuilt_without_the_wait_inside_the_pod(builder):
    # three at once to one pod of 100 ms: answered at 0.1, 0.2, 0.3 s, server_ms 100, 200, 300
    requests = []
    for group in range(10):
        base = 10.0 * group
        for k in range(3):
            server = 100.0 * (k + 1)
            requests.append(
                Request(3 * group + k, base, server + 1.0, server, environment_id="pod-a")
            )
    host = {"deployment": {"cpu": {"request": 0.5, "limit": 2.0}}}
    events = [
        Event("pod_ready", 1.0, "pod-a", init_ms=9_000.0, detail={"start_latency_ms": 1_500.0}),
        Event("node_added", 2.0, "node-2", duration_ms=45_000.0),
    ]
    builder.run("k1", "local-k8s", requests, events, host=host)
    calibration = calibrate(builder.store, "eks")
    assert calibration.pod_service.samples_ms == pytest.approx(np.full(30, 100.0), abs=1e-3)
    assert calibration.pod_service_cores == 2.0  # the limit: what a busy pod runs on
    assert calibration.pod_overhead.value == pytest.approx(1.0)
    assert calibration.pod_ready.median_ms == 9_000.0
    assert calibration.pod_start.median_ms == 1_500.0
    assert calibration.node_add.value == 45.0
    assert calibration.describe("eks")["source"] == "measured"


def test_a_chosen_run_must_exist_and_be_of_the_platform(builder):
    builder.run("k1", "local-k8s", warm_requests(25, 50.0))
    with pytest.raises(CalibrationError, match="not in the metric store"):
        calibrate(builder.store, "eks", run_ids=["nope"])
    with pytest.raises(CalibrationError, match="local-k8s run, not lambda"):
        calibrate(builder.store, "lambda", run_ids=["k1"])
    assert calibrate(builder.store, "eks", run_ids=["k1"]).runs == ("k1",)


def test_too_few_samples_keep_the_default(builder):
    builder.run("r1", "local-lambda", warm_requests(5, 100.0))
    calibration = calibrate(builder.store, "lambda")
    assert calibration.runs == ("r1",)
    assert calibration.lambda_work == Calibration().lambda_work
    assert calibration.init is DEFAULT_INIT
