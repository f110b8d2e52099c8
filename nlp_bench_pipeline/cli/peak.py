"""``nlp-bench peak``: the highest Poisson rate each target holds with its p99 within a bound.

As MLPerf LoadGen's FindPeakPerformance: probe at a starting rate, double until a probe is
INVALID, then bisect to the tolerance (docs/peak.md). Each probe is an ordinary run of the
``peak`` scenario on a fresh deployment — every request stored, ``run_summary`` covering it —
judged VALID or INVALID with every reason by the report's own verdict; the warmed policy warms
the capacity its rate needs first, the cold policy lets cold starts count. The other bounds
(``--also-slo-ms``, MLPerf's 130 ms BERT bound by default) are judged on the same probes, and
the scale simulator projects each search under AWS's rules. The rows go into DuckDB
(``peak_searches``, ``peak_probes``); the profile's defaults (quick: the warmed policy at the
benchmark's one size; full: both policies at three sizes) can be overridden. Bad options: one
line naming the option, exit 2; exit 1 when a search failed.
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.options import number
from nlp_bench_pipeline.core.platform_facts import LAMBDA_MAX_MEMORY_MB, LAMBDA_MIN_MEMORY_MB
from nlp_bench_pipeline.core.records import ALL_TARGETS
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.peak import POLICIES, SOURCES, PeakPlan, PeakRequest, run_peak
from nlp_bench_pipeline.settings import get_pipeline_settings

PROG = "nlp-bench peak"


class UsageError(ValueError):
    """A bad option: one line, exit code 2."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "peak", help="search each target's peak rate under a p99 bound", description=__doc__
    )
    parser.add_argument(
        "--target",
        action="append",
        dest="targets",
        choices=ALL_TARGETS,
        help="a target to search (repeatable); default NLP_BENCH_TARGETS",
    )
    parser.add_argument("--slo-ms", type=number(1, 60_000), default=500.0, help="p99 bound (500)")
    parser.add_argument(
        "--also-slo-ms",
        type=number(1, 60_000),
        action="append",
        help="another bound judged on the same probes (repeatable; default 130, MLPerf BERT)",
    )
    parser.add_argument("--no-also", action="store_true", help="judge no other bound")
    parser.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    parser.add_argument(
        "--policy", help=f"comma-separated, of {', '.join(POLICIES)}; default: the profile's"
    )
    parser.add_argument(
        "--memory-mb",
        type=number(LAMBDA_MIN_MEMORY_MB, LAMBDA_MAX_MEMORY_MB, integer=True),
        action="append",
        help="a Lambda memory size (repeatable); default: the profile's",
    )
    parser.add_argument(
        "--pod-cpu", type=number(0.05, 64), action="append", help="a pod's CPU (repeatable)"
    )
    parser.add_argument("--start-rps", type=number(1e-3, 1e6), help="the first probe's rate")
    parser.add_argument("--max-rps", type=number(1e-3, 1e6), help="the ceiling")
    parser.add_argument("--min-rps", type=number(1e-3, 1e6), help="the floor")
    parser.add_argument("--tolerance", type=number(1e-3, 0.99), help="bracket width to stop at")
    parser.add_argument("--max-probes", type=number(1, 100, integer=True), help="probe budget")
    parser.add_argument(
        "--min-requests", type=number(1, 10**7, integer=True), help="requests a probe measures"
    )
    parser.add_argument("--model", help="an NLP_BENCH_MODEL value; default NLP_BENCH_MODEL")
    parser.add_argument("--db", type=Path, help="the metric store; default NLP_BENCH_DB")
    parser.add_argument("--no-projection", action="store_true", help="skip the simulator")
    parser.add_argument("--json", action="store_true", help="print the search rows as JSON")
    parser.set_defaults(handler=peak_command)


