"""``nlp-bench sweep``: the memory-size sweep on its own, outside ``make bench``.

Runs the function at each memory size (default: the profile's — quick 1,769 MB, full 512 to
10,240 MB), cold and warm invocations apart, and prints per size the REPORT durations and the
latency through the gateway (p50/p95/p99), cold-start time, cost per invocation and per million,
and the best size by cost, speed and balance. Sizes the host cannot hold are "not run (host)".
The rows go into the metric store's ``memory_sweep`` table unless ``--no-store``. Bad options:
one line naming the option, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.platform_facts import LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS
from nlp_bench_pipeline.costs.catalog import CatalogError, load_catalog
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.economics import MEMORY_SWEEP, write
from nlp_bench_pipeline.sweep import SweepPlan, SweepResult, run_sweep
from nlp_bench_pipeline.sweep.capacity import capacity_for
from nlp_bench_pipeline.targets.registry import TargetUnavailable, create_target

PROG = "nlp-bench sweep"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "sweep", help="run the function at several memory sizes", description=__doc__
    )
    parser.add_argument("--target", choices=sorted(LAMBDA_STYLE_TARGETS), default="local-lambda")
    parser.add_argument(
        "--memory-mb",
        type=number(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, integer=True),
        action="append",
        dest="memory_mb",
        help="a memory size (repeatable); default: the profile's",
    )
    parser.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    parser.add_argument("--model", help="an NLP_BENCH_MODEL value; default NLP_BENCH_MODEL")
    parser.add_argument("--warm", type=number(1, 10_000, integer=True), help="warm per size")
    parser.add_argument("--cold", type=number(1, 100, integer=True), help="cold per size")
    parser.add_argument(
        "--weight", type=number(0, 1), default=0.5, help="w of the balanced choice (0.5)"
    )
    parser.add_argument("--catalog", type=Path, help="a pricing catalog (default: the shipped one)")
    parser.add_argument("--db", type=Path, help="the metric store; default NLP_BENCH_DB")
    parser.add_argument("--no-store", action="store_true", help="print only, write nothing")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.set_defaults(handler=sweep_command)


def sweep_command(args: argparse.Namespace) -> int:
    settings = get_pipeline_settings()
    profile = args.profile or settings.profile
    try:
        plan = SweepPlan.for_profile(
            profile,
            memory_sizes_mb=tuple(int(m) for m in args.memory_mb or ()),
            warm_invocations=args.warm,
            cold_invocations=args.cold,
            balance_weight=args.weight,
        )
        catalog = load_catalog(args.catalog)
        bench = BenchmarkPlan(targets=[args.target], profile=profile,
                              model=args.model or settings.model)  # fmt: skip
        target = create_target(args.target, work_dir=settings.work_dir,
                               aws_credentials=_aws_credentials(args.target))  # fmt: skip
    except (ValueError, CatalogError, TargetUnavailable) as exc:
        print(f"{PROG}: {_first_line(exc)}", file=sys.stderr)
        return 2
    result = run_sweep(
        plan,
        target,
        bench.deployment_spec(args.target),
        capacity_for(target),
        catalog,
        sweep_id=f"sweep-{uuid.uuid4().hex[:12]}",
        profile=profile,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    rows = result.rows()
    if not args.no_store:
        write(MetricStore(args.db or settings.db), MEMORY_SWEEP, result.sweep_id, rows)
    if args.json:
        print(json.dumps({"sweep_id": result.sweep_id, "best": _best(result), "sizes": rows},
                         default=str))  # fmt: skip
    else:
        _print_table(result, rows)
    return 0 if any(r["status"] == "run" for r in rows) else 1


def _aws_credentials(target: str) -> bool:
    """Whether boto3's default chain finds credentials (only asked for an AWS target)."""
    if not target.startswith("aws-"):
        return False
    try:
        import boto3
    except ImportError:
        return False
    return boto3.Session().get_credentials() is not None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _best(result: SweepResult) -> dict[str, Any]:
    best = result.best()
    return {**{f"by_{k}_mb": v for k, v in best.picks().items()}, "weight": best.weight}


def _print_table(result: SweepResult, rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"Memory sweep {result.sweep_id} on {result.target} ({result.profile})")
    columns = {
        "memory_mb": "MB", "status": "status", "warm_duration_p50_ms": "warm p50",
        "warm_duration_p99_ms": "warm p99", "warm_client_p50_ms": "gateway p50",
        "warm_client_p99_ms": "gateway p99", "cold_init_p50_ms": "init p50",
        "cold_client_p50_ms": "cold gateway p50", "usd_per_million": "$/M",
    }  # fmt: skip
    for heading in columns.values():
        table.add_column(heading, justify="right")
    for row in rows:
        table.add_row(*(_cell(row[key]) for key in columns))
    console = Console()
    console.print(table)
    best = result.best()
    console.print(
        f"best by cost {best.by_cost} MB, by speed {best.by_speed} MB, balanced (w = "
        f"{best.weight:g}) {best.balanced} MB"
    )
    for row in rows:
        if row["reason"]:
            console.print(f"{row['memory_mb']} MB: {row['reason']}")


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)
