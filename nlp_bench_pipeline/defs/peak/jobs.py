"""[peak] The search as one job, as ``make bench`` can run it after the cells (docs/peak.md)."""

import dagster as dg

from nlp_bench_pipeline.defs.peak.assets import peak_rate
from nlp_bench_pipeline.lib.run_requests import EXCLUSIVE_TAG

peak_job = dg.define_asset_job(
    "peak",
    selection=[peak_rate],
    tags=EXCLUSIVE_TAG,
    description="the peak rate under the p99 bound on every enabled target (config: bound, "
    "policies, sizes); one probe series per target in quick, the sizes and both policies in full",
)
