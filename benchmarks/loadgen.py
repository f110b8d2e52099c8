"""Load-generator capacity: how many requests per second one Locust process sends on schedule.

One run, one Locust process, against the trivial loopback endpoint on the same cores, with the
arrival rate stepped up every few seconds (a sweep). Per step: the rate achieved, the drops, and
the send lateness (sent − intended) — the generator's own error, which must stay small for any
latency it reports to be believed. Target: ≥ 1,000 req/s per process with lateness p99 ≤ 10 ms;
the figure to know is the highest step that still meets both.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb

from benchmarks.report import Section, table
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen import loopback, runner
from nlp_bench_pipeline.loadgen.repetition import PLAN_FILE, SUMMARY_FILE, RepetitionPlan

STEPS_RPS = (250, 500, 1000, 1500, 2000, 3000, 4000)
STEP_S = 4.0
WARMUP_S = 1.0
TARGET_RPS = 1000
LATENESS_P99_MS = 10.0
MAX_INFLIGHT = 1000

HEADERS = [
    "target req/s",
    "sent req/s",
    "sent/scheduled",
    "dropped",
    "lateness p50 ms",
    "lateness p99 ms",
    "latency p50 ms",
    "latency p99 ms",
    "holds",
]
PER_STEP = """
WITH rows AS (
    -- seconds since the start epoch: the first request is due $first_offset after it
    SELECT *, intended_s - min(intended_s) OVER () + $first_offset AS t
    FROM read_parquet($files)
)
SELECT
    CAST(floor((t - $warmup) / $step) AS INTEGER) AS step,
    count(*) AS scheduled,
    count(sent_s) AS sent,
    count(*) FILTER (WHERE outcome = 'dropped') AS dropped,
    count(*) FILTER (WHERE outcome NOT IN ('ok', 'dropped')) AS errors,
    quantile_cont((sent_s - intended_s) * 1000, 0.5) AS lateness_p50_ms,
    quantile_cont((coalesce(sent_s, unblocked_s) - intended_s) * 1000, 0.99) AS lateness_p99_ms,
    quantile_cont((done_s - sent_s) * 1000, 0.5) AS latency_p50_ms,
    quantile_cont((done_s - sent_s) * 1000, 0.99) AS latency_p99_ms
FROM rows
WHERE phase = 'measure'
GROUP BY ALL
ORDER BY step
"""


def run() -> Section:
    with tempfile.TemporaryDirectory(prefix="nlp-bench-loadgen-") as tmp:
        work_dir = Path(tmp)
        with loopback.serve(work_dir) as url:
            summary = _sweep(url, work_dir)
        steps = _per_step(summary)
    held = [s for s in steps if _holds(s)]
    at_target = next((s for s in steps if s["rate_rps"] == TARGET_RPS), None)
    passed = bool(summary.consistent and at_target and _holds(at_target))
    most = max((s["rate_rps"] for s in held), default=0)
    body = "\n\n".join(
        [
            f"One Locust process, open loop (Poisson arrivals), rate stepped every {STEP_S:.0f} s "
            f"against the loopback endpoint (`nlp_bench_pipeline/loadgen/loopback.py`) on the "
            f"same cores; max_inflight {MAX_INFLIGHT}. Target: ≥ {TARGET_RPS:,} req/s with send "
            f"lateness p99 ≤ {LATENESS_P99_MS:.0f} ms. A step *holds* when it sends ≥ 98 % of "
            "its scheduled requests, drops nothing and keeps lateness p99 within the bound; "
            "dropped requests count as late until the pool had room (docs/adr/0032).",
            f"**Highest step held: {most:,} req/s per process.** Rows {summary.rows:,} = "
            f"scheduled {summary.scheduled:,} = Locust's {summary.locust_requests:,} + dropped "
            f"{summary.dropped:,}: {'consistent' if summary.consistent else 'INCONSISTENT'}.",
            table(HEADERS, [_table_row(s) for s in steps]),
        ]
    )
    return Section(
        key="loadgen",
        title="Load generator capacity (one Locust process)",
        body=body,
        passed=passed,
        figures={"highest_held_rps": most, "steps": steps, "summary": summary.model_dump()},
    )


def _sweep(url: str, work_dir: Path) -> RunSummary:
    measure = ", ".join(f"{{duration_s: {STEP_S}, rate: {r}}}" for r in STEPS_RPS)
    code = runner.main(
        [
            "run",
            f"--host={url}",
            "--scenario=warm_steady",
            "--repetition=0",
            "--target=loopback",
            f"--work-dir={work_dir}",
            f"--set=warmup=[{{duration_s: {WARMUP_S}, rate: 100}}]",
            f"--set=measure=[{measure}]",
            f"--set=max_inflight={MAX_INFLIGHT}",
            "--set=timeout_s=10",
        ]
    )
    (summary_file,) = work_dir.glob(f"loadgen/*/{SUMMARY_FILE}")
    summary = RunSummary.model_validate_json(summary_file.read_text())
    if code != 0:
        raise RuntimeError(f"the sweep failed: {summary.problems}")
    return summary


def _per_step(summary: RunSummary) -> list[dict[str, float]]:
    plan = RepetitionPlan.read(Path(summary.run_dir) / PLAN_FILE)
    first_offset = float(plan.schedule().offsets_s[0])
    with duckdb.connect() as conn:
        rows = conn.execute(
            PER_STEP,
            {
                "files": summary.files,
                "warmup": WARMUP_S,
                "step": STEP_S,
                "first_offset": first_offset,
            },
        ).fetchall()
        columns = [d[0] for d in conn.description]
    steps = []
    for values in rows:
        step = dict(zip(columns, values, strict=True))
        if 0 <= step["step"] < len(STEPS_RPS):
            step["rate_rps"] = STEPS_RPS[step["step"]]
            step["sent_rps"] = step["sent"] / STEP_S
            steps.append(step)
    return steps


def _table_row(step: dict[str, float]) -> list[object]:
    return [
        step["rate_rps"],
        step["sent_rps"],
        step["sent"] / step["scheduled"],
        step["dropped"],
        step["lateness_p50_ms"],
        step["lateness_p99_ms"],
        step["latency_p50_ms"],
        step["latency_p99_ms"],
        "yes" if _holds(step) else "no",
    ]


def _holds(step: dict[str, float]) -> bool:
    return (
        step["sent"] >= 0.98 * step["scheduled"]
        and step["dropped"] == 0
        and step["lateness_p99_ms"] is not None
        and step["lateness_p99_ms"] <= LATENESS_P99_MS
    )
