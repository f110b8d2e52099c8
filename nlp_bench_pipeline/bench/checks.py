"""Checks on what a benchmark cell left in DuckDB: data integrity first, then the results' bounds.

Plain Python over :class:`MetricStore`, whose queries they use; the Dagster asset checks wrap
these. Row counts are compared with the *schedule* and with *Locust's own* totals recorded at
run time, never with the rows themselves, so a lost or duplicated row cannot hide.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from nlp_bench_pipeline.bench.host_load import FOREIGN_LOAD_BOUND, busy, describe
from nlp_bench_pipeline.store.database import MetricStore


@dataclass(frozen=True)
class CheckOutcome:
    """A verdict, a sentence saying why, and the figures behind it."""

    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def rows_match_schedule(store: MetricStore, run_ids: list[str]) -> CheckOutcome:
    """Every scheduled request is exactly one row, and Locust counted every one it sent."""
    if not run_ids:
        return CheckOutcome(False, "no run of this cell is in the metric store")
    rows = store.row_accounting(run_ids)
    problems = []
    for row in rows:
        if row["rows"] != row["scheduled"] or row["distinct_seq"] != row["rows"]:
            problems.append(
                f"{row['run_id']}: {row['rows']} rows ({row['distinct_seq']} distinct) "
                f"for {row['scheduled']} scheduled"
            )
        if row["locust_requests"] is None:
            problems.append(f"{row['run_id']}: Locust's own count is missing")
        elif row["locust_requests"] + row["dropped"] != row["scheduled"]:
            problems.append(
                f"{row['run_id']}: Locust sent {row['locust_requests']} + {row['dropped']} "
                f"dropped ≠ {row['scheduled']} scheduled"
            )
        if row["status"] != "complete":
            problems.append(f"{row['run_id']}: status {row['status']}")
        problems += _tally_problems(row)
    missing = sorted(set(run_ids) - {r["run_id"] for r in rows})
    problems += [f"{run_id}: not in benchmark_runs" for run_id in missing]
    metadata = {
        "runs": len(rows),
        "scheduled": sum(r["scheduled"] for r in rows),
        "rows": sum(r["rows"] for r in rows),
    }
    if problems:
        return CheckOutcome(False, "; ".join(problems), metadata)
    return CheckOutcome(
        True, f"{metadata['rows']} rows = {metadata['scheduled']} scheduled requests", metadata
    )


TALLIED = ("ok", "http_error", "timeout", "connection_error", "sent")


def _tally_problems(row: dict[str, Any]) -> list[str]:
    """The rows against the load generator's own tally, kept apart from them at run time.

    The tally is what each Locust process counted as its requests ended, written beside the
    Parquet files and never derived from them: a row lost or doubled between the generator and
    DuckDB shows here, whatever ingestion checked. Runs stored before the tally existed have
    none: they are judged on the schedule and Locust's totals alone, as they were when stored.
    """
    if row.get("generator_tally") is None:
        return []
    tally = json.loads(row["generator_tally"])
    problems = [
        f"{row['run_id']}: {row[name]} {name} rows, the generator counted {tally.get(name, 0)}"
        for name in TALLIED
        if row[name] != tally.get(name, 0)
    ]
    if row["dropped_rows"] != tally.get("dropped", 0):
        problems.append(
            f"{row['run_id']}: {row['dropped_rows']} dropped rows, the generator counted "
            f"{tally.get('dropped', 0)}"
        )
    if row["locust_requests"] is not None and row["locust_requests"] != tally.get("sent", 0):
        problems.append(
            f"{row['run_id']}: Locust counted {row['locust_requests']} requests, the generator "
            f"sent {tally.get('sent', 0)}"
        )
    return problems


def error_rate_within(store: MetricStore, run_ids: list[str], bound: float) -> CheckOutcome:
    """The measure phase's failed share stays under ``bound``.

    Failed share = (errors + dropped) / scheduled requests. ``run_summary.error_rate`` counts
    errors only; a request the generator had to drop because the server could not keep up is a
    failure to serve too, so the bound counts both.
    """
    rows = store.summary_rows(run_ids)
    if not rows:
        return CheckOutcome(False, "no summary rows for this cell")

    def failed_share(row: dict[str, Any]) -> float:
        return (row["errors"] + row["dropped"]) / row["requests"] if row["requests"] else 1.0

    worst = max(rows, key=failed_share)
    rate = failed_share(worst)
    metadata = {"worst_failed_share": rate, "bound": bound, "run_id": worst["run_id"]}
    verdict = "≤" if rate <= bound else ">"
    return CheckOutcome(
        rate <= bound,
        f"errors + dropped {rate:.2%} of scheduled {verdict} bound {bound:.2%}",
        metadata,
    )


def p99_within_slo(store: MetricStore, run_ids: list[str], bound_ms: float) -> CheckOutcome:
    """MLPerf-style: the corrected p99 over *every* request of each repetition is in the bound.

    Failed and dropped requests count as requests that missed the bound (MLPerf's Server rules):
    a p99 that lands on one fails, whatever the successes' own p99 is.
    """
    rows = store.summary_rows(run_ids)
    if not rows:
        return CheckOutcome(False, "no measured request to take a p99 of")
    failing = [r for r in rows if r["p99_is_failure"] or r["p99_corrected_ms"] is None]
    if failing:
        worst = max(failing, key=lambda r: r["failed_share"] or 0.0)
        share = worst["failed_share"] or 0.0
        return CheckOutcome(
            False,
            f"p99 lands on a failed or dropped request ({share:.1%} of {worst['requests']} "
            f"failed in {worst['run_id']}): over the {bound_ms:.0f} ms SLO",
            {"worst_failed_share": share, "bound_ms": bound_ms, "run_id": worst["run_id"]},
        )
    worst_ms = max(r["p99_corrected_ms"] for r in rows)
    metadata = {"worst_p99_corrected_ms": worst_ms, "bound_ms": bound_ms}
    verdict = "within" if worst_ms <= bound_ms else "over"
    return CheckOutcome(
        worst_ms <= bound_ms,
        f"p99 (corrected, every request) {worst_ms:.1f} ms {verdict} the {bound_ms:.0f} ms SLO",
        metadata,
    )


def host_quiet(
    store: MetricStore, run_ids: list[str], bound: float = FOREIGN_LOAD_BOUND
) -> CheckOutcome:
    """On a local target, processes outside the run took at most ``bound`` of the host's CPU.

    A local platform is measured on the host's cores: another process using them (a second
    benchmark, a test suite) bends the figures the way the host-limited rule cannot see. A run
    over the bound keeps its rows — they happened — but is marked, so that nobody reads the
    laptop's load as the platform's (``bench.host_load`` says how it is measured). A run
    against a cloud target, or one measured before the meter existed, is not judged.
    """
    hosts = store.run_hosts(run_ids)
    if not hosts:
        return CheckOutcome(False, "no run of this cell is in the metric store")
    judged, over = [], []
    for run_id, (target, host) in hosts.items():
        load = host.get("host_load")
        if not target.startswith("local-") or not load:
            continue
        judged.append(load["foreign_share"])
        if busy(load, bound):
            over.append(f"{run_id}: {describe(load)}")
    if not judged:
        return CheckOutcome(True, "not judged: the platform is not on this host, or no meter ran")
    metadata = {"worst_foreign_share": max(judged), "bound": bound}
    if over:
        return CheckOutcome(False, "; ".join(over) + f" — over the {bound:.0%} bound", metadata)
    return CheckOutcome(
        True,
        f"other processes took at most {max(judged):.1%} of the host's CPU (bound {bound:.0%})",
        metadata,
    )
