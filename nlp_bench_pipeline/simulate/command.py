"""``nlp-bench simulate``: a simulated period of Lambda or EKS at a mean request rate.

``--rate`` is the mean rate over the period, whatever the pattern. Distributions come from the
metric store (``--db``; the latest complete runs of the platform's target, or ``--run``), else
from the documented defaults, and the output says which. ``--json`` prints the whole result (the
number of ``requests`` simulated, percentiles, counts, SLO verdict, usage, cost, distributions,
a downsampled time series); otherwise a summary. Bad options: one line naming the option, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.costs.catalog import CatalogError, CatalogLookupError, load_catalog
from nlp_bench_pipeline.simulate.calibration import CalibrationError, calibrate
from nlp_bench_pipeline.simulate.simulation import (
    SimulationResult,
    eks_settings_for,
    lambda_settings_for,
    simulate_eks,
    simulate_lambda,
)
from nlp_bench_pipeline.simulate.traffic import PATTERNS, Traffic
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig

MAX_HOURS = 24 * 31
MAX_RATE = 1e6


def register(subparsers: argparse._SubParsersAction, *, default_db: Path | None = None) -> None:
    """Add ``simulate`` (its handler: ``simulate_command``); ``default_db`` is ``--db``'s
    default, which the main CLI takes from the settings (None: no store, the defaults)."""
    parser = subparsers.add_parser(
        "simulate", help="simulate Lambda or EKS at scale", description=__doc__
    )
    parser.add_argument("--platform", choices=["lambda", "eks"], required=True)
    parser.add_argument("--rate", type=number(1e-6, MAX_RATE), default=1000.0, help="mean req/s")
    parser.add_argument("--hours", type=number(1e-3, MAX_HOURS), default=24.0)
    parser.add_argument("--pattern", choices=PATTERNS, default="steady")
    parser.add_argument("--slo-ms", type=number(1e-3), default=500.0, help="p99 bound")
    parser.add_argument("--seed", type=number(0, 2**32 - 1, integer=True), default=0)
    parser.add_argument("--db", type=Path, default=default_db, help="metric store to read")
    parser.add_argument(
        "--run", action="append", dest="runs", help="calibrate from this run (repeatable)"
    )
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    lam = parser.add_argument_group("lambda")
    lam.add_argument(
        "--memory-mb",
        type=number(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, integer=True),
        default=LAMBDA_DEFAULT_MEMORY_MB,
    )
    lam.add_argument("--concurrency-limit", type=number(1, integer=True), default=1000)
    lam.add_argument("--provisioned", type=number(0, integer=True), default=0)
    lam.add_argument("--max-concurrent-inits", type=number(1, integer=True), default=None)
    lam.add_argument("--arch", choices=["x86", "arm"], default="x86")
    lam.add_argument("--gateway", choices=["http", "rest", "none"], default="http")
    eks = parser.add_argument_group("eks")
    eks.add_argument("--node-type", default="c6i.xlarge")
    eks.add_argument("--cpu", type=number(0.01, 64), default=1.0, help="pod CPU request = limit")
    eks.add_argument("--min-replicas", type=number(1, integer=True), default=2)
    eks.add_argument(
        "--max-replicas", type=number(1, integer=True), default=None, help="default: 2x the peak's"
    )
    eks.add_argument("--hpa-metric", choices=["cpu", "inflight"], default="cpu")
    eks.add_argument(
        "--hpa-target", type=number(1e-3), default=None, help="80 (%% CPU) / 2 (in flight)"
    )
    eks.add_argument("--capacity-rps", type=number(1e-6), default=None, help="a pod flat out")
    parser.set_defaults(handler=simulate_command)


def simulate_command(args: argparse.Namespace) -> int:
    try:
        result = run(args)
    except (CalibrationError, CatalogError, CatalogLookupError, ValueError) as exc:
        print(f"nlp-bench simulate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print_summary(result)
    return 0


def run(args: argparse.Namespace) -> SimulationResult:
    """The simulation the options ask for."""
    catalog = load_catalog()
    traffic = Traffic(args.pattern, args.rate, args.hours * 3600.0, seed=args.seed)
    store = MetricStore(args.db) if args.db is not None else None
    calibration = calibrate(store, args.platform, run_ids=args.runs)
    if args.platform == "lambda":
        settings = lambda_settings_for(
            traffic,
            calibration,
            memory_mb=args.memory_mb,
            concurrency_limit=args.concurrency_limit,
            provisioned_concurrency=args.provisioned,
            max_concurrent_inits=args.max_concurrent_inits,
            architecture=args.arch,
            gateway=args.gateway,
        )
        return simulate_lambda(
            traffic, settings, calibration, catalog=catalog, seed=args.seed, slo_ms=args.slo_ms
        )
    if args.max_replicas is not None and args.max_replicas < args.min_replicas:
        raise ValueError("argument --max-replicas: below --min-replicas")
    eks = eks_settings_for(
        traffic,
        calibration,
        catalog,
        node_type=args.node_type,
        cpu=args.cpu,
        min_replicas=args.min_replicas,
        max_replicas=args.max_replicas,
        hpa=HpaConfig(metric=args.hpa_metric, target=args.hpa_target),
        capacity_rps=args.capacity_rps,
    )
    return simulate_eks(
        traffic,
        eks,
        calibration,
        catalog=catalog,
        seed=args.seed,
        slo_ms=args.slo_ms,
        capacity_rps=args.capacity_rps,
    )


def print_summary(result: SimulationResult) -> None:
    t = result.traffic
    lat = result.latency.as_dict()
    distributions = result.calibration
    print(
        f"{result.platform}: {t.pattern} traffic, mean {t.mean_rate:g} req/s for "
        f"{t.duration_s / 3600:g} h: {result.requests:,} requests simulated in "
        f"{result.wall_s:.1f} s ({result.requests_per_wall_s:,.0f} req/s)"
    )
    print(
        "latency (every request, failures last): "
        + ", ".join(f"{k[:-3]} {_ms(v)}" for k, v in lat.items())
    )
    print(f"SLO p99 <= {result.slo.p99_bound_ms:g} ms: {'met' if result.slo.met else 'NOT met'}")
    counts = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in result.counts.items())
    print(f"counts: {counts}")
    cost = result.cost.to_dict()
    print(
        f"cost over the period: ${cost['total_usd']:,.2f} "
        f"(${cost['per_million_requests_usd'] or 0:,.3f} per million requests, "
        f"${cost['per_month_usd']:,.0f} a month at this traffic)"
    )
    print(
        f"distributions: {distributions['source']}"
        + (
            f" (defaults for {', '.join(distributions['defaults_used_for'])})"  # type: ignore[arg-type]
            if distributions["defaults_used_for"]
            else ""
        )
    )


def _ms(value: float | None) -> str:
    return "failed" if value is None else f"{value:,.1f} ms"
