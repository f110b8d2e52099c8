"""docs/deploy-aws.md's per-hour costs are the cost model's, from the catalog: each line of the
idle environment, the total, and provisioned concurrency per environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nlp_bench_pipeline.costs import EksUsage, LambdaUsage, eks_cost, lambda_cost, load_catalog
from nlp_bench_pipeline.costs.lambda_usage import gb_seconds

ROOT = Path(__file__).resolve().parents[2]
GUIDE = (ROOT / "docs" / "deploy-aws.md").read_text()
REGION = "us-east-1"
# infra/terraform defaults: 2 service + 1 Locust node (c6i.large, 40 GiB each), the app server
# (c6i.xlarge, 60 GiB), one NAT gateway, the ALB while the Ingress exists.
NODE_DISKS_GB, APP_SERVER_DISK_GB = 3 * 40, 60


def guide_rows() -> dict[str, str]:
    """The cost table's rows: item → the per-hour cell."""
    table = GUIDE.split("## Cost warning", 1)[1].split("\n\n", 3)[2]
    rows = [line.strip("|").split("|") for line in table.splitlines()[2:]]
    return {item.strip(): cost.strip() for item, cost in rows}


def dollars(cell: str) -> float:
    return float(re.search(r"\$([0-9.]+)", cell).group(1))


@pytest.fixture(scope="module")
def hour() -> dict[str, float]:
    catalog = load_catalog()
    hours_per_month = catalog.fact("month.hours")
    usage = EksUsage(
        node_type="c6i.large",
        node_hours=3,
        cluster_hours=1,
        load_balancer_hours=1,
        ebs_gb_months=(NODE_DISKS_GB + APP_SERVER_DISK_GB) / hours_per_month,
        nat_gateway_hours=1,
        region=REGION,
    )
    lines = dict(eks_cost(usage, catalog).lines)
    lines["app_server"] = catalog.instance("c6i.xlarge", REGION).usd_per_hour
    lines["node"] = catalog.instance("c6i.large", REGION).usd_per_hour
    return lines


def test_each_line_of_the_cost_table_is_the_cost_models(hour: dict[str, float]) -> None:
    rows = guide_rows()
    expected = {
        "EKS control plane": hour["control_plane"],
        "2 service nodes": 2 * hour["node"],
        "1 Locust node": hour["node"],
        "app server": hour["app_server"],
        "NAT gateway": hour["nat_gateway"],
        "ALB, while the Ingress exists": hour["load_balancer"],
        "gp3 root volumes": hour["storage"],
    }
    for prefix, usd in expected.items():
        (cell,) = [cost for item, cost in rows.items() if item.startswith(prefix)]
        assert dollars(cell) == pytest.approx(usd, abs=0.00051), prefix  # three decimals


def test_the_idle_total_per_hour_and_per_day(hour: dict[str, float]) -> None:
    total = sum(v for k, v in hour.items() if k != "node")
    (cell,) = [cost for item, cost in guide_rows().items() if "idle" in item]
    per_hour, per_day = re.findall(r"\$([0-9.]+)", cell)
    assert float(per_hour) == pytest.approx(total, abs=0.005)
    assert float(per_day) == pytest.approx(total * 24, abs=0.5)


def test_provisioned_concurrency_per_environment_hour_is_the_cost_models() -> None:
    catalog = load_catalog()
    usage = LambdaUsage(
        invocations=0,
        memory_mb=2048,
        billed_gb_s=0,
        provisioned_capacity_gb_s=gb_seconds(3_600_000, 2048),
        region=REGION,
    )
    per_hour = lambda_cost(usage, catalog).total_usd
    stated = re.search(r"about \$([0-9.]+) an hour per environment at 2,048 MB", GUIDE)
    assert stated is not None
    assert float(stated.group(1)) == pytest.approx(per_hour, abs=0.005)
