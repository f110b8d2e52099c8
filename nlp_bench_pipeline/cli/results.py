"""``nlp-bench summary``, ``sql`` and ``export``: results out of the metric store.

``sql`` runs a query on the project's DuckDB file, or opens a prompt without one; the ``duckdb``
command-line tool is not shipped because its releases can lag the Python package's storage
format. It opens the file through the store, read-only unless ``--write``, once per query — at
the prompt once per statement — because DuckDB lets nobody write while any process has the file
open, a reader included: a bench storing a run is held up for one query at most, never for the
whole session. While a bench holds the file the query waits (and says so), as the pipeline's own
connections do; past the wait it is one line naming the file and the holder.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Any

import duckdb

from nlp_bench_pipeline.lib.tables import ResultColumn, shown
from nlp_bench_pipeline.loadgen.scenarios import PROFILES
from nlp_bench_pipeline.settings import PROJECT_ROOT, get_pipeline_settings
from nlp_bench_pipeline.store.database import EXPORTABLE, MetricStore, StoreError, StoreLocked

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
LOCK_WAIT_S = 60.0  # as long as the pipeline's own connections wait for a bench's write


def register(subparsers: argparse._SubParsersAction) -> None:
    summary = subparsers.add_parser("summary", help="print the latest complete results from DuckDB")
    summary.add_argument(
        "--profile", choices=PROFILES, help="only runs of this profile (default: every profile)"
    )
    summary.set_defaults(handler=summary_command)
    sql = subparsers.add_parser(
        "sql", help="query the metric store (read-only unless --write); without a query, a prompt"
    )
    sql.add_argument("query", nargs="?", help='e.g. "SELECT * FROM run_summary"')
    sql.add_argument(
        "--write",
        action="store_true",
        help="open the file for writing, so statements may change it (default: read-only)",
    )
    sql.set_defaults(handler=sql_command)
    export = subparsers.add_parser("export", help="write tables or views to CSV or Parquet")
    export.add_argument(
        "--what",
        default="run_summary,requests",
        help=f"comma-separated, of: {', '.join(sorted(EXPORTABLE))}",
    )
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="file type")
    export.add_argument(
        "--out", type=Path, default=PROJECT_ROOT / "data" / "exports", help="the folder to write"
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
    store = MetricStore(
        path, lock_timeout_s=LOCK_WAIT_S, on_lock_wait=functools.partial(_say_waiting, path)
    )
    try:
        if args.query:
            return _run(store, args.query, write=args.write)
        return _prompt(store, write=args.write)
    except KeyboardInterrupt:  # Ctrl-C while a query runs or waits for the file
        print(file=sys.stderr)
        return 130


def _run(store: MetricStore, query: str, *, write: bool) -> int:
    """The query on a connection of its own, closed before the next one opens."""
    try:
        with store.connect(read_only=not write) as conn:
            relation = conn.sql(query)
            if relation is not None:
                relation.show(max_width=200)
    except StoreLocked as exc:
        print(f"nlp-bench sql: error: {_locked(exc)}", file=sys.stderr)
        return 1
    except duckdb.Error as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _prompt(store: MetricStore, *, write: bool) -> int:
    mode = "read-write: statements may change it" if write else "read-only"
    print(
        f"{store.path} ({mode}; opened for each statement, so a bench can store its runs in "
        "between); end each statement with ';', Ctrl-C drops it, Ctrl-D leaves",
        file=sys.stderr,
    )
    pending: list[str] = []
    while True:
        try:
            pending.append(input(PROMPT if not pending else "...> "))
            if pending[-1].rstrip().endswith(";"):
                _run(store, "\n".join(pending), write=write)
                pending.clear()
        except EOFError:
            print(file=sys.stderr)
            return 0
        except KeyboardInterrupt:  # drops the statement being typed, or the one waiting
            print(file=sys.stderr)
            pending.clear()


def _say_waiting(path: Path, holder: str) -> None:
    print(
        f"nlp-bench sql: {path} is held by {holder} (a bench storing a run, or another open "
        f"session); waiting up to {LOCK_WAIT_S:g} s for it, Ctrl-C to stop",
        file=sys.stderr,
    )


def _locked(exc: StoreLocked) -> str:
    return (
        f"{exc.path} stayed locked by {exc.holder} for {exc.waited_s:g} s: run the query again "
        "once that process is done with the file (a bench holds it while it stores a run), or "
        "close the other session that has it open"
    )


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
