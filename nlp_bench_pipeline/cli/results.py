"""``nlp-bench summary`` and ``nlp-bench export``: results out of the metric store."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.lib.tables import format_value
from nlp_bench_pipeline.settings import PROJECT_ROOT, get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore

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


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = subparsers.add_parser("summary", help="print the latest complete results from DuckDB")
    summary.set_defaults(handler=summary_command)
    export = subparsers.add_parser("export", help="write tables or views to CSV or Parquet")
    export.add_argument(
        "--what", default="run_summary,requests", help="comma-separated tables or views"
    )
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet")
    export.add_argument("--out", type=Path, default=PROJECT_ROOT / "data" / "exports")
    export.set_defaults(handler=export_command)


def summary_command(args: argparse.Namespace) -> int:
    print_summary(MetricStore(get_pipeline_settings().db).latest_summary_rows())
    return 0


def export_command(args: argparse.Namespace) -> int:
    store = MetricStore(get_pipeline_settings().db)
    for relation in (r.strip() for r in args.what.split(",") if r.strip()):
        path = store.export(relation, args.out / f"{relation}.{args.format}")
        print(f"wrote {path}")
    return 0


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
