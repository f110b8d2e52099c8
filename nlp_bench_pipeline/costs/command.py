"""``nlp-bench cost``: price a Lambda or EKS month, or find the break-even rate from the runs.

``cost lambda`` and ``cost eks`` price what the user states, with AWS's defaults (no free tier,
no gateway, no init or provisioned charge unless asked), so they reproduce AWS's own worked
examples; ``cost breakeven`` reads the latest complete runs from the metric store. ``--json``
prints the breakdown as ``{"<line>_usd": ..., "total_usd": ...}`` where the total is the sum of
the printed lines; otherwise a table. Bad options: one line naming the option, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nlp_bench_pipeline.core.options import OneLineParser, number
from nlp_bench_pipeline.core.platform_facts import LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB
from nlp_bench_pipeline.costs.breakeven import (
    PEAK_TO_MEAN,
    BreakEvenStudy,
    EksProfile,
    LambdaProfile,
    Workload,
    breakeven_study,
    cheapest_profile,
)
from nlp_bench_pipeline.costs.catalog import (
    CatalogError,
    CatalogLookupError,
    PriceCatalog,
    load_catalog,
)
from nlp_bench_pipeline.costs.eks_sizing import AlbTraffic, eks_usage
from nlp_bench_pipeline.costs.lambda_usage import billed_ms, lambda_usage
from nlp_bench_pipeline.costs.measured import (
    MeasuredLambda,
    MeasuredPods,
    lambda_measurements,
    latest_profile,
    pod_measurements,
)
from nlp_bench_pipeline.costs.model import (
    CostBreakdown,
    eks_cost,
    http_api_metered_requests,
    lambda_cost,
    per_million_inferences,
)
from nlp_bench_pipeline.costs.pod_capacity import PodCapacity, pod_capacity
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION
from nlp_bench_pipeline.store.database import MetricStore

LAMBDA_TARGETS = ("aws-lambda", "local-lambda")
KUBERNETES_TARGETS = ("aws-eks", "local-k8s")
DEFAULT_SLO_MS = 2000.0  # the project's default p99 bound (bench plan's slo_p99_ms)
Handler = Callable[[argparse.Namespace], int]


def register(subparsers: argparse._SubParsersAction, *, default_db: Path | None = None) -> None:
    """Add ``cost`` with its ``lambda``, ``eks`` and ``breakeven`` subcommands.

    ``default_db`` is ``cost breakeven --db``'s default. Pass the CLI's default here rather than
    on a parent parser: argparse copies a subcommand's defaults over the parent's values, so a
    parent-level ``--db`` would be replaced by this one's.
    """
    cost = subparsers.add_parser(
        "cost", help="price Lambda or EKS, or find the break-even rate", description=__doc__
    )
    commands = cost.add_subparsers(
        dest="cost_command",
        required=True,
        metavar="{lambda,eks,breakeven}",
        parser_class=OneLineParser,
    )
    _lambda_parser(commands)
    _eks_parser(commands)
    _breakeven_parser(commands, default_db)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--region", default=DEFAULT_REGION, help="catalog region (default %(default)s)"
    )
    parser.add_argument(
        "--catalog", type=Path, help="price catalog YAML (default: the shipped one)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _lambda_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("lambda", help="a month of Lambda (and API Gateway)")
    parser.add_argument(
        "--memory-mb",
        type=number(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, integer=True),
        required=True,
    )
    parser.add_argument("--invocations", type=number(0), required=True, help="per month")
    parser.add_argument(
        "--duration-ms",
        type=number(0.001),
        required=True,
        help="Duration per invocation; billed rounded up to the next ms",
    )
    parser.add_argument("--free-tier", action="store_true", help="apply Lambda's monthly free tier")
    parser.add_argument("--arch", choices=["x86", "arm"], default="x86")
    parser.add_argument("--gateway", choices=["none", "http", "rest"], default="none")
    parser.add_argument(
        "--request-kb",
        type=number(0),
        default=1.0,
        help="request size: HTTP API meters each started 512 KB as a call (default 1)",
    )
    parser.add_argument("--init-ms", type=number(0), help="Init Duration of a cold start")
    parser.add_argument("--cold-starts", type=number(0), help="cold starts per month")
    parser.add_argument(
        "--provisioned",
        type=number(0, integer=True),
        default=0,
        help="provisioned concurrency (environments kept warm)",
    )
    parser.add_argument(
        "--hours", type=number(0.001), help="hours provisioned concurrency is on (default: month)"
    )
    parser.add_argument("--logs", action="store_true", help="add CloudWatch START/END/REPORT lines")
    parser.add_argument("--texts-per-request", type=number(1), default=1.0)
    _common(parser)
    parser.set_defaults(handler=_guarded(lambda_command))


def _eks_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("eks", help="a month of an EKS cluster and its nodes")
    parser.add_argument("--node-type", required=True, help="e.g. c7i.xlarge, c7g.xlarge")
    parser.add_argument("--nodes", type=number(1, integer=True), required=True)
    parser.add_argument("--hours", type=number(0.001), help="default: a month (730 h)")
    parser.add_argument("--load-balancer", action="store_true", help="an ALB in front")
    parser.add_argument(
        "--rps", type=number(0), default=0.0, help="mean request rate, for LCUs and data out"
    )
    parser.add_argument("--nat-gateways", type=number(0, integer=True), default=0)
    parser.add_argument("--ebs-gb", type=number(0), help="root volume per node (default 20)")
    parser.add_argument("--extended-support", action="store_true", help="$0.60 per cluster-hour")
    _common(parser)
    parser.set_defaults(handler=_guarded(eks_command))


def _breakeven_parser(commands: argparse._SubParsersAction, default_db: Path | None) -> None:
    parser = commands.add_parser(
        "breakeven", help="the rate at which EKS becomes cheaper than Lambda, from the runs"
    )
    parser.add_argument("--db", type=Path, default=default_db, help="the DuckDB metric store")
    parser.add_argument("--scenario", default="warm_steady")
    parser.add_argument("--profile", help="default: full if it has runs, else quick")
    parser.add_argument(
        "--slo-ms", type=number(1), default=DEFAULT_SLO_MS, help="p99 bound (default 2000)"
    )
    parser.add_argument("--node-type", default="c7i.xlarge")
    parser.add_argument("--utilisation", type=number(0.01, 1), default=0.6)
    parser.add_argument("--pod-cpu-m", type=number(1), help="default: the runs' CPU request")
    parser.add_argument("--pod-memory-mib", type=number(1), default=2048.0)
    parser.add_argument("--gateway", choices=["http", "rest"], default="http")
    parser.add_argument("--arch", choices=["x86", "arm"], default="x86")
    parser.add_argument(
        "--provisioned",
        type=number(0, integer=True),
        default=0,
        help="Lambda's provisioned concurrency, kept all month; the traffic above it at the "
        "shape's peak goes on demand",
    )
    parser.add_argument("--shape", choices=list(PEAK_TO_MEAN), default="steady")
    _common(parser)
    parser.set_defaults(handler=_guarded(breakeven_command))


def _guarded(handler: Handler) -> Handler:
    """Model refusals (a pod that fits no node, a region without a price) as one line, exit 2."""

    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (CatalogError, CatalogLookupError, ValueError) as exc:
            print(f"nlp-bench cost {args.cost_command}: {exc}", file=sys.stderr)
            return 2

    return run


# --------------------------------------------------------------------------- lambda, eks


def lambda_command(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    if args.cold_starts and args.init_ms is None:
        raise ValueError("argument --cold-starts: give the Init Duration too (--init-ms)")
    if args.cold_starts is not None and args.cold_starts > args.invocations:
        raise ValueError("argument --cold-starts: more cold starts than --invocations")
    if args.hours is not None and not args.provisioned:
        raise ValueError(
            "argument --hours: the hours provisioned concurrency is on (--provisioned)"
        )
    gateway_requests = None
    if args.gateway == "http":
        gateway_requests = http_api_metered_requests(args.invocations, args.request_kb, catalog)
    usage = lambda_usage(
        invocations=args.invocations,
        memory_mb=args.memory_mb,
        duration_ms=billed_ms(args.duration_ms),
        catalog=catalog,
        cold_starts=args.cold_starts or 0,
        init_ms=args.init_ms or 0.0,
        provisioned_concurrency=args.provisioned,
        hours=args.hours,
        architecture=args.arch,
        gateway=args.gateway,
        gateway_requests=gateway_requests,
        free_tier=args.free_tier,
        log_lines=args.logs,
        region=args.region,
    )
    breakdown = lambda_cost(usage, catalog)
    extra = {}
    if args.invocations:
        extra["usd_per_million_inferences"] = per_million_inferences(
            breakdown.total_usd, args.invocations, args.texts_per_request
        )
    _print_breakdown(args, breakdown, catalog, f"Lambda, {args.memory_mb} MB {args.arch}", extra)
    return 0


def eks_command(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.catalog)
    if args.node_type not in catalog.instance_types(args.region):
        choices = ", ".join(catalog.instance_types(args.region))
        raise ValueError(f"argument --node-type: {args.node_type!r} is not one of {choices}")
    node = catalog.instance(args.node_type, args.region)
    usage = eks_usage(
        node_type=args.node_type,
        nodes=args.nodes,
        hours=args.hours or catalog.fact("month.hours"),
        catalog=catalog,
        load_balancer=args.load_balancer,
        mean_rps=args.rps,
        traffic=AlbTraffic(),
        nat_gateways=args.nat_gateways,
        node_volume_gb=args.ebs_gb,
        extended_support=args.extended_support,
        region=args.region,
        notes=["LCUs need traffic: pass --rps"] if args.load_balancer and not args.rps else (),
    )
    node_facts = {
        "node": {
            "type": node.type,
            "vcpus": node.vcpus,
            "memory_gib": node.memory_gib,
            "allocatable_cpu_m": node.allocatable_cpu_m,
            "allocatable_memory_mib": node.allocatable_memory_mib,
            "usd_per_hour": node.usd_per_hour,
        }
    }
    _print_breakdown(
        args, eks_cost(usage, catalog), catalog, f"EKS, {args.nodes} × {node.type}", node_facts
    )
    return 0


def _print_breakdown(
    args: argparse.Namespace,
    breakdown: CostBreakdown,
    catalog: PriceCatalog,
    title: str,
    extra: dict[str, Any],
) -> None:
    if args.json:
        document = {**breakdown.to_dict(), **extra, "region": args.region}
        document["catalog_digest"] = catalog.digest()
        print(json.dumps(document, indent=2))
        return
    table = Table(title=f"{title}, {args.region}")
    table.add_column("line")
    table.add_column("USD", justify="right")
    for name, usd in breakdown.lines.items():
        table.add_row(name.replace("_", " "), f"{usd:,.2f}")
    table.add_row("total", f"{breakdown.total_usd:,.2f}", style="bold")
    console = Console()
    console.print(table)
    if "usd_per_million_inferences" in extra:
        console.print(f"per million inferences: ${extra['usd_per_million_inferences']:,.4f}")
    for note in breakdown.notes:
        console.print(f"note: {note}")


# --------------------------------------------------------------------------- breakeven


def breakeven_command(args: argparse.Namespace) -> int:
    if args.db is None:
        raise ValueError("argument --db: no metric store given")
    if not Path(args.db).exists():
        print(f"nlp-bench cost breakeven: no metric store at {args.db}: run a benchmark first")
        return 1
    catalog = load_catalog(args.catalog)
    store = MetricStore(args.db)
    sizes = _first_measured(store, LAMBDA_TARGETS, args, lambda_measurements)
    pods = _first_measured(store, KUBERNETES_TARGETS, args, pod_measurements)
    missing = [kind for kind, found in (("Lambda", sizes), ("Kubernetes", pods)) if not found]
    if missing:
        print(
            f"nlp-bench cost breakeven: no complete {args.scenario} runs of a "
            f"{' or '.join(missing)} target in {args.db}"
        )
        return 1
    passing = [m for m in sizes if m.meets_slo(args.slo_ms)]
    if not passing:
        best = min(sizes, key=lambda m: m.p99_corrected_ms or float("inf"))
        print(
            f"nlp-bench cost breakeven: no Lambda memory size met the p99 ≤ {args.slo_ms:g} ms SLO "
            f"(best {best.memory_mb} MB: {best.p99_corrected_ms or float('nan'):,.0f} ms)"
        )
        return 1
    profiles = {m.memory_mb: _lambda_profile(m, args) for m in sizes}
    chosen = cheapest_profile([profiles[m.memory_mb] for m in passing], catalog)
    pod_cpu_m = args.pod_cpu_m or (pods.cpu_request_cores or 1.0) * 1000
    capacity = pod_capacity(store, pods, slo_ms=args.slo_ms, pod_cpu=pod_cpu_m / 1000)
    study = breakeven_study(
        chosen,
        _eks_profile(capacity, pod_cpu_m, args),
        catalog,
        workload=Workload(region=args.region),
        shape=args.shape,
        alternatives=[p for p in profiles.values() if p != chosen],
    )
    notes = _measurement_notes(sizes, pods, capacity, args.slo_ms)
    study = study.model_copy(update={"notes": [*study.notes, *notes]})
    if args.json:
        measured = _measured(sizes, pods, capacity)
        print(json.dumps({**study.model_dump(mode="json"), "measured": measured}, indent=2))
    else:
        _print_study(study)
    return 0


def _first_measured(
    store: MetricStore,
    targets: Sequence[str],
    args: argparse.Namespace,
    measure: Callable[[MetricStore, str, str, str], Any],
) -> Any:
    """The measurements of the first target with complete runs: AWS before the local emulator."""
    for target in targets:
        profile = args.profile or latest_profile(store, target, args.scenario)
        if profile is None:
            continue
        found = measure(store, target, args.scenario, profile)
        if found:
            return found
    return None


def _lambda_profile(measured: MeasuredLambda, args: argparse.Namespace) -> LambdaProfile:
    spread = measured.warm_billed_ms
    return LambdaProfile(
        memory_mb=measured.memory_mb,
        billed_ms=spread.mean,
        billed_ms_low=spread.low,
        billed_ms_high=spread.high,
        init_ms=measured.init_ms or 0.0,
        architecture=args.arch,
        measured_architecture="x86",
        gateway=args.gateway,
        provisioned_concurrency=args.provisioned,
        p99_ms=measured.p99_corrected_ms,
    )


def _eks_profile(capacity: PodCapacity, pod_cpu_m: float, args: argparse.Namespace) -> EksProfile:
    return EksProfile(
        node_type=args.node_type,
        pod_capacity_rps=capacity.rps.mean,
        pod_capacity_rps_low=capacity.rps.low,
        pod_capacity_rps_high=capacity.rps.high,
        pod_cpu_m=pod_cpu_m,
        pod_memory_mib=args.pod_memory_mib,
        utilisation=args.utilisation,
    )


def _measurement_notes(
    sizes: Sequence[MeasuredLambda], pods: MeasuredPods, capacity: PodCapacity, slo_ms: float
) -> list[str]:
    notes = [
        f"Lambda measured on {sizes[0].target} ({sizes[0].profile}), pods on {pods.target} "
        f"({pods.profile})",
        *capacity.notes,
    ]
    failing = [str(m.memory_mb) for m in sizes if not m.meets_slo(slo_ms)]
    if failing:
        notes.append(
            f"memory sizes over the {slo_ms:g} ms SLO (sensitivity only): {', '.join(failing)} MB"
        )
    if not pods.meets_slo(slo_ms):
        notes.append(f"the Kubernetes runs' p99 exceeded the {slo_ms:g} ms SLO at their own load")
    if any(m.target.startswith("local") for m in (*sizes, pods)):
        notes.append(
            "local targets emulate the platforms on this host (CPU share per memory size); "
            "AWS's CPUs differ, so read the rate as this host's, not AWS's"
        )
    return notes


def _measured(
    sizes: Sequence[MeasuredLambda], pods: MeasuredPods, capacity: PodCapacity
) -> dict[str, Any]:
    return {
        "lambda": [
            {
                "target": m.target,
                "profile": m.profile,
                "memory_mb": m.memory_mb,
                "run_ids": list(m.run_ids),
                "invocations": m.invocations,
                "cold_starts": m.cold_starts,
                "warm_billed_ms": vars(m.warm_billed_ms),
                "init_ms": m.init_ms,
                "p99_corrected_ms": m.p99_corrected_ms,
            }
            for m in sizes
        ],
        "kubernetes": {
            "target": pods.target,
            "profile": pods.profile,
            "run_ids": list(pods.run_ids),
            "requests": pods.requests,
            "service_ms": vars(pods.service_ms),
            "capacity_rps": vars(capacity.rps),
            "capacity_source": capacity.source,
            "capacity_search_id": capacity.search_id,
            "cpu_request_cores": pods.cpu_request_cores,
            "p99_corrected_ms": pods.p99_corrected_ms,
        },
    }


def _rate(rate: float | None) -> str:
    return "none in range" if rate is None else f"{rate:,.3g} req/s"


def _print_study(study: BreakEvenStudy) -> None:
    console = Console()
    lam, eks = study.lambda_profile, study.eks_profile
    summary = Table(title=f"Break-even, {study.shape} traffic (peak {study.peak_to_mean:g}× mean)")
    summary.add_column("")
    summary.add_column("rate", justify="right")
    summary.add_row("EKS cheaper from", _rate(study.breakeven.rate_rps), style="bold")
    summary.add_row("interval (spread)", " – ".join(_rate(r) for r in study.interval_rps))
    for label, rates in (
        ("utilisation", study.by_utilisation),
        ("shape", study.by_shape),
        ("memory MB", study.by_memory_mb),
    ):
        for key, rate in rates.items():
            summary.add_row(f"{label} {key}", _rate(rate))
    console.print(summary)
    provisioned = (
        f", {lam.provisioned_concurrency} provisioned" if lam.provisioned_concurrency else ""
    )
    console.print(
        f"Lambda {lam.memory_mb} MB {lam.architecture}{provisioned}, {lam.billed_ms:.1f} ms "
        f"billed; EKS {eks.node_type}, {eks.pod_capacity_rps:.3g} req/s per pod at "
        f"{eks.utilisation:.0%}"
    )
    console.print(study.breakeven.reason)
    curve = Table(title="Month (USD) and per million inferences")
    for heading in ("req/s", "Lambda/month", "EKS/month", "Lambda/M", "EKS/M", "nodes"):
        curve.add_column(heading, justify="right")
    for point in study.curve[:: max(1, len(study.curve) // 6)]:
        curve.add_row(
            f"{point.rate_rps:,g}",
            f"{point.lambda_usd_month:,.2f}",
            f"{point.eks_usd_month:,.2f}",
            f"{point.lambda_usd_per_million:,.2f}",
            f"{point.eks_usd_per_million:,.2f}",
            str(point.eks_nodes),
        )
    console.print(curve)
    for note in study.notes:
        console.print(f"note: {note}")
