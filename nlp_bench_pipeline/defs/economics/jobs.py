"""[economics] The stage as one job, as ``make bench`` runs it after the summaries."""

import dagster as dg

from nlp_bench_pipeline.lib.run_requests import EXCLUSIVE_TAG

economics_job = dg.define_asset_job(
    "economics",
    selection=dg.AssetSelection.groups("economics"),
    tags=EXCLUSIVE_TAG,
    description="price catalog, cost estimates and break-even, memory-size sweep, scale "
    "simulation with its validation (after the summaries)",
)
