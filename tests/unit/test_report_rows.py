"""Hand-made runs for the report's tests, and what the charts rely on them holding.

``build_report_store`` writes four small runs through the real ingestion (so ``run_summary``,
``latest_runs`` and the cold-start matching are the store's own): Lambda and Kubernetes, each
in ``burst`` and ``warm_steady``. The Lambda burst has three cold requests (init 3 s after a
0.5 s wait for an init slot) and four throttles, so its p99 lands on a failure and its SLO is
missed; the Kubernetes burst scales out to a second pod that serves. ``add_economics`` adds a
break-even with its cost curve, a memory sweep and cost estimates, as the economics stage
writes them. Other report tests import these builders.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.store_rows import T0, record, row, write_rows

SERIES = "series-1"
PROFILE = "quick"
LAMBDA_BURST = f"{SERIES}-local-lambda-burst-{PROFILE}-r0"
K8S_BURST = f"{SERIES}-local-k8s-burst-{PROFILE}-r0"
LAMBDA_STEADY = f"{SERIES}-local-lambda-warm_steady-{PROFILE}-r0"
K8S_STEADY = f"{SERIES}-local-k8s-warm_steady-{PROFILE}-r0"
RUN_IDS = (LAMBDA_BURST, K8S_BURST, LAMBDA_STEADY, K8S_STEADY)
MEASURED = 120
COLD = {10: "env-b", 11: "env-c", 12: "env-d"}
THROTTLED = (30, 31, 32, 33)
INIT_MS, WAIT_MS, COLD_SERVER_MS, COLD_LATENCY_MS = 3000.0, 500.0, 45.0, 3600.0


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def _event(kind: str, seconds: float, target: str, environment: str | None = None, **fields):
    detail = fields.pop("detail", {})
    return PlatformEvent(
        at=at(seconds),
        target=target,
        kind=kind,
        environment_id=environment,
        detail=detail,
        **fields,
    )


def _warmup(n: int = 4) -> list[dict[str, Any]]:
    return [row(i, phase="warmup", at_s=i * 0.1, latency_ms=40.0) for i in range(n)]


def lambda_burst_rows() -> list[dict[str, Any]]:
    rows = _warmup()
    for i in range(MEASURED):
        seq, at_s = i + 4, 1.0 + i * 0.1
        if i in COLD:
            rows.append(
                row(
                    seq,
                    at_s=at_s,
                    latency_ms=COLD_LATENCY_MS,
                    cold=True,
                    environment_id=COLD[i],
                    server_ms=COLD_SERVER_MS,
                )
            )
        elif i in THROTTLED:
            rows.append(row(seq, at_s=at_s, outcome="http_error", status=500, environment_id=None))
        else:
            rows.append(row(seq, at_s=at_s, latency_ms=40.0 + i % 7, server_ms=20.0))
    return rows


def lambda_burst_events() -> list[PlatformEvent]:
    target = "local-lambda"
    events = [
        _event("init_start", -5.0, target, "env-a", detail={"init_wait_ms": 0.0}),
        _event("cold_start", -2.0, target, "env-a", init_ms=INIT_MS, detail={"init_wait_ms": 0.0}),
    ]
    for i, environment in COLD.items():
        sent = 1.0 + i * 0.1
        events += [
            _event(
                "init_start",
                sent + WAIT_MS / 1000,
                target,
                environment,
                detail={"init_wait_ms": WAIT_MS},
            ),
            _event(
                "cold_start",
                sent + (WAIT_MS + INIT_MS) / 1000,
                target,
                environment,
                init_ms=INIT_MS,
                detail={"init_wait_ms": WAIT_MS},
            ),
        ]
    events += [
        _event("throttle", 1.0 + i * 0.1, target, detail={"reason": "concurrency_limit"})
        for i in THROTTLED
    ]
    events.append(_event("evict", 12.5, target, "env-b"))
    return events


def k8s_burst_rows() -> list[dict[str, Any]]:
    rows = _warmup()
    for i in range(MEASURED):
        pod = "pod-2" if i >= 60 and i % 2 else "pod-1"
        rows.append(row(i + 4, at_s=1.0 + i * 0.1, latency_ms=30.0 + i % 5, environment_id=pod))
    return rows


def k8s_burst_events() -> list[PlatformEvent]:
    target = "local-k8s"
    return [
        _event("pod_scheduled", -8.0, target, "pod-1"),
        _event("pod_ready", -5.0, target, "pod-1", init_ms=2500.0, detail={"pending_ms": 0.0}),
        _event("scale_out", 4.0, target, detail={"from": 1, "to": 2}),
        _event("pod_ready", 6.5, target, "pod-2", init_ms=1800.0, detail={"pending_ms": 900.0}),
        _event("scale_in", 13.0, target, detail={"from": 2, "to": 1}),
        _event("pod_killed", 13.5, target, "pod-2"),
    ]


def steady_rows(environment: str) -> list[dict[str, Any]]:
    return _warmup() + [
        row(i + 4, at_s=1.0 + i * 0.1, latency_ms=25.0 + i % 9, environment_id=environment)
        for i in range(110)
    ]


def host(target: str, config_note: str) -> dict[str, Any]:
    deployment: dict[str, Any] = {"config": {"note": config_note}}
    if target == "local-lambda":
        deployment |= {
            "host_limited": ["concurrency_limit"],
            "notes": {"concurrency_limit": "4 here; AWS's account default is 1,000"},
        }
    else:
        deployment |= {"host_limited": ["every pod runs on this host's 2 cores"]}
    busy = target == "local-k8s"  # a test suite ran beside the k8s cells
    return {
        "deployment": deployment,
        "warming": {"first_latency_ms": 35.0},
        "generator": {"cpus": 2},
        "host_load": {
            "seconds": 12.0,
            "cpus": 2,
            "host_busy_cpu_s": 20.0,
            "own_cpu_s": 12.8 if busy else 19.5,
            "foreign_cpu_s": 7.2 if busy else 0.5,
            "steal_cpu_s": 0.0,
            "foreign_share": 0.3 if busy else 0.0208,
            "top_foreign": [{"pid": 7, "name": "pytest", "cpu_s": 7.0}] if busy else [],
        },
    }


def build_report_store(folder: Path, *, config_note: str = "hand-made") -> MetricStore:
    """A store holding the four runs (see the module docstring)."""
    store = MetricStore(folder / "report.duckdb")
    cells = [
        (LAMBDA_BURST, "local-lambda", "burst", lambda_burst_rows(), lambda_burst_events(), 12.0),
        (K8S_BURST, "local-k8s", "burst", k8s_burst_rows(), k8s_burst_events(), 12.0),
        (LAMBDA_STEADY, "local-lambda", "warm_steady", steady_rows("env-a"), [], 11.0),
        (K8S_STEADY, "local-k8s", "warm_steady", steady_rows("pod-1"), [], 11.0),
    ]
    for run_id, target, scenario, rows, events, measure_s in cells:
        path = write_rows(folder / run_id / "requests-0.parquet", rows)
        run = record(
            run_id,
            rows,
            target=target,
            scenario=scenario,
            series_id=SERIES,
            profile=PROFILE,
            measure_s=measure_s,
            slo_p99_ms=2000.0,
            time_to_first_success_ms=4100.0,
            deployed_at=at(-6.0),
            model_id="tiny-distilbert",
            model_digest="sha256:abc",
            image_digest="sha256:def",
            code_version="0123456789abcdef",
            config={"seed": 1, "note": config_note},
            host=host(target, config_note),
        )
        store.ingest_run(run, request_files=[path], events=events)
    return store


CURVE = [
    {
        "rate_rps": r,
        "lambda_usd_per_million": 4.0,
        "eks_usd_per_million": 400.0 / r,
        "lambda_usd_month": 0.0,
        "eks_usd_month": 0.0,
        "eks_pods": 1,
        "eks_nodes": 1,
        "lambda_peak_concurrency": 0.0,
    }
    for r in (0.1, 1.0, 10.0, 100.0, 1000.0)
]


def add_economics(store: MetricStore) -> None:
    """One break-even (steady, 100 req/s), a three-size sweep (one not run), chosen estimates."""
    computed = datetime(2026, 12, 1, tzinfo=UTC)
    with store.connect() as conn:
        conn.execute(
            "INSERT INTO cost_breakeven VALUES ('e1', ?, 'steady', 1.0, 100.0, 80.0, 60.0, "
            "150.0, 'lambda', 'EKS stays cheaper from 100 req/s', 1769, 'x86', 40.0, "
            "'c7g.large', 20.0, 0.6, '{}', '{}', '{}', ?, ['r1'], 'sha256:cat', [])",
            [computed, json.dumps(CURVE)],
        )
        for memory, p50, usd, best, status in (
            (512, 120.0, 1.5, "cost", "ok"),
            (1769, 40.0, 2.0, "speed", "ok"),
            (10240, None, None, None, "not run (host)"),
        ):
            conn.execute(
                "INSERT INTO memory_sweep (sweep_id, target, memory_mb, started_at, finished_at, "
                "profile, model, vcpus, status, reason, warm_invocations, cold_invocations, "
                "errors, init_retries, warm_duration_p50_ms, warm_duration_p95_ms, "
                "usd_per_million, balance_weight, best_by_cost, best_by_speed, best_balanced, "
                "catalog_digest, detail) VALUES ('s1', 'local-lambda', ?, ?, ?, 'quick', 'tiny', "
                "1.0, ?, ?, 20, 2, 0, 0, ?, ?, ?, 0.5, ?, ?, false, 'sha256:cat', '{}')",
                [
                    memory,
                    computed,
                    computed,
                    status,
                    "the host cannot hold it" if p50 is None else None,
                    p50,
                    None if p50 is None else p50 * 1.5,
                    usd,
                    best == "cost",
                    best == "speed",
                ],
            )
        for platform, configuration, usd in (("lambda", "1769 MB x86", 4.0), ("eks", "c7g", 40.0)):
            conn.execute(
                "INSERT INTO cost_estimates (estimate_id, computed_at, platform, configuration, "
                "architecture, traffic_profile, shape, mean_rps, peak_to_mean, "
                "requests_per_month, texts_per_request, usd_per_month, "
                "usd_per_million_inferences, breakdown, chosen, measured_on, profile, run_ids, "
                "catalog_digest, region, notes) VALUES ('e1', ?, ?, ?, 'x86', 'steady-10', "
                "'steady', 10.0, 1.0, 26280000, 1.0, 100.0, ?, '{}', true, 'local', 'quick', "
                "['r1'], 'sha256:cat', 'us-east-1', [])",
                [computed, platform, configuration, usd],
            )


def test_the_lambda_burst_misses_its_slo_on_failures_and_has_three_matched_cold_starts(
    tmp_path: Path,
) -> None:
    store = build_report_store(tmp_path)
    (summary,) = store.summary_rows([LAMBDA_BURST])
    assert summary["requests"] == MEASURED
    assert summary["errors"] == len(THROTTLED)
    assert summary["p99_is_failure"]
    assert summary["slo_met"] is False
    assert summary["cold_starts"] == len(COLD)
    assert summary["cold_start_init_p50_ms"] == INIT_MS
    assert summary["cold_start_wait_p50_ms"] == WAIT_MS


def test_the_k8s_burst_scale_out_serves_and_every_run_is_latest(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)
    (summary,) = store.summary_rows([K8S_BURST])
    assert summary["scale_out_served"] is True
    assert summary["slo_met"] is True
    latest = store.query("SELECT run_id FROM latest_runs").column("run_id").to_pylist()
    assert sorted(latest) == sorted(RUN_IDS)