def peak_command(args: argparse.Namespace) -> int:
    from nlp_bench_pipeline.costs.catalog import load_catalog
    from nlp_bench_pipeline.loadgen.launch import run_in_subprocess
    from nlp_bench_pipeline.store.database import MetricStore
    from nlp_bench_pipeline.targets.registry import TargetUnavailable, create_target

    settings = get_pipeline_settings()
    try:
        bench, plan = _plans(args, settings)
    except UsageError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    store = MetricStore(args.db or settings.db)
    request = PeakRequest(
        bench=bench,
        plan=plan,
        invocation_id=f"peak-{uuid.uuid4().hex[:12]}",
        provenance=Provenance(code_version=source_version(*SOURCES)),
        work_dir=settings.work_dir,
        catalog=None if args.no_projection else load_catalog(),
    )
    try:
        targets = [
            create_target(name, work_dir=settings.work_dir, aws_credentials=_aws(name))
            for name in bench.targets
        ]
    except TargetUnavailable as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    rows = run_peak(targets, store, request, launch=run_in_subprocess, progress=_progress).searches
    if args.json:
        print(json.dumps({"invocation_id": request.invocation_id, "searches": rows}, default=str))
    else:
        print_searches(rows)
        print(f"\nsearch {request.invocation_id}: stored in {store.path} (peak_searches)")
    return 1 if any(r["status"] == "failed" for r in rows) else 0


def _plans(args: argparse.Namespace, settings: Any) -> tuple[BenchmarkPlan, PeakPlan]:
    profile = args.profile or settings.profile
    policies = tuple(p.strip() for p in (args.policy or "").split(",") if p.strip())
    unknown = sorted(set(policies) - set(POLICIES))
    if unknown:
        raise UsageError(f"argument --policy: unknown {unknown}; choose from {list(POLICIES)}")
    try:
        bench = BenchmarkPlan(
            targets=args.targets or settings.split(settings.targets),
            profile=profile,
            model=args.model or settings.model,
        )
        plan = PeakPlan.for_profile(
            profile,
            slo_ms=args.slo_ms,
            also_slo_ms=tuple(args.also_slo_ms or ()),
            policies=policies,
            memory_sizes_mb=tuple(int(m) for m in args.memory_mb or ()),
            pod_cpus=tuple(args.pod_cpu or ()),
            start_rps=args.start_rps,
            max_rps=args.max_rps,
            min_rps=args.min_rps,
            tolerance=args.tolerance,
            max_probes=int(args.max_probes) if args.max_probes else None,
            min_requests=int(args.min_requests) if args.min_requests else None,
        )
        plan.search_bounds()  # a start outside the floor and ceiling fails here, not later
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"]) or "options"
        raise UsageError(f"{where}: {error['msg']}") from exc
    if args.no_also:
        plan = plan.model_copy(update={"also_slo_ms": ()})
    return bench, plan


def _aws(target: str) -> bool:
    """Whether boto3's default chain finds credentials (only asked for an AWS target)."""
    if not target.startswith("aws-"):
        return False
    try:
        import boto3
    except ImportError:
        return False
    return boto3.Session().get_credentials() is not None


def _progress(line: str) -> None:
    print(f"{PROG}: {line}", file=sys.stderr, flush=True)


def print_searches(rows: list[dict[str, Any]]) -> None:
    """Per search: the peak (per vCPU), its status and label, why, and what the host bent."""
    for row in rows:
        peak = row["peak_rps"]
        figure = (
            "no rate held the bound"
            if peak is None
            else f"peak {peak:.3g} req/s"
            + (f" ({row['per_vcpu_rps']:.3g} per vCPU of {row['vcpus']:g})" if row["vcpus"] else "")
        )
        label = "host-limited" if row["host_limited"] else row["method"]
        print(
            f"{row['target']} · {row['size']} · {row['policy']} · p99 <= {row['slo_p99_ms']:g} ms"
            f" · {row['method']}: {figure} [{row['status']}; {label}]"
        )
        print(f"  why: {row['reason']}")
        for reason in row.get("host_limited_reasons") or []:
            print(f"  host-limited: {reason}")
