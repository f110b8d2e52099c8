"""The cost model against AWS's published worked examples and hand-computed months.

AWS's Lambda examples round the GB-s price to $0.00001667 and state the result in cents; the
catalog keeps $0.0000166667, so each example is reproduced within $0.01.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nlp_bench_pipeline.costs.catalog import DEFAULT_CATALOG, load_catalog
from nlp_bench_pipeline.costs.lambda_usage import gb_seconds
from nlp_bench_pipeline.costs.model import (
    eks_cost,
    gateway_cost,
    http_api_metered_requests,
    lambda_cost,
    per_million_inferences,
)
from nlp_bench_pipeline.costs.usage import EksUsage, LambdaUsage

CATALOG = load_catalog()
CENT = 0.01


def on_demand(invocations: float, memory_mb: int, duration_ms: float, **kw: object) -> LambdaUsage:
    return LambdaUsage(
        invocations=invocations,
        memory_mb=memory_mb,
        billed_gb_s=gb_seconds(invocations * duration_ms, memory_mb),
        **kw,
    )


# ---------------------------------------------------------------- AWS Lambda pricing page


def test_aws_example_512mb_3m_invocations_1s_with_free_tier() -> None:
    # 1,500,000 GB-s − 400,000 free = 1,100,000 × $0.00001667 = $18.34; 2 M requests = $0.40.
    cost = lambda_cost(on_demand(3e6, 512, 1000, free_tier=True), CATALOG)
    assert cost.lines["compute"] == pytest.approx(18.34, abs=CENT)
    assert cost.lines["requests"] == pytest.approx(0.40, abs=CENT)
    assert cost.total_usd == pytest.approx(18.74, abs=CENT)


def test_aws_example_128mb_30m_invocations_200ms_with_free_tier() -> None:
    # 750,000 GB-s − 400,000 free = 350,000 × $0.00001667 = $5.83; 29 M requests = $5.80.
    cost = lambda_cost(on_demand(30e6, 128, 200, free_tier=True), CATALOG)
    assert cost.lines["compute"] == pytest.approx(5.83, abs=CENT)
    assert cost.lines["requests"] == pytest.approx(5.80, abs=CENT)
    assert cost.total_usd == pytest.approx(11.63, abs=CENT)


def test_aws_example_provisioned_concurrency_1024mb_1000_for_two_hours() -> None:
    # 1,000 × 7,200 s × 1 GB = 7.2 M GB-s × $0.0000041667 = $30.00; 1.2 M × 1 s × 1 GB at
    # $0.0000097222 = $11.67; 1.2 M requests = $0.24; total $41.91 (no free tier with PC).
    usage = LambdaUsage(
        invocations=1.2e6,
        memory_mb=1024,
        billed_gb_s=0,
        provisioned_capacity_gb_s=1000 * 7200 * 1.0,
        provisioned_duration_gb_s=1.2e6 * 1.0,
        provisioned_invocations=1.2e6,
    )
    cost = lambda_cost(usage, CATALOG)
    assert cost.lines["provisioned"] == pytest.approx(30.00, abs=CENT)
    assert cost.lines["provisioned_duration"] == pytest.approx(11.67, abs=CENT)
    assert cost.lines["requests"] == pytest.approx(0.24, abs=CENT)
    assert cost.total_usd == pytest.approx(41.91, abs=CENT)


def test_free_tier_off_bills_every_gb_second_and_request() -> None:
    cost = lambda_cost(on_demand(3e6, 512, 1000), CATALOG)
    assert cost.lines["compute"] == pytest.approx(1.5e6 * 0.0000166667)
    assert cost.lines["requests"] == pytest.approx(0.60)


def test_arm_duration_is_billed_at_the_arm_rate() -> None:
    cost = lambda_cost(on_demand(3e6, 1536, 120, architecture="arm"), CATALOG)
    assert cost.lines["compute"] == pytest.approx(540_000 * 0.0000133334)


def test_free_tier_is_not_applied_with_provisioned_concurrency_and_says_so() -> None:
    usage = LambdaUsage(
        invocations=2e6,
        memory_mb=1024,
        billed_gb_s=0,
        provisioned_capacity_gb_s=1e6,
        provisioned_duration_gb_s=2e5,
        provisioned_invocations=2e6,
        free_tier=True,
    )
    cost = lambda_cost(usage, CATALOG)
    assert cost.lines["requests"] == pytest.approx(0.40)
    assert any("provisioned concurrency" in note for note in cost.notes)


def test_duration_tiers_apply_across_the_monthly_volume() -> None:
    # 7 B GB-s of x86: 6 B at $0.0000166667, the next 1 B at $0.0000150000.
    usage = LambdaUsage(invocations=0, memory_mb=1024, billed_gb_s=7e9)
    cost = lambda_cost(usage, CATALOG)
    assert cost.lines["compute"] == pytest.approx(6e9 * 0.0000166667 + 1e9 * 0.000015)


# ---------------------------------------------------------------- init carve-out


def test_init_is_carved_out_of_compute_never_added() -> None:
    with_init = on_demand(1e6, 1769, 100, init_gb_s=gb_seconds(1000 * 6000, 1769))
    without_split = on_demand(1e6, 1769, 100)
    split, whole = lambda_cost(with_init, CATALOG), lambda_cost(without_split, CATALOG)
    assert split.total_usd == pytest.approx(whole.total_usd)
    assert split.lines["compute"] + split.lines["init"] == pytest.approx(whole.lines["compute"])
    assert split.lines["init"] == pytest.approx(gb_seconds(1000 * 6000, 1769) * 0.0000166667)


def test_init_share_follows_the_tiered_and_free_charge() -> None:
    usage = on_demand(3e6, 512, 1000, init_gb_s=150_000, free_tier=True)
    cost = lambda_cost(usage, CATALOG)
    compute = cost.lines["compute"] + cost.lines["init"]
    assert cost.lines["init"] == pytest.approx(compute * 150_000 / 1_500_000)


def test_init_exceeding_billed_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="Init Duration is part of Billed Duration"):
        LambdaUsage(invocations=1, memory_mb=512, billed_gb_s=1.0, init_gb_s=2.0)


def test_a_catalog_where_init_is_free_bills_duration_without_it(tmp_path: Path) -> None:
    data = yaml.safe_load(DEFAULT_CATALOG.read_text())
    next(f for f in data["facts"] if f["id"] == "lambda.on_demand_init_billed")["value"] = 0
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data))
    usage = on_demand(1e6, 1024, 100, init_gb_s=10_000)
    cost = lambda_cost(usage, load_catalog(path))
    assert "init" not in cost.lines
    assert cost.lines["compute"] == pytest.approx((100_000 - 10_000) * 0.0000166667)


# ---------------------------------------------------------------- API Gateway


def test_aws_rest_api_example_5m_calls_with_3kb_responses() -> None:
    # 5 M × $3.50/M = $17.50; 3 KB × 5 M = 14.3 GB out × $0.09 = $1.29; total $18.79.
    usage = LambdaUsage(
        invocations=5e6,
        memory_mb=128,
        billed_gb_s=0,
        gateway="rest",
        data_out_gb=3 * 5e6 / 1024**2,
    )
    cost = lambda_cost(usage, CATALOG)
    assert cost.lines["gateway"] == pytest.approx(17.50, abs=CENT)
    assert cost.lines["data_transfer"] == pytest.approx(1.29, abs=CENT)
    assert cost.lines["gateway"] + cost.lines["data_transfer"] == pytest.approx(18.79, abs=CENT)


def test_aws_http_api_example_crosses_the_300m_tier() -> None:
    # The page's HTTP API example: 300 M × $1.00/M + 132 M × $0.90/M = $418.80.
    assert gateway_cost("http", 432e6, CATALOG, "us-east-1") == pytest.approx(418.80, abs=CENT)


def test_http_api_meters_each_started_512kb_as_a_call() -> None:
    assert http_api_metered_requests(1000, 1, CATALOG) == 1000
    assert http_api_metered_requests(1000, 512, CATALOG) == 1000
    assert http_api_metered_requests(1000, 513, CATALOG) == 2000


def test_gateway_line_bills_one_call_per_invocation_by_default() -> None:
    cost = lambda_cost(on_demand(1e6, 512, 10, gateway="http"), CATALOG)
    assert cost.lines["gateway"] == pytest.approx(1.00)
    assert "gateway" not in lambda_cost(on_demand(1e6, 512, 10), CATALOG).lines


# ---------------------------------------------------------------- EKS


def test_hand_computed_eks_month() -> None:
    # 3 × c7i.xlarge × 730 h × $0.1785 = $390.915; control plane 730 × $0.10 = $73.00;
    # 3 × 20 GB gp3 × $0.08 = $4.80; ALB 730 × $0.0225 = $16.425 + 730 LCU-h × $0.008 = $5.84;
    # one NAT gateway 730 × $0.045 = $32.85 + 10 GB × $0.045 = $0.45.
    usage = EksUsage(
        node_type="c7i.xlarge",
        node_hours=3 * 730,
        cluster_hours=730,
        ebs_gb_months=60,
        load_balancer_hours=730,
        lcu_hours=730,
        nat_gateway_hours=730,
        nat_processed_gb=10,
    )
    cost = eks_cost(usage, CATALOG)
    assert cost.lines == pytest.approx(
        {
            "control_plane": 73.00,
            "nodes": 390.915,
            "storage": 4.80,
            "load_balancer": 16.425 + 5.84,
            "nat_gateway": 32.85 + 0.45,
        }
    )
    assert cost.total_usd == pytest.approx(524.28, abs=CENT)


def test_extended_support_bills_the_extended_control_plane_rate() -> None:
    usage = EksUsage(
        node_type="c7g.large", node_hours=730, cluster_hours=730, extended_support=True
    )
    cost = eks_cost(usage, CATALOG)
    assert cost.lines == pytest.approx({"control_plane": 438.0, "nodes": 730 * 0.0725})


def test_lambda_logs_cross_their_volume_tiers() -> None:
    usage = LambdaUsage(invocations=0, memory_mb=128, billed_gb_s=0, log_ingest_gb=20_480)
    cost = lambda_cost(usage, CATALOG)
    assert cost.lines["logs"] == pytest.approx(10_240 * 0.50 + 10_240 * 0.25)


# ---------------------------------------------------------------- totals and per million


def test_total_is_exactly_the_sum_of_the_lines() -> None:
    usage = on_demand(
        7e7, 1769, 61.3, gateway="rest", log_ingest_gb=3.3, data_out_gb=9.1, ecr_gb_months=2.5
    )
    cost = lambda_cost(usage, CATALOG)
    assert set(cost.lines) == {
        "compute",
        "requests",
        "gateway",
        "logs",
        "registry",
        "data_transfer",
    }
    assert cost.total_usd == sum(cost.lines.values())
    document = cost.to_dict()
    lines = [v for k, v in document.items() if k.endswith("_usd") and k != "total_usd"]
    assert document["total_usd"] == sum(lines)


def test_per_million_inferences_shares_a_request_among_its_texts() -> None:
    assert per_million_inferences(10.0, 2e6) == pytest.approx(5.0)
    assert per_million_inferences(10.0, 2e6, texts_per_request=4) == pytest.approx(1.25)
    with pytest.raises(ValueError, match="no inferences"):
        per_million_inferences(10.0, 0)


def test_an_unknown_node_type_is_a_lookup_error_naming_it() -> None:
    with pytest.raises(KeyError, match=r"t3\.medium"):
        eks_cost(EksUsage(node_type="t3.medium", node_hours=1, cluster_hours=1), CATALOG)
