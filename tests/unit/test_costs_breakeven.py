"""Break-even at equal SLO: hand-made cases, the curve, interval and sensitivities."""

from __future__ import annotations

import json

import pytest

from nlp_bench_pipeline.costs.breakeven import (
    EksProfile,
    LambdaProfile,
    Workload,
    breakeven_study,
    cheapest_profile,
    cost_curve,
    default_rates,
    find_breakeven,
    lambda_month,
)
from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage
from nlp_bench_pipeline.costs.model import lambda_cost

CATALOG = load_catalog()
BARE = Workload(log_lines=False, response_bytes=0)  # only compute, requests, cluster, nodes
LAMBDA = LambdaProfile(memory_mb=1024, billed_ms=100, gateway="none")
FIXED_EKS = EksProfile(  # capacity so high the cluster never grows past its floor
    node_type="c7i.xlarge", pod_capacity_rps=1e9, load_balancer=False, nat_gateways=0
)


def test_hand_made_breakeven_is_the_fixed_cluster_over_lambdas_cost_per_rate() -> None:
    # EKS: 730 h × ($0.10 + 2 × $0.1785) + 2 × 20 GB × $0.08 = $336.81 a month, whatever the rate.
    # Lambda: each req/s is 2,628,000 requests a month at 0.1 GB-s × $0.0000166667 + $0.0000002.
    eks_month = 730 * (0.10 + 2 * 0.1785) + 2 * 20 * 0.08
    lambda_per_rps = 2_628_000 * (0.1 * 0.0000166667 + 0.0000002)
    result = find_breakeven(LAMBDA, FIXED_EKS, CATALOG, workload=BARE)
    assert result.rate_rps == pytest.approx(eks_month / lambda_per_rps, rel=1e-4)
    assert result.first_rate_rps == result.rate_rps
    assert result.cheaper_below == "lambda"


def test_curve_spans_the_range_log_spaced() -> None:
    rates = default_rates()
    assert rates[0] == pytest.approx(0.01)
    assert rates[-1] == pytest.approx(10_000)
    assert rates[1] / rates[0] == pytest.approx(rates[-1] / rates[-2])


def test_curve_prices_both_platforms_per_month_and_per_million() -> None:
    point = cost_curve(LAMBDA, FIXED_EKS, CATALOG, workload=BARE, rates=[10.0])[0]
    requests = 10 * 730 * 3600
    assert point.eks_usd_month == pytest.approx(336.81)
    assert point.lambda_usd_per_million == pytest.approx(point.lambda_usd_month / requests * 1e6)
    assert point.lambda_usd_per_million == pytest.approx(1.866667, rel=1e-5)
    assert (point.eks_pods, point.eks_nodes) == (2, 2)
    assert point.lambda_peak_concurrency == pytest.approx(1.0)


def test_eks_cheaper_across_the_range_has_no_breakeven_rate() -> None:
    dear_lambda = LambdaProfile(memory_mb=10240, billed_ms=900_000, gateway="none")
    result = find_breakeven(dear_lambda, FIXED_EKS, CATALOG, workload=BARE)
    assert (result.rate_rps, result.cheaper_below) == (None, "eks")


def test_lambda_cheaper_across_the_range_has_no_breakeven_rate() -> None:
    cheap_lambda = LambdaProfile(memory_mb=128, billed_ms=1, gateway="none")
    slow_pods = EksProfile(pod_capacity_rps=0.5)
    result = find_breakeven(cheap_lambda, slow_pods, CATALOG, workload=BARE)
    assert (result.rate_rps, result.cheaper_below) == (None, "lambda")
    assert "top of the range" in result.reason


def test_breakeven_is_where_eks_stays_cheaper_past_node_steps() -> None:
    lam = LambdaProfile(memory_mb=1769, billed_ms=60)
    eks = EksProfile(pod_capacity_rps=16)
    study = breakeven_study(lam, eks, CATALOG)
    rate = study.breakeven.rate_rps
    assert study.breakeven.first_rate_rps <= rate
    above = [p for p in study.curve if p.rate_rps >= rate]
    assert above
    assert all(p.eks_usd_month <= p.lambda_usd_month for p in above)


