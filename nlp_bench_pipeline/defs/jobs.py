"""Jobs per stage, as the UI and ``make bench`` launch them (one partitions definition each)."""

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.deploy.assets import deployment
from nlp_bench_pipeline.defs.metrics.assets import platform_metrics, run_summary
from nlp_bench_pipeline.lib.run_requests import EXCLUSIVE_TAG

build_job = dg.define_asset_job(
    "build", selection=[model_artifact, service_image], description="model artifact and image"
)
deploy_job = dg.define_asset_job(
    "deploy",
    selection=[deployment],
    tags=EXCLUSIVE_TAG,
    description="deploy and verify one target (partition = target)",
)
benchmark_cell_job = dg.define_asset_job(
    "benchmark_cell",
    selection=[load_test_run],
    tags=EXCLUSIVE_TAG,
    description="one benchmark cell with its checks (partition = scenario|target)",
)
summaries_job = dg.define_asset_job(
    "summaries",
    selection=[run_summary, platform_metrics],
    tags=EXCLUSIVE_TAG,
    description="run_summary and platform_metrics over the latest complete runs",
)
