"""Lambda usage from per-invocation figures and from REPORT records."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.costs.lambda_usage import (
    billed_ms,
    gb_seconds,
    lambda_log_gb,
    lambda_usage,
    lambda_usage_from_reports,
    provisioned_invocations,
)
from nlp_bench_pipeline.costs.usage import EksUsage, LambdaUsage

CATALOG = load_catalog()


def report(billed: float, duration: float, init: float | None = None, **kw: object) -> dict:
    return {"billed_ms": billed, "duration_ms": duration, "init_ms": init, "memory_mb": 1024, **kw}


def test_billed_duration_rounds_up_to_the_millisecond() -> None:
    assert billed_ms(27.55) == 28
    assert billed_ms(28.0) == 28
    assert billed_ms(0.2) == 1


def test_reports_scale_billed_duration_and_memory_to_the_month() -> None:
    reports = [report(100, 99.2), report(300, 299.5), report(6200, 150.3, init=6049.1)]
    usage = lambda_usage_from_reports(reports, 3e6, CATALOG)
    # Each report stands for a million invocations: (100 + 300 + 6200) ms × 1 GB.
    assert usage.billed_gb_s == pytest.approx(1e6 * 6.6)
    assert usage.init_gb_s == pytest.approx(1e6 * 6.0491)
    assert usage.memory_mb == 1024
    assert usage.invocations == 3e6


def test_provisioned_environments_inits_are_not_billed_as_duration() -> None:
    reports = [
        report(6200, 150.3, init=6049.1, provisioned=True),
        report(120, 119.4, provisioned=True),
        report(130, 129.1),
    ]
    usage = lambda_usage_from_reports(reports, 3, CATALOG, provisioned_concurrency=2, hours=1)
    assert usage.provisioned_duration_gb_s == pytest.approx(gb_seconds(151 + 120, 1024))
    assert usage.billed_gb_s == pytest.approx(gb_seconds(130, 1024))
    assert usage.init_gb_s == 0
    assert usage.provisioned_invocations == 2
    assert usage.provisioned_capacity_gb_s == pytest.approx(2 * 3600 * 1.0)


def test_provisioned_reports_need_the_provisioned_concurrency() -> None:
    with pytest.raises(ValueError, match="give provisioned_concurrency"):
        lambda_usage_from_reports([report(120, 119.4, provisioned=True)], 1e6, CATALOG)


def test_reports_of_several_memory_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="mix memory sizes"):
        lambda_usage_from_reports([report(1, 1), report(1, 1, memory_mb=512)], 1e6, CATALOG)


def test_a_report_without_billed_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="lacks billed_ms"):
        lambda_usage_from_reports([{"duration_ms": 3, "memory_mb": 128}], 1e6, CATALOG)


def test_arm_priced_from_x86_runs_says_the_durations_are_reused() -> None:
    usage = lambda_usage_from_reports([report(100, 99.2)], 1e6, CATALOG, architecture="arm")
    assert usage.architecture == "arm"
    assert any("arm durations reused from x86 runs" in note for note in usage.notes)


def test_each_invoke_logs_start_end_and_report_lines() -> None:
    per_invoke = 71 + 52 + 145 + 3 * 26
    assert lambda_log_gb(CATALOG, 1e6, 0) == pytest.approx(1e6 * per_invoke / 1024**3)
    assert lambda_log_gb(CATALOG, 1e6, 1e3) - lambda_log_gb(CATALOG, 1e6, 0) == pytest.approx(
        1e3 * 26 / 1024**3
    )


def test_cold_starts_add_their_init_to_billed_duration() -> None:
    usage = lambda_usage(
        invocations=1000,
        memory_mb=2048,
        duration_ms=50,
        catalog=CATALOG,
        cold_starts=10,
        init_ms=7000,
    )
    assert usage.billed_gb_s == pytest.approx(gb_seconds(1000 * 50 + 10 * 7000, 2048))
    assert usage.init_gb_s == pytest.approx(gb_seconds(10 * 7000, 2048))


def test_provisioned_concurrency_serves_up_to_its_capacity_then_spills_over() -> None:
    # One environment for 1 h serves 3,600 one-second invocations; the other 1,400 go on demand.
    usage = lambda_usage(
        invocations=5000,
        memory_mb=1024,
        duration_ms=1000,
        catalog=CATALOG,
        provisioned_concurrency=1,
        hours=1,
    )
    assert usage.provisioned_invocations == pytest.approx(3600)
    assert usage.provisioned_duration_gb_s == pytest.approx(3600)
    assert usage.billed_gb_s == pytest.approx(1400)
    assert usage.provisioned_capacity_gb_s == pytest.approx(3600)
    assert any("billed on demand" in note for note in usage.notes)


def test_provisioned_environments_serve_their_share_of_the_peak_the_rest_goes_on_demand() -> None:
    # 1,800 one-second invocations in 1 h: half an environment busy on average. At a peak of 2×
    # the mean one environment is busy, which one provisioned serves; at 4×, two are, and it
    # serves half of them: 900 on demand.
    assert provisioned_invocations(1800, 1, 1, 1000, peak_to_mean=2) == pytest.approx(1800)
    assert provisioned_invocations(1800, 1, 1, 1000, peak_to_mean=4) == pytest.approx(900)
    usage = lambda_usage(
        invocations=1800,
        memory_mb=1024,
        duration_ms=1000,
        catalog=CATALOG,
        provisioned_concurrency=1,
        hours=1,
        peak_to_mean=4,
    )
    assert usage.provisioned_invocations == pytest.approx(900)
    assert usage.billed_gb_s == pytest.approx(900)
    assert usage.provisioned_capacity_gb_s == pytest.approx(3600)  # the peak does not change it
    assert any("at the peak (4× the mean): billed on demand" in note for note in usage.notes)


def test_without_provisioned_concurrency_the_peak_changes_nothing() -> None:
    assert provisioned_invocations(1800, 0, 1, 1000, peak_to_mean=5) == 0
    figures = dict(invocations=1800, memory_mb=1024, duration_ms=100, catalog=CATALOG)
    assert lambda_usage(**figures, peak_to_mean=5) == lambda_usage(**figures)


def test_a_peak_below_the_mean_is_refused() -> None:
    with pytest.raises(ValueError, match="peak is at least its mean"):
        provisioned_invocations(1800, 1, 1, 1000, peak_to_mean=0.5)


def test_more_cold_starts_than_on_demand_invocations_is_refused() -> None:
    with pytest.raises(ValueError, match="cold starts but only"):
        lambda_usage(
            invocations=10,
            memory_mb=1024,
            duration_ms=10,
            catalog=CATALOG,
            cold_starts=11,
            init_ms=1,
        )


def test_negative_quantities_are_refused() -> None:
    with pytest.raises(ValueError, match=r"LambdaUsage\.billed_gb_s is -1"):
        LambdaUsage(invocations=1, memory_mb=1024, billed_gb_s=-1.0)
    with pytest.raises(ValueError, match=r"EksUsage\.node_hours is nan"):
        EksUsage(node_type="c7i.large", node_hours=float("nan"), cluster_hours=1)
