"""``nlp-bench summary``, ``sql`` and ``export``: results out of the metric store.

``sql`` runs a query on the project's DuckDB file read-only (so a pipeline writing it is not
blocked for longer than the query), or opens a prompt without one; the ``duckdb`` command-line
tool is not shipped because its releases can lag the Python package's storage format.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import duckdb

from nlp_bench_pipeline.lib.tables import ResultColumn, shown
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import PROJECT_ROOT, get_pipeline_settings
from nlp_bench_pipeline.store.database import EXPORTABLE, MetricStore, StoreError

SUMMARY_COLUMNS = (
    ResultColumn("target", "target"),
    ResultColumn("scenario", "scenario"),
    ResultColumn("profile", "profile"),
    ResultColumn("repetition", "rep", "count"),
    ResultColumn("requests", "requests", "count"),
    ResultColumn("ok", "ok", "count"),
    ResultColumn("errors", "errors", "count"),
    ResultColumn("dropped", "dropped", "count"),
    ResultColumn("p50_ms", "p50 ms", "ms"),
    ResultColumn("p99_ms", "p99 ms", "ms"),
    ResultColumn("p99_ok_ms", "p99 ok ms", "ms"),
    ResultColumn("cold_starts", "cold", "count"),
    ResultColumn("cold_start_p50_ms", "cold p50 ms", "ms"),
    ResultColumn("host_limited_share", "host-limited", "share"),
    ResultColumn("slo_met", "SLO met", "bool"),
)
PROMPT = "nlp-bench sql> "


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = subparsers.add_parser("summary", help="print the latest complete results from DuckDB")
    summary.add_argument(
        "--profile", choices=PROFILES, help="only runs of this profile (default: every profile)"
    )
    summary.set_defaults(handler=summary_command)
    sql = subparsers.add_parser(
        "sql", help="query the metric store (read-only); without a query, a prompt"
    )
    sql.add_argument("query", nargs="?", help='e.g. "SELECT * FROM run_summary"')
    sql.add_argument(
        "--write", action="store_true", help="open the file for writing (default: read-only)"
    )
    sql.set_defaults(handler=sql_command)
    export = subparsers.add_parser("export", help="write tables or views to CSV or Parquet")
    export.add_argument(
        "--what",
        default="run_summary,requests",
        help=f"comma-separated, of: {', '.join(sorted(EXPORTABLE))} (default %(default)s)",
    )
    export.add_argument(
        "--format", choices=["parquet", "csv"], default="parquet", help="(default: %(default)s)"
    )
    export.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "data" / "exports", help="default %(default)s"
    )
    export.set_defaults(handler=export_command)


def summary_command(args: argparse.Namespace) -> int:
    print_summary(MetricStore(get_pipeline_settings().db).latest_summary_rows(args.profile))
    return 0


def export_command(args: argparse.Namespace) -> int:
    relations = [r.strip() for r in args.what.split(",") if r.strip()]
    unknown = sorted(set(relations) - EXPORTABLE)
    if unknown:
        print(
            f"nlp-bench export: error: --what {','.join(unknown)}: choose from "
            f"{', '.join(sorted(EXPORTABLE))}",
            file=sys.stderr,
        )
        return 2
    store = MetricStore(get_pipeline_settings().db)
    try:
        for relation in relations:
            print(f"wrote {store.export(relation, args.out / f'{relation}.{args.format}')}")
    except StoreError as exc:
        print(f"nlp-bench export: error: {exc}", file=sys.stderr)
        return 1
    return 0


def sql_command(args: argparse.Namespace) -> int:
    """One query, or a prompt that runs each statement ended by ``;`` (Ctrl-D leaves)."""
    path = get_pipeline_settings().db
    if not path.exists() and not args.write:
        print(f"nlp-bench sql: error: no metric store at {path} (run make bench)", file=sys.stderr)
        return 1
    with duckdb.connect(str(path), read_only=not args.write) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        if args.query:
            return _run(conn, args.query)
        return _prompt(conn)


def _run(conn: duckdb.DuckDBPyConnection, query: str) -> int:
    try:
        relation = conn.sql(query)
        if relation is not None:
            relation.show(max_width=200)
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _prompt(conn: duckdb.DuckDBPyConnection) -> int:
    print("read-only; end each statement with ';', Ctrl-D to leave", file=sys.stderr)
    pending: list[str] = []
    while True:
        try:
            line = input(PROMPT if not pending else "...> ")
        except EOFError:
            print(file=sys.stderr)
            return 0
        pending.append(line)
        if line.rstrip().endswith(";"):
            _run(conn, "\n".join(pending))
            pending.clear()


def print_summary(rows: list[dict[str, Any]]) -> None:
    """A plain aligned table, as a terminal shows it and a person pastes it."""
    if not rows:
        print("no complete benchmark runs in the metric store yet")
        return
    print("\nResults (measure phase; every scheduled request counts, failures ranked slowest):")
    table = [[c.heading for c in SUMMARY_COLUMNS]]
    for row in rows:
        table.append([_cell(row, c) for c in SUMMARY_COLUMNS])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for n, line in enumerate(table):
        print("  ".join(value.rjust(width) for value, width in zip(line, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * width for width in widths))
    if any(r["p99_is_failure"] for r in rows):
        print("p99 'failed': more than 1 % of the requests failed; p99 ok shows the successes'.")


def _cell(row: dict[str, Any], column: ResultColumn) -> str:
    if column.key == "p99_ms" and row.get("p99_is_failure"):
        return "failed"
    value = shown(row.get(column.key), column.unit)
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:,}" if isinstance(value, int | float) else str(value)