def test_interval_brackets_the_breakeven_from_the_measurement_spread() -> None:
    lam = LambdaProfile(memory_mb=1024, billed_ms=100, billed_ms_low=90, billed_ms_high=110)
    eks = EksProfile(pod_capacity_rps=20, pod_capacity_rps_low=18, pod_capacity_rps_high=22)
    study = breakeven_study(lam, eks, CATALOG, workload=BARE)
    low, high = study.interval_rps
    assert low <= study.breakeven.rate_rps <= high
    assert low < high


def test_lower_utilisation_and_peakier_traffic_never_lower_the_breakeven() -> None:
    lam = LambdaProfile(memory_mb=2048, billed_ms=200)
    eks = EksProfile(pod_capacity_rps=8)
    study = breakeven_study(lam, eks, CATALOG, utilisations=(0.3, 0.6, 0.9))
    by_u = [study.by_utilisation[u] for u in ("0.3", "0.6", "0.9")]
    assert all(r is not None for r in by_u)
    assert by_u[0] >= by_u[1] >= by_u[2]
    shapes = study.by_shape
    assert shapes["diurnal"] > shapes["steady"]  # the cluster holds twice the mean all month
    assert shapes["spiky"] is None or shapes["spiky"] >= shapes["diurnal"]


def test_memory_sensitivity_covers_every_measured_size() -> None:
    sizes = [LambdaProfile(memory_mb=m, billed_ms=120_000 / m) for m in (1024, 2048, 3008)]
    study = breakeven_study(
        sizes[0], EksProfile(pod_capacity_rps=10), CATALOG, alternatives=sizes[1:]
    )
    assert list(study.by_memory_mb) == ["1024", "2048", "3008"]


def test_study_is_json_serialisable_and_names_its_assumptions() -> None:
    lam = LambdaProfile(memory_mb=1769, billed_ms=60, architecture="arm")
    study = breakeven_study(lam, EksProfile(pod_capacity_rps=16), CATALOG, shape="diurnal")
    document = json.loads(json.dumps(study.model_dump(mode="json")))
    assert document["shape"] == "diurnal"
    assert document["peak_to_mean"] == 2.0
    assert len(document["curve"]) == len(default_rates())
    assert document["catalog_digest"] == CATALOG.digest()
    assert any("arm durations reused from x86 runs" in n for n in document["notes"])
    assert any("sized for the peak (2×" in n for n in document["notes"])


def test_concurrency_quota_is_flagged_where_lambda_needs_more_than_1000() -> None:
    lam = LambdaProfile(memory_mb=1769, billed_ms=500)
    study = breakeven_study(lam, EksProfile(pod_capacity_rps=4), CATALOG, rates=[1.0, 10.0])
    assert any("above 2,000 req/s" in n and "quota" in n for n in study.notes)


def test_cheapest_profile_is_the_least_cost_per_request() -> None:
    slow_small = LambdaProfile(memory_mb=512, billed_ms=400)  # 0.2 GB-s a request
    fast_big = LambdaProfile(memory_mb=2048, billed_ms=80)  # 0.16 GB-s a request
    assert cheapest_profile([slow_small, fast_big], CATALOG) == fast_big


MONTH_S = 730 * 3600
GB_1769 = 1769 / 1024
PROVISIONED = LambdaProfile(memory_mb=1769, billed_ms=100, provisioned_concurrency=10)


def test_without_provisioned_concurrency_lambda_pays_for_the_mean_whatever_the_shape() -> None:
    lam = LambdaProfile(memory_mb=1769, billed_ms=100, init_ms=5000)
    workload = Workload()
    # The rule before provisioned concurrency entered the month: 10 req/s × 730 h invocations,
    # the busy environments (1) replaced every 7,200 s, each replacement a cold start.
    rule = lambda_cost(
        lambda_usage(
            invocations=10 * MONTH_S,
            memory_mb=1769,
            duration_ms=100,
            catalog=CATALOG,
            cold_starts=10 * 100 / 1000 * MONTH_S / 7200,
            init_ms=5000,
            gateway="http",
            log_lines=True,
            response_bytes=300,
            ecr_gb_months=0.0,
        ),
        CATALOG,
    )
    for peak_to_mean in (1.0, 2.0, 5.0):
        month = lambda_month(lam, 10.0, workload, CATALOG, peak_to_mean)
        assert month.lines == rule.lines
        assert "provisioned" not in month.lines


