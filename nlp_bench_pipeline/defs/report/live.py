"""[report] The live comparison: one text to every enabled target in parallel, as a user sees it.

A few lines over ``bench.comparison``: the local targets are started for it and torn down after
(it holds the platform pool's slot, so it never runs beside a benchmark cell); the answers are
in the metadata, and in DuckDB where the store has a ``live_comparisons`` table.
"""

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.bench.comparison import LiveComparison, run_live_comparison
from nlp_bench_pipeline.bench.verification import PROBE_BODY
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.lib.asset_support import enabled_target
from nlp_bench_pipeline.lib.tables import markdown_table
from nlp_bench_pipeline.lib.versions import source_version

LIVE_VERSION = source_version(
    "nlp_bench_pipeline/bench/comparison.py",
    "nlp_bench_pipeline/client.py",
    "nlp_bench_pipeline/defs/report/live.py",
)
ANSWER_COLUMNS = {
    "target": "target",
    "label": "label",
    "score": "score",
    "first_attempt_ms": "first attempt ms",
    "first_status": "first status",
    "first_label": "first attempt met",
    "attempts": "attempts",
    "time_to_first_success_ms": "to first success ms",
    "environment_id": "environment",
    "start": "cold/warm",
}


class LiveComparisonConfig(dg.Config):
    text: str = Field(PROBE_BODY["text"], description="the text every target is sent")
    targets: list[str] = Field(
        default_factory=list, description="targets to ask; empty: the bench plan's targets"
    )


@dg.asset(
    group_name="report",
    kinds={"python"},
    code_version=LIVE_VERSION,
    pool="nlp_bench_platform",
    description="The same text sent to every enabled target at once through the backoff "
    "client: label, score, the first attempt's latency and status, attempts, time to first "
    "success, the environment that answered and whether it answered cold.",
)
def live_comparison(
    context: dg.AssetExecutionContext,
    config: LiveComparisonConfig,
    bench: BenchmarkConfig,
    platforms: PlatformsResource,
    aws: AwsConfig,
    duckdb: MetricStoreResource,
) -> dg.MaterializeResult:
    plan = bench.plan()
    names = config.targets or plan.targets
    result = run_live_comparison(
        config.text,
        names,
        create=lambda name: enabled_target(plan, platforms, aws, name),
        spec_for=plan.deployment_spec,
        store=duckdb.get_store(),
        progress=context.log.info,
    )
    if not result.stored:
        context.log.info("the store has no live_comparisons table: answers kept in metadata")
    return dg.MaterializeResult(metadata=comparison_metadata(result))


def comparison_metadata(result: LiveComparison) -> dict[str, dg.MetadataValue]:
    rows = [{**a.model_dump(), "start": a.start} for a in result.answers]
    return {
        "comparison_id": dg.MetadataValue.text(result.comparison_id),
        "answers": dg.MetadataValue.md(markdown_table(rows, ANSWER_COLUMNS)),
        "all_ok": dg.MetadataValue.bool(all(a.ok for a in result.answers)),
        "stored_in_duckdb": dg.MetadataValue.bool(result.stored),
        "detail": dg.MetadataValue.json([a.model_dump(mode="json") for a in result.answers]),
    }
