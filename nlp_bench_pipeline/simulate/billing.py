"""Where the simulator meets the cost model: a simulated period as usage records, priced.

The usage records (``costs.usage``) are the same a measured run reduces to, and the cost model
(``costs.model``) prices them against the catalog, so a simulated day and a benchmark run are
billed by one piece of code. The per-request facts — log lines per invoke, an ALB's LCUs, a
node's root volume, the response size — come from the costs package too, with its assumptions.
Tiered prices are monthly: a period shorter than a month is priced as if it were the month's
whole volume (for a day, every volume sits in the first tier).
"""

from __future__ import annotations

from dataclasses import dataclass

from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.eks_sizing import BYTES_PER_GB, AlbTraffic, alb_lcus
from nlp_bench_pipeline.costs.lambda_usage import gb_seconds, lambda_log_gb
from nlp_bench_pipeline.costs.model import CostBreakdown, eks_cost, lambda_cost
from nlp_bench_pipeline.costs.usage import EksUsage, LambdaUsage
from nlp_bench_pipeline.simulate.eks_model import HOUR_S, EksSettings, EksTotals
from nlp_bench_pipeline.simulate.lambda_model import LambdaSettings, LambdaTotals

DEFAULT_ALB = AlbTraffic()  # the costs package's assumptions: one request per connection, ...


@dataclass(frozen=True)
class PeriodCost:
    """The period's breakdown, and what it comes to per million requests and per month."""

    breakdown: CostBreakdown
    requests: int
    period_s: float
    month_hours: float

    def to_dict(self) -> dict[str, object]:
        total = self.breakdown.total_usd
        per_million = total / self.requests * 1e6 if self.requests else None
        return {
            **self.breakdown.to_dict(),
            "per_million_requests_usd": per_million,
            "per_month_usd": total * self.month_hours * HOUR_S / self.period_s,
            "month_note": f"the period's cost x {self.month_hours:g} h / period (linear)",
        }


def lambda_usage(
    settings: LambdaSettings,
    totals: LambdaTotals,
    period_s: float,
    catalog: PriceCatalog,
    alb: AlbTraffic = DEFAULT_ALB,
) -> LambdaUsage:
    """GB-seconds from billed durations (never client latency); gateway calls as received."""
    mb = settings.memory_mb
    return LambdaUsage(
        invocations=totals.invocations,
        memory_mb=mb,
        billed_gb_s=gb_seconds(totals.billed_ms, mb),
        init_gb_s=gb_seconds(totals.init_billed_ms, mb),
        provisioned_capacity_gb_s=settings.provisioned_concurrency * gb_seconds(period_s * 1e3, mb),
        provisioned_duration_gb_s=gb_seconds(totals.provisioned_ms, mb),
        provisioned_invocations=totals.provisioned_invocations,
        architecture=settings.architecture,
        gateway=settings.gateway,
        # a 429 from the gateway's own throttle is not a billed call
        gateway_requests=totals.requests - totals.rate_limited,
        log_ingest_gb=lambda_log_gb(catalog, totals.invocations, totals.cold_starts),
        data_out_gb=totals.invocations * alb.response_bytes / BYTES_PER_GB,
        notes=("simulated: responses of the size costs.eks_sizing.AlbTraffic assumes",),
    )


def eks_usage(
    settings: EksSettings,
    totals: EksTotals,
    period_s: float,
    catalog: PriceCatalog,
    alb: AlbTraffic = DEFAULT_ALB,
) -> EksUsage:
    """Node-hours as the simulated nodes lived; the ALB's LCUs hour by hour."""
    hours = period_s / HOUR_S
    node_hours = totals.node_seconds / HOUR_S
    lcu_hours = sum(
        alb_lcus(count / HOUR_S, alb, catalog) for count in totals.requests_per_hour.values()
    )
    return EksUsage(
        node_type=settings.node_type,
        node_hours=node_hours,
        cluster_hours=hours,
        load_balancer_hours=hours,
        lcu_hours=lcu_hours,
        ebs_gb_months=node_hours * catalog.fact("eks.node_volume_gb") / catalog.fact("month.hours"),
        data_out_gb=totals.requests * alb.response_bytes / BYTES_PER_GB,
        notes=("simulated: ALB traffic as costs.eks_sizing.AlbTraffic assumes",),
    )


def period_cost(
    usage: LambdaUsage | EksUsage, requests: int, period_s: float, catalog: PriceCatalog
) -> PeriodCost:
    """The cost model's breakdown of the period."""
    breakdown = (
        lambda_cost(usage, catalog) if isinstance(usage, LambdaUsage) else eks_cost(usage, catalog)
    )
    return PeriodCost(breakdown, requests, period_s, catalog.fact("month.hours"))
