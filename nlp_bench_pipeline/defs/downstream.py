"""What follows the benchmark cells: the peak-rate search, the summaries, the economics and the
report, in that order (as ``nlp-bench bench`` runs them).

The schedule and the sensor target the cells and these assets; one job cannot mix partitioned
and unpartitioned assets, so the cells run one by one and these run together after them.
"""

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.economics.assets import cost_estimates, memory_sweep, scale_simulation
from nlp_bench_pipeline.defs.economics.catalog import price_catalog
from nlp_bench_pipeline.defs.metrics.assets import platform_metrics, run_summary
from nlp_bench_pipeline.defs.peak.assets import peak_rate
from nlp_bench_pipeline.defs.report.assets import benchmark_report, comparison_charts, sre_analysis

DOWNSTREAM: list[dg.AssetsDefinition] = [
    peak_rate,
    run_summary,
    platform_metrics,
    price_catalog,
    cost_estimates,
    memory_sweep,
    scale_simulation,
    comparison_charts,
    sre_analysis,
    benchmark_report,
]
DOWNSTREAM_KEYS = [asset.key for asset in DOWNSTREAM]
BENCHMARK_SELECTION = dg.AssetSelection.assets(load_test_run, *DOWNSTREAM)
