"""The memory-size sweep's rules without a platform: sizes per profile, what a host or account
can run, figures and cost from REPORT-derived samples, and the best-by strategies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.sweep import AccountQuota, LocalHost, SweepPlan, choose_best
from nlp_bench_pipeline.sweep.invocations import Sample, SizeSamples
from nlp_bench_pipeline.sweep.results import SizeResult, SweepResult, percentiles
from nlp_bench_pipeline.sweep.run import account_refusal
from nlp_bench_pipeline.targets.local_lambda.config import HostCapacity

CATALOG = load_catalog()


def warm(billed_ms: float, client_ms: float, memory_mb: int = 1769) -> Sample:
    return Sample("warm", True, client_ms, 1, "env-1", "gw", duration_ms=billed_ms - 0.4,
                  billed_ms=billed_ms, memory_mb=memory_mb, max_memory_mb=400.0)  # fmt: skip


def cold(init_ms: float, billed_ms: float, client_ms: float, *, retried: bool = False) -> Sample:
    return Sample("cold", True, client_ms, 1, "env-1", "gw", duration_ms=billed_ms - init_ms,
                  billed_ms=billed_ms, init_ms=init_ms, memory_mb=1769,
                  init_retried=retried)  # fmt: skip


def figure(memory_mb: int, usd: float | None, duration: float | None, status="run") -> dict:
    return {"memory_mb": memory_mb, "status": status, "usd_per_invocation": usd,
            "warm_duration_p50_ms": duration}  # fmt: skip


def test_quick_sweeps_one_size_and_full_the_power_tuning_range() -> None:
    assert SweepPlan.for_profile("quick").memory_sizes_mb == (1769,)
    full = SweepPlan.for_profile("full")
    assert full.memory_sizes_mb == (512, 1024, 1769, 3008, 5120, 10240)
    assert (full.warm_invocations, full.cold_invocations) == (50, 5)
    custom = SweepPlan.for_profile("quick", memory_sizes_mb=(3008, 1024), warm_invocations=None)
    assert (custom.memory_sizes_mb, custom.warm_invocations) == ((1024, 3008), 20)


def test_a_size_outside_lambdas_range_is_refused_before_anything_runs() -> None:
    with pytest.raises(ValueError, match="outside Lambda's 128–10,240 MB"):
        SweepPlan(memory_sizes_mb=(64, 1769))


def test_the_host_refuses_a_cpu_share_or_a_memory_size_it_cannot_hold() -> None:
    host = LocalHost(HostCapacity(cores=2, memory_mb=4000))
    assert host.refusal(3008) is None  # 1.70 vCPU, 3 GB
    cpu = host.refusal(5120)
    assert cpu is not None
    assert cpu.status == "not run (host)"
    assert "2.89 vCPU; this host has 2 cores" in cpu.reason
    small = LocalHost(HostCapacity(cores=8, memory_mb=1500))
    memory = small.refusal(1769)
    assert memory is not None
    assert "1,500 MB of memory available" in memory.reason


def test_the_account_quota_is_read_from_get_account_settings() -> None:
    limit = {"ConcurrentExecutions": 10, "UnreservedConcurrentExecutions": 1, "TotalCodeSize": 1}
    settings = {"AccountLimit": limit, "AccountUsage": {"TotalCodeSize": 1, "FunctionCount": 1}}
    quota = AccountQuota.from_account_settings(settings)
    refused = quota.refusal(1769)
    assert refused is not None
    assert refused.status == "not run (quota)"
    assert "1 unreserved concurrent executions (of 10)" in refused.reason
    roomy = AccountQuota(1000, 900)
    assert roomy.refusal(10240) is None


def test_aws_refusing_a_memory_size_is_not_run_quota_and_other_errors_are_not() -> None:
    message = "'MemorySize' value failed to satisfy constraint: Member must be <= 3008"
    error = ClientError(
        {"Error": {"Code": "InvalidParameterValueException", "Message": message}},
        "CreateFunction",
    )
    refused = account_refusal(error)
    assert refused is not None
    assert refused.status == "not run (quota)"
    assert message in refused.reason
    assert account_refusal(RuntimeError("MemorySize")) is None


def test_percentiles_interpolate_as_quantile_cont() -> None:
    values = [10.0, 20.0, 30.0, 40.0, None]
    assert percentiles(values) == pytest.approx({"p50": 25.0, "p95": 38.5, "p99": 39.7})
    assert percentiles([None]) == {"p50": None, "p95": None, "p99": None}


def test_figures_come_from_report_records_warm_and_cold_apart() -> None:
    measured = SizeSamples(1769, [*(warm(b, b + 8) for b in (100, 100, 100, 110)),
                                  cold(5000, 5100, 5130), cold(9000, 9100, 30_500, retried=True)],
                           init_retries=1)  # fmt: skip
    figures = SizeResult(1769, "run", measured=measured).figures(CATALOG)
    assert figures["warm_invocations"] == 4
    assert figures["cold_invocations"] == 2
    assert figures["warm_duration_p50_ms"] == pytest.approx(99.6)
    assert figures["warm_billed_mean_ms"] == pytest.approx(102.5)
    assert figures["warm_client_p50_ms"] == pytest.approx(108.0)
    assert figures["cold_init_p50_ms"] == pytest.approx(7000.0)
    assert figures["cold_billed_p50_ms"] == pytest.approx(7100.0)
    assert figures["cold_client_p99_ms"] == pytest.approx(5130 + 0.99 * (30_500 - 5130))
    assert figures["init_retries"] == 1
    # 102.5 ms × 1,769/1,024 GB at $0.0000166667 per GB-s, $0.20 per million requests, and the
    # START/END/REPORT lines (346 bytes at $0.50 per GB): per invocation.
    by_hand = 0.1025 * 1769 / 1024 * 0.0000166667 + 0.2e-6 + 346 / 1024**3 * 0.50
    assert figures["usd_per_invocation"] == pytest.approx(by_hand, rel=1e-6)
    assert figures["usd_per_million"] == pytest.approx(by_hand * 1e6, rel=1e-6)
    assert figures["usd_per_cold_invocation"] > 50 * figures["usd_per_invocation"]


def test_a_size_not_run_has_its_reason_and_no_figures() -> None:
    figures = SizeResult(10240, "not run (host)", "6 vCPU; 2 cores").figures(CATALOG)
    assert (figures["status"], figures["reason"]) == ("not run (host)", "6 vCPU; 2 cores")
    assert figures["usd_per_invocation"] is None
    assert figures["warm_duration_p50_ms"] is None


def test_best_by_cost_speed_and_balanced() -> None:
    sizes = [figure(512, 1.0e-6, 400.0), figure(1024, 1.2e-6, 210.0), figure(3008, 3.0e-6, 100.0)]
    best = choose_best(sizes, weight=0.5)
    assert (best.by_cost, best.by_speed) == (512, 3008)
    # 0.5·cost/3e-6 + 0.5·duration/400: 512 → 0.667, 1024 → 0.4625, 3008 → 0.625
    assert best.balanced == 1024
    assert best.scores[1024] == pytest.approx(0.5 * 1.2 / 3.0 + 0.5 * 210 / 400)
    assert choose_best(sizes, weight=1.0).balanced == 512
    assert choose_best(sizes, weight=0.0).balanced == 3008


def test_sizes_that_did_not_run_are_never_best_and_ties_go_to_the_other_measure() -> None:
    sizes = [figure(512, 1.0e-6, 100.0), figure(1024, 1.0e-6, 90.0),
             figure(10240, None, None, status="not run (host)")]  # fmt: skip
    best = choose_best(sizes, weight=0.5)
    assert best.by_cost == 1024  # same cost: the faster one
    assert 10240 not in best.scores
    assert choose_best([sizes[2]], weight=0.5).picks() == dict.fromkeys(
        ("cost", "speed", "balanced")
    )


def test_sweep_rows_flag_each_strategys_pick_and_carry_the_sweep(tmp_path) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    fast = SizeSamples(3008, [warm(60, 66, 3008), cold(4000, 4060, 4070)])
    slow = SizeSamples(1769, [warm(100, 106), cold(5000, 5100, 5110)])
    result = SweepResult(
        sweep_id="sw1", target="local-lambda", profile="full", model="tiny", started_at=now,
        finished_at=now, catalog=CATALOG, weight=0.5,
        sizes=(SizeResult(1769, "run", measured=slow), SizeResult(3008, "run", measured=fast),
               SizeResult(10240, "not run (host)", "5.79 vCPU; this host has 2 cores")),
    )  # fmt: skip
    rows = {r["memory_mb"]: r for r in result.rows()}
    assert rows[1769]["best_by_cost"]
    assert not rows[1769]["best_by_speed"]
    assert rows[3008]["best_by_speed"]
    assert not any(rows[10240][k] for k in ("best_by_cost", "best_by_speed", "best_balanced"))
    assert sum(r["best_balanced"] for r in rows.values()) == 1
    assert {r["sweep_id"] for r in rows.values()} == {"sw1"}
    assert rows[10240]["balanced_score"] is None
