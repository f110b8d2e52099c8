"""``nlp-bench report``: the charts, the SRE analysis and the HTML report from the metric store.

The same three steps as the Dagster assets (``comparison_charts``, ``sre_analysis``,
``benchmark_report``), without Dagster: for the latest complete runs of one profile (default:
the newest run's), into ``data/report`` (default: beside the work directory). The analysis asks
Groq when ``GROQ_API_KEY`` is set and ``--offline`` is not given; the report's path is printed
last.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import get_pipeline_settings

PROG = "nlp-bench report"
KEY_VARIABLE = "GROQ_API_KEY"


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "report", help="write the charts, the analysis and the HTML report", description=__doc__
    )
    report.add_argument("--profile", choices=PROFILES, help="default: the newest run's")
    report.add_argument("--db", type=Path, help="the DuckDB file; default NLP_BENCH_DB")
    report.add_argument("--out", type=Path, help="the report folder; default data/report")
    report.add_argument(
        "--offline", action="store_true", help=f"the offline analyst even if {KEY_VARIABLE} is set"
    )
    report.add_argument(
        "--groq-model",
        action="append",
        metavar="ID",
        help="a Groq model id to try (repeat; default: a current Llama 3 model, then a smaller)",
    )
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace) -> int:
    # Altair, vl-convert and the groq client load only for this command, not for every one.
    from nlp_bench_pipeline.analysis import DEFAULT_MODELS
    from nlp_bench_pipeline.report.build import (
        scope,
        write_analysis_for,
        write_charts_for,
        write_report,
    )
    from nlp_bench_pipeline.store.database import MetricStore

    settings = get_pipeline_settings()
    db = args.db or settings.db
    if not db.exists():
        print(
            f"{PROG}: no metric store at {db}: run `make bench` first, or pass --db",
            file=sys.stderr,
        )
        return 2
    store = MetricStore(db)
    folder = args.out or settings.report_dir
    started = time.monotonic()
    covered = scope(store, args.profile)
    if not covered.runs:
        print(
            f"{PROG}: no complete run{f' of profile {args.profile}' if args.profile else ''} "
            "in the store; the report says so",
            file=sys.stderr,
        )
    charts = write_charts_for(store, folder, covered)
    print(
        f"charts: {sum(c.drawn for c in charts)} drawn, "
        f"{sum(not c.drawn for c in charts)} not ({time.monotonic() - started:.1f} s)"
    )
    api_key = None if args.offline else os.environ.get(KEY_VARIABLE) or None
    analysis = write_analysis_for(
        store, folder, covered, api_key=api_key, models=args.groq_model or DEFAULT_MODELS
    )
    for warning in analysis.analysis.warnings:
        print(f"{PROG}: {warning}", file=sys.stderr)
    grounded = "grounded" if analysis.grounding.grounded else "NOT grounded"
    print(f"analysis: by {analysis.analysis.author}, numbers {grounded}")
    files = write_report(store, folder, covered)
    print(f"report ({time.monotonic() - started:.1f} s): {files.index}")
    return 0
