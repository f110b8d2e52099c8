"""``nlp-bench bench``: the whole pipeline through Dagster, one run per stage and per cell.

The runs execute one after another in the project's ``DAGSTER_HOME``, so every run shows in the
UI afterwards; then a summary table is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from nlp_bench_pipeline.cli.dagster_home import ensure_dagster_home
from nlp_bench_pipeline.cli.results import print_summary
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore


def register(subparsers: argparse._SubParsersAction) -> None:
    bench = subparsers.add_parser(
        "bench", help="materialise the whole pipeline, then print a summary"
    )
    bench.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    bench.add_argument("--targets", help="comma-separated; default NLP_BENCH_TARGETS")
    bench.add_argument("--scenarios", help="comma-separated; default NLP_BENCH_SCENARIOS")
    bench.add_argument("--model", help="an NLP_BENCH_MODEL value; default synthetic")
    bench.add_argument("--skip-deploy", action="store_true", help="skip the deployment stage")
    bench.set_defaults(handler=bench_command)


def _apply_options(args: argparse.Namespace) -> None:
    """Command-line options become the NLP_BENCH_* defaults the resources are built from."""
    for option, variable in (
        ("profile", "NLP_BENCH_PROFILE"),
        ("targets", "NLP_BENCH_TARGETS"),
        ("scenarios", "NLP_BENCH_SCENARIOS"),
        ("model", "NLP_BENCH_MODEL"),
    ):
        value = getattr(args, option)
        if value:
            os.environ[variable] = value
    get_pipeline_settings.cache_clear()


def bench_command(args: argparse.Namespace) -> int:
    """Build, deploy each target, run every enabled cell, summarise; one Dagster run each."""
    _apply_options(args)
    home = ensure_dagster_home()
    import dagster as dg

    from nlp_bench_pipeline.definitions import defs

    plan = defs.resources["bench"].plan()
    instance = dg.DagsterInstance.get()
    print(
        f"nlp-bench: {len(plan.cells())} cells, profile {plan.profile}, model {plan.model}, "
        f"Dagster home {home}",
        flush=True,
    )
    started = time.monotonic()
    stages: list[tuple[str, str | None]] = [("build", None)]
    if not args.skip_deploy:
        stages += [("deploy", target) for target in plan.targets]
    stages += [
        ("benchmark_cell", str(dg.MultiPartitionKey({"target": c.target, "scenario": c.scenario})))
        for c in plan.cells()
    ]
    stages.append(("summaries", None))
    failures, unmet = [], []
    for job_name, partition in stages:
        label = job_name + (f" [{partition}]" if partition else "")
        print(f"==> {label}", flush=True)
        result = defs.resolve_job_def(job_name).execute_in_process(
            instance=instance, partition_key=partition, raise_on_error=False
        )
        failed_checks = sorted(
            e.check_name for e in result.get_asset_check_evaluations() if not e.passed
        )
        verdict = "ok" if result.success else "FAILED"
        if failed_checks:
            verdict += f" (not met: {', '.join(failed_checks)})"
            unmet.append(f"{partition}: {', '.join(failed_checks)}")
        print(f"    {verdict}  run {result.run_id}", flush=True)
        if not result.success:
            failures.append(label)
    print_summary(MetricStore(get_pipeline_settings().db).latest_summary_rows(plan.profile))
    if unmet:
        # Error-rate and SLO bounds are results, not faults: reported, not a failed command.
        print("\nBounds not met (checks): " + "; ".join(unmet))
    print(f"\nDuckDB file: {get_pipeline_settings().db}")
    print(f"Runs: `make ui`, then http://127.0.0.1:3000/runs  ({time.monotonic() - started:.0f} s)")
    if failures:
        print(f"failed: {'; '.join(failures)}", file=sys.stderr)
        return 1
    return 0
