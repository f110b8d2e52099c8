"""[report] Jobs: the report (charts, analysis, page) after the summaries, and the live
comparison. Both carry the exclusive tag, so they queue behind a running benchmark."""

import dagster as dg

from nlp_bench_pipeline.defs.report.assets import benchmark_report, comparison_charts, sre_analysis
from nlp_bench_pipeline.defs.report.live import live_comparison
from nlp_bench_pipeline.lib.run_requests import EXCLUSIVE_TAG

report_job = dg.define_asset_job(
    "report",
    selection=[comparison_charts, sre_analysis, benchmark_report],
    tags=EXCLUSIVE_TAG,
    description="charts, the SRE analysis and the HTML report of the latest complete runs",
)
live_comparison_job = dg.define_asset_job(
    "compare",
    selection=[live_comparison],
    tags=EXCLUSIVE_TAG,
    description="one text to every enabled target in parallel (config: text, targets)",
)
