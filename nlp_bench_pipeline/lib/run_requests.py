"""The runs one benchmark needs: one per enabled cell, then one for the downstream assets.

One job cannot mix assets of different partitions definitions, so the cells and the summaries
are separate runs. All carry the ``nlp-bench/exclusive`` tag: the instance runs such runs one at
a time, in submission order, so the summaries run after the cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

from nlp_bench_pipeline.plan import BenchmarkPlan

EXCLUSIVE_TAG = {"nlp-bench/exclusive": "platform"}
LOAD_TEST_RUN = dg.AssetKey("load_test_run")
DOWNSTREAM = (dg.AssetKey("run_summary"), dg.AssetKey("platform_metrics"))


def benchmark_run_requests(
    plan: BenchmarkPlan, *, bench_config: Mapping[str, Any], key: str, reason: str
) -> list[dg.RunRequest]:
    """One run per enabled cell and one for the summaries, all configured with ``bench_config``."""
    run_config = {"resources": {"bench": {"config": dict(bench_config)}}}
    tags = {**EXCLUSIVE_TAG, "nlp-bench/profile": plan.profile, "nlp-bench/reason": reason}
    requests = [
        dg.RunRequest(
            run_key=f"{key}:{cell.target}:{cell.scenario}",
            asset_selection=[LOAD_TEST_RUN],
            partition_key=dg.MultiPartitionKey({"target": cell.target, "scenario": cell.scenario}),
            run_config=run_config,
            tags=tags,
        )
        for cell in plan.cells()
    ]
    requests.append(
        dg.RunRequest(
            run_key=f"{key}:summaries",
            asset_selection=list(DOWNSTREAM),
            run_config=run_config,
            tags=tags,
        )
    )
    return requests