def test_provisioned_capacity_is_the_cost_models_charge_for_the_month() -> None:
    model = lambda_cost(
        lambda_usage(
            invocations=10 * MONTH_S,
            memory_mb=1769,
            duration_ms=100,
            catalog=CATALOG,
            provisioned_concurrency=10,
        ),
        CATALOG,
    )
    for peak_to_mean in (1.0, 5.0):
        month = lambda_month(PROVISIONED, 10.0, BARE, CATALOG, peak_to_mean)
        assert month.lines["provisioned"] == model.lines["provisioned"]
        assert month.lines["provisioned"] == pytest.approx(10 * GB_1769 * MONTH_S * 0.0000041667)


def test_provisioned_environments_covering_the_peak_leave_nothing_on_demand() -> None:
    # 10 req/s of 100 ms, twice that at the peak: 2 environments busy, 10 provisioned.
    lam = PROVISIONED.model_copy(update={"init_ms": 5000.0})
    month = lambda_month(lam, 10.0, BARE, CATALOG, peak_to_mean=2.0)
    invocations = 10 * MONTH_S
    assert month.lines["compute"] == 0
    assert "init" not in month.lines  # provisioned environments' inits are not billed as duration
    assert month.lines["provisioned_duration"] == pytest.approx(
        invocations * 0.1 * GB_1769 * 0.0000097222
    )
    assert month.lines["requests"] == pytest.approx(invocations * 0.20 / 1e6)


def test_traffic_above_the_provisioned_environments_at_the_peak_goes_on_demand() -> None:
    # 100 req/s of 100 ms, 5× at the peak: 50 environments busy; 10 provisioned serve 20 %.
    invocations = 100 * MONTH_S
    gb_s = invocations * 0.1 * GB_1769
    spiky = lambda_month(PROVISIONED, 100.0, BARE, CATALOG, peak_to_mean=5.0)
    assert spiky.lines["provisioned_duration"] == pytest.approx(0.2 * gb_s * 0.0000097222)
    assert spiky.lines["compute"] == pytest.approx(0.8 * gb_s * 0.0000166667)
    assert any("at the peak (5× the mean): billed on demand" in n for n in spiky.notes)
    # at a steady 100 req/s (10 busy) they serve it all: a peakier traffic costs more
    steady = lambda_month(PROVISIONED, 100.0, BARE, CATALOG, peak_to_mean=1.0)
    assert steady.lines["compute"] == 0
    assert spiky.total_usd > steady.total_usd


def test_a_study_with_provisioned_concurrency_says_what_it_assumed() -> None:
    study = breakeven_study(
        PROVISIONED, EksProfile(pod_capacity_rps=16), CATALOG, shape="spiky", rates=[1.0, 10.0]
    )
    capacity = 10 * GB_1769 * MONTH_S * 0.0000041667
    assert all(p.lambda_usd_month > capacity for p in study.curve)
    assert any(n.startswith("Lambda with 10 provisioned environments") for n in study.notes)
    assert any("peak (5× the mean)" in n for n in study.notes)


def test_eks_under_lambdas_provisioned_charge_at_the_bottom_of_the_range_says_why() -> None:
    # 100 environments of 1,769 MB cost ~$1,890 a month at any rate; the cluster's floor less
    many = PROVISIONED.model_copy(update={"provisioned_concurrency": 100})
    result = find_breakeven(
        many, EksProfile(pod_capacity_rps=16), CATALOG, workload=Workload(), peak_to_mean=5.0
    )
    assert result.first_rate_rps == pytest.approx(0.01)
    assert "no dearer at 0.01 req/s, under Lambda's fixed charges" in result.reason
