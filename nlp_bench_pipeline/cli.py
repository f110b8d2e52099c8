"""``nlp-bench``: the commands behind ``make bench`` and ``make ui``, and result exports.

``bench`` runs the whole pipeline through Dagster in the project's ``DAGSTER_HOME``, one run per
stage and per cell, one after another, so every run shows in the UI afterwards; then it prints
a summary table. ``ui`` starts ``dagster dev`` (webserver and daemon) on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.instance import ensure_dagster_home
from nlp_bench_pipeline.lib.tables import format_value
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import PROJECT_ROOT, get_pipeline_settings
from nlp_bench_pipeline.targets.processes import OWNER_ENV, ChildProcess, python_command

UI_OWNER = "nlp-bench-ui"

SUMMARY_HEADINGS = {
    "target": "target",
    "scenario": "scenario",
    "repetition": "rep",
    "requests": "requests",
    "ok": "ok",
    "errors": "errors",
    "dropped": "dropped",
    "p50_ms": "p50 ms",
    "p99_ms": "p99 ms",
    "p99_corrected_ms": "p99 corr ms",
    "cold_starts": "cold",
    "cold_start_p50_ms": "cold p50 ms",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlp-bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    bench = sub.add_parser("bench", help="materialise the whole pipeline, then print a summary")
    bench.add_argument("--profile", choices=PROFILES, help="default NLP_BENCH_PROFILE")
    bench.add_argument("--targets", help="comma-separated; default NLP_BENCH_TARGETS")
    bench.add_argument("--scenarios", help="comma-separated; default NLP_BENCH_SCENARIOS")
    bench.add_argument("--model", help="an NLP_BENCH_MODEL value; default synthetic")
    bench.add_argument("--skip-deploy", action="store_true", help="skip the deployment stage")

    ui = sub.add_parser("ui", help="dagster dev on 127.0.0.1")
    ui.add_argument("--port", type=int, default=3000)

    sub.add_parser("summary", help="print the latest complete results from DuckDB")

    export = sub.add_parser("export", help="write tables or views to CSV or Parquet")
    export.add_argument(
        "--what", default="run_summary,requests", help="comma-separated tables or views"
    )
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    export.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "exports")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "bench":
        return bench(args)
    if args.command == "ui":
        return ui(args.port)
    if args.command == "summary":
        print_summary(latest_summary_rows())
        return 0
    return export(args.what.split(","), args.format, args.out)


# --------------------------------------------------------------------------- bench


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


def bench(args: argparse.Namespace) -> int:
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
    print_summary(latest_summary_rows(profile=plan.profile))
    if unmet:
        # Error-rate and SLO bounds are results, not faults: reported, not a failed command.
        print("\nBounds not met (checks): " + "; ".join(unmet))
    print(f"\nDuckDB file: {get_pipeline_settings().db}")
    print(f"Runs: `make ui`, then http://127.0.0.1:3000/runs  ({time.monotonic() - started:.0f} s)")
    if failures:
        print(f"failed: {'; '.join(failures)}", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------- results


def latest_summary_rows(profile: str | None = None) -> list[dict[str, Any]]:
    """``run_summary`` rows of the latest complete series of every cell."""
    from nlp_bench_pipeline.store.database import MetricStore

    store = MetricStore()
    if not store.path.exists():
        return []
    return store.query(
        "SELECT s.* FROM run_summary s JOIN latest_runs USING (run_id)"
        " WHERE ? IS NULL OR s.profile = ? ORDER BY s.target, s.scenario, s.repetition",
        [profile, profile],
    ).to_pylist()


def print_summary(rows: list[dict[str, Any]]) -> None:
    if not rows:
        print("no complete benchmark runs in the metric store yet")
        return
    profiles = sorted({r["profile"] for r in rows})
    print(f"\nResults (measure phase; profile {', '.join(profiles)}):")
    table = [list(SUMMARY_HEADINGS.values())]
    for row in rows:
        table.append([format_value(row.get(key), digits=1) for key in SUMMARY_HEADINGS])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for n, line in enumerate(table):
        print("  ".join(value.rjust(width) for value, width in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))


def export(relations: list[str], fmt: str, out: Path) -> int:
    from nlp_bench_pipeline.store.database import MetricStore

    store = MetricStore()
    for relation in (r.strip() for r in relations if r.strip()):
        path = store.export(relation, out / f"{relation}.{fmt}")
        print(f"wrote {path}")
    return 0


# --------------------------------------------------------------------------- ui


def ui(port: int) -> int:
    """``dagster dev`` in its own process group, stopped as a group on Ctrl-C or SIGTERM.

    ``dagster dev`` run in the background has been seen to ignore SIGINT/SIGTERM and leave its
    webserver, daemon and code server behind; killing the whole group leaves nothing.
    """
    home = ensure_dagster_home()
    dagster_dev = ChildProcess.start(
        "dagster-dev",
        python_command(
            "-m",
            "dagster",
            "dev",
            "-w",
            str(PROJECT_ROOT / "workspace.yaml"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ),
        # Started by a supervisor (the browser test), keep its tag: its orphan scan then sees
        # dagster dev's webserver, daemon and code servers too.
        owner=os.environ.get(OWNER_ENV, UI_OWNER),
        log_dir=None,
        cwd=PROJECT_ROOT,
    )
    print(f"Dagster UI: http://127.0.0.1:{port}  (home {home}; Ctrl-C stops it)", flush=True)

    # SIGTERM takes the Ctrl-C path. A handler that stopped the child itself would run inside
    # popen.wait(), whose waitpid lock it cannot take, and so sat out both of stop's timeouts.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return dagster_dev.popen.wait()
    except KeyboardInterrupt:
        dagster_dev.stop(grace_s=10)
        return 0


if __name__ == "__main__":
    sys.exit(main())
