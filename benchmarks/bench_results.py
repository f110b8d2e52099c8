"""What the last ``make bench`` measured, read back from its DuckDB file: the scale simulator's
validation against those very runs (issue 12), and the figures the comparison rests on.

Nothing is run here: ``make bench`` (or ``nlp-bench bench``) fills the store, and this section
records what it found, with the store's own timestamps. The baseline of the validation is the
measured run itself; each row's ratio is simulated / measured, and it passes when the simulated
figure falls in the bound the validation stored (±15 % or the run's bootstrap 95 % interval,
whichever is wider; counts ±max(15 %, 2)). The store is ``NLP_BENCH_DB`` (the Makefile's
default, ``data/nlp_bench.duckdb``); without one, the section says so and has no target.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.report import ROOT, Section, table
from nlp_bench_pipeline.store.database import MetricStore

VALIDATION_SQL = """
SELECT target, scenario, metric, measured, simulated, low, high, passed, reason, validated_at
FROM latest_simulation_validation ORDER BY target, scenario, metric
"""
RESULTS_SQL = """
SELECT target, scenario, profile, offered_rps, throughput_rps, p50_ms, p99_ms, p99_is_failure,
       failed_share, cold_starts, time_to_first_success_ms, host_limited_share, slo_p99_ms,
       slo_met
FROM run_summary JOIN latest_runs USING (run_id) ORDER BY target, scenario
"""
BREAKEVEN_SQL = """
SELECT shape, rate_rps, interval_low_rps, interval_high_rps, cheaper_below, lambda_memory_mb,
       node_type, pod_capacity_rps, reason
FROM latest_cost_breakeven ORDER BY shape
"""


def store_path() -> Path:
    return Path(os.environ.get("NLP_BENCH_DB", ROOT / "data" / "nlp_bench.duckdb"))


def run(path: Path | None = None) -> Section:
    path = path or store_path()
    if not path.is_file():
        body = f"No metric store at `{path}`: run `make bench` first, then this benchmark."
        return Section("bench_results", "The last make bench: validation and results", body)
    store = MetricStore(path)
    with store.connect(read_only=True) as conn:
        validation = conn.sql(VALIDATION_SQL).fetchall()
        results = conn.sql(RESULTS_SQL).fetchall()
        breakeven = conn.sql(BREAKEVEN_SQL).fetchall()
    return Section(
        "bench_results",
        "The last make bench: validation and results",
        _body(validation, results, breakeven),
        passed=all(row[7] for row in validation) if validation else None,
        figures={
            "validation": [_validation_row(row) for row in validation],
            "results": [list(row) for row in results],
            "breakeven": [list(row) for row in breakeven],
        },
    )


def _ratio(measured: float | None, simulated: float | None) -> float | str:
    if measured in (None, 0) or simulated is None:
        return "—"
    return simulated / measured


def _validation_row(row: tuple) -> list[object]:
    target, scenario, metric, measured, simulated, low, high, passed, reason, _ = row
    bound = "—" if low is None or high is None else f"{low:,.1f} – {high:,.1f}"
    return [
        target,
        scenario,
        metric,
        _num(measured),
        _num(simulated),
        _ratio(measured, simulated),
        bound,
        "yes" if passed else "NO",
        reason or "",
    ]


def _num(value: float | None) -> float | str:
    return "—" if value is None else float(value)


def _cell(value: object) -> object:
    """None as a dash, booleans as yes/no; the rest as the table prints it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def _body(validation: list[tuple], results: list[tuple], breakeven: list[tuple]) -> str:
    parts = [__doc__.split("\n\n")[1].replace("\n", " ")]
    if validation:
        parts.append(
            f"**The simulator against the runs** (validated {validation[0][9]:%Y-%m-%d %H:%M} "
            "UTC):\n\n"
            + table(
                [
                    "target",
                    "scenario",
                    "metric",
                    "measured",
                    "simulated",
                    "ratio",
                    "bound",
                    "passed",
                    "why not",
                ],
                [_validation_row(row) for row in validation],
            )
        )
    else:
        parts.append("The store holds no simulator validation (the economics stage has not run).")
    parts.append(
        "**The runs** (latest complete series; p99 over every scheduled request, host-limited "
        "share as docs/schema.md defines it):\n\n"
        + table(
            [
                "target",
                "scenario",
                "profile",
                "offered rps",
                "served rps",
                "p50 ms",
                "p99 ms",
                "p99 on a failure",
                "failed",
                "cold starts",
                "first success ms",
                "host-limited",
                "SLO ms",
                "SLO met",
            ],
            [[_cell(v) for v in row] for row in results],
        )
    )
    if breakeven:
        parts.append(
            "**Break-even** (the rate above which EKS is cheaper at equal SLO):\n\n"
            + table(
                [
                    "shape",
                    "rate rps",
                    "low",
                    "high",
                    "cheaper below",
                    "Lambda MB",
                    "node",
                    "pod capacity rps",
                    "reason",
                ],
                [[_cell(v) for v in row] for row in breakeven],
            )
        )
    return "\n\n".join(parts)
