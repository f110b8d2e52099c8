"""The cost model: a usage record priced against the catalog, line by line.

A breakdown has one line per thing AWS bills (compute, requests, gateway, nodes, ...), only the
lines that apply, and a total that is their sum — nothing is charged outside a line. Tiered
prices are applied across the month's volume; the Lambda free tier (1 M requests and 400,000
GB-s a month) is applied only when the usage asks for it, so the default answers a production
account that has spent it elsewhere.

Init is shown apart but never charged twice: since August 2025 Lambda bills the INIT phase of
on-demand environments inside Billed Duration, so the ``init`` line is the share of the duration
charge that was INIT, carved out of ``compute``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.usage import EksUsage, GatewayKind, LambdaUsage

GATEWAY_PRICES: Mapping[str, str] = {
    "http": "apigateway.http.requests",
    "rest": "apigateway.rest.requests",
}
NO_FREE_TIER_WITH_PROVISIONED = (
    "free tier not applied: AWS does not apply it to functions with provisioned concurrency"
)


@dataclass(frozen=True)
class CostBreakdown:
    """USD per billed line for one period, the total and the assumptions behind them."""

    lines: dict[str, float]
    notes: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        """The sum of the lines, in their order: exactly what a reader adding them up gets."""
        return sum(self.lines.values(), 0.0)

    def to_dict(self) -> dict[str, Any]:
        """``{"<line>_usd": ..., "total_usd": ..., "notes": [...]}``, JSON-serialisable."""
        return {
            **{f"{name}_usd": usd for name, usd in self.lines.items()},
            "total_usd": self.total_usd,
            "notes": list(self.notes),
        }


def lambda_cost(usage: LambdaUsage, catalog: PriceCatalog) -> CostBreakdown:
    """Price Lambda usage (and the API Gateway in front of it) for its period."""
    region, arch = usage.region, usage.architecture
    notes = list(usage.notes)
    provisioned = usage.provisioned_capacity_gb_s > 0 or usage.provisioned_duration_gb_s > 0
    free_tier = usage.free_tier and not provisioned
    if usage.free_tier and provisioned:
        notes.append(NO_FREE_TIER_WITH_PROVISIONED)
    free_gb_s = catalog.allowance("lambda.free_tier.gb_s").quantity if free_tier else 0.0
    free_requests = catalog.allowance("lambda.free_tier.requests").quantity if free_tier else 0.0

    init_billed = catalog.fact("lambda.on_demand_init_billed") >= 1
    on_demand_gb_s = usage.billed_gb_s if init_billed else usage.billed_gb_s - usage.init_gb_s
    duration_usd = catalog.price(f"lambda.duration.{arch}", region).cost(
        on_demand_gb_s, free=free_gb_s
    )
    init_usd = (
        duration_usd * usage.init_gb_s / on_demand_gb_s if init_billed and on_demand_gb_s else 0.0
    )
    lines = {"compute": duration_usd - init_usd}
    if init_usd:
        lines["init"] = init_usd
    if usage.init_gb_s and not init_billed:
        notes.append("Init Duration not billed (catalog: lambda.on_demand_init_billed = 0)")
    lines["requests"] = catalog.price("lambda.requests", region).cost(
        usage.invocations, free=free_requests
    )
    if provisioned:
        lines["provisioned"] = catalog.price(f"lambda.provisioned.capacity.{arch}", region).cost(
            usage.provisioned_capacity_gb_s
        )
        lines["provisioned_duration"] = catalog.price(
            f"lambda.provisioned.duration.{arch}", region
        ).cost(usage.provisioned_duration_gb_s)
    if usage.gateway != "none":
        requests = usage.invocations if usage.gateway_requests is None else usage.gateway_requests
        lines["gateway"] = gateway_cost(usage.gateway, requests, catalog, region)
    _add_common_lines(lines, usage, "cloudwatch.logs.ingest.lambda", catalog, region)
    return CostBreakdown(lines, notes)


def gateway_cost(kind: GatewayKind, requests: float, catalog: PriceCatalog, region: str) -> float:
    """USD for ``requests`` metered API Gateway calls in a month (tiered; no free tier)."""
    if kind == "none":
        return 0.0
    return catalog.price(GATEWAY_PRICES[kind], region).cost(requests)


def http_api_metered_requests(requests: float, request_kb: float, catalog: PriceCatalog) -> float:
    """HTTP API calls as metered: each started 512 KB of a request counts as one more call."""
    increment = catalog.fact("apigateway.http.metering_increment_kb")
    return requests * max(1, math.ceil(request_kb / increment))


def eks_cost(usage: EksUsage, catalog: PriceCatalog) -> CostBreakdown:
    """Price an EKS cluster, its nodes and what fronts them for the period."""
    region = usage.region
    support = "extended" if usage.extended_support else "standard"
    node = catalog.instance(usage.node_type, region)
    lines = {
        "control_plane": catalog.price(f"eks.cluster.{support}", region).cost(usage.cluster_hours),
        "nodes": node.usd_per_hour * usage.node_hours,
    }
    if usage.ebs_gb_months:
        lines["storage"] = catalog.price("ebs.gp3.storage", region).cost(usage.ebs_gb_months)
    if usage.load_balancer_hours or usage.lcu_hours:
        lines["load_balancer"] = catalog.price("elb.alb.hours", region).cost(
            usage.load_balancer_hours
        ) + catalog.price("elb.alb.lcu", region).cost(usage.lcu_hours)
    if usage.nat_gateway_hours or usage.nat_processed_gb:
        lines["nat_gateway"] = catalog.price("vpc.nat_gateway.hours", region).cost(
            usage.nat_gateway_hours
        ) + catalog.price("vpc.nat_gateway.processed", region).cost(usage.nat_processed_gb)
    _add_common_lines(lines, usage, "cloudwatch.logs.ingest.standard", catalog, region)
    return CostBreakdown(lines, list(usage.notes))


def _add_common_lines(
    lines: dict[str, float],
    usage: LambdaUsage | EksUsage,
    log_price: str,
    catalog: PriceCatalog,
    region: str,
) -> None:
    """Logs, the image registry and data transfer out: billed alike on both platforms."""
    if usage.log_ingest_gb:
        lines["logs"] = catalog.price(log_price, region).cost(usage.log_ingest_gb)
    if usage.ecr_gb_months:
        lines["registry"] = catalog.price("ecr.storage", region).cost(usage.ecr_gb_months)
    if usage.data_out_gb:
        lines["data_transfer"] = catalog.price("data_transfer.internet_out", region).cost(
            usage.data_out_gb
        )


def per_million_inferences(
    total_usd: float, requests: float, texts_per_request: float = 1.0
) -> float:
    """USD per million inferences, where an inference is one text classified.

    A request carrying k texts is k inferences: its whole cost (the invocation, its duration,
    the gateway call) is shared by its k texts, so batching texts into one request lowers the
    cost per inference. Requests are counted as billed — failed ones included — and
    ``texts_per_request`` is the mean number of texts over them (1 for this benchmark's load,
    which sends one text per request).
    """
    texts = requests * texts_per_request
    if texts <= 0:
        raise ValueError(f"no inferences to divide the cost by ({requests} × {texts_per_request})")
    return total_usd / texts * 1e6
