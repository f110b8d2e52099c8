"""The nightly full-profile benchmark of every enabled cell."""

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.downstream import BENCHMARK_SELECTION, DOWNSTREAM_KEYS
from nlp_bench_pipeline.defs.resources import BenchmarkConfig
from nlp_bench_pipeline.lib.run_requests import benchmark_run_requests


@dg.schedule(
    cron_schedule="0 3 * * *",
    execution_timezone="UTC",
    target=BENCHMARK_SELECTION,
    description="Every night at 03:00 UTC: every enabled cell with the full profile, one run at "
    "a time, then the summaries, economics and the report.",
)
def nightly_full_benchmark(
    context: dg.ScheduleEvaluationContext, bench: BenchmarkConfig
) -> list[dg.RunRequest]:
    config = {**bench.model_dump(), "profile": "full"}
    tick = context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M")
    return benchmark_run_requests(
        BenchmarkConfig(**config).plan(),
        cells=load_test_run.key,
        downstream=DOWNSTREAM_KEYS,
        bench_config=config,
        key=f"nightly:{tick}",
        reason="nightly",
    )
