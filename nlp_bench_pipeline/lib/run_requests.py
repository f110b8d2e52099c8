"""The runs one benchmark needs: one per enabled cell, then one for the downstream assets.

One job cannot mix assets of different partitions definitions, so the cells and the summaries
are separate runs. All carry the ``nlp-bench/exclusive`` tag: the instance runs such runs one at
a time, in submission order, so the summaries run after the cells.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from nlp_bench_pipeline.bench.plan import BenchmarkPlan

EXCLUSIVE_TAG = {"nlp-bench/exclusive": "platform"}


def benchmark_run_requests(
    plan: BenchmarkPlan,
    *,
    cells: dg.AssetKey,
    downstream: Sequence[dg.AssetKey],
    bench_config: Mapping[str, Any],
    key: str,
    reason: str,
) -> list[dg.RunRequest]:
    """One run of ``cells`` per enabled cell, then one of ``downstream``, all configured alike."""
    run_config = {"resources": {"bench": {"config": dict(bench_config)}}}
    tags = {**EXCLUSIVE_TAG, "nlp-bench/profile": plan.profile, "nlp-bench/reason": reason}
    requests = [
        dg.RunRequest(
            run_key=f"{key}:{cell.target}:{cell.scenario}",
            asset_selection=[cells],
            partition_key=dg.MultiPartitionKey({"target": cell.target, "scenario": cell.scenario}),
            run_config=run_config,
            tags=tags,
        )
        for cell in plan.cells()
    ]
    requests.append(
        dg.RunRequest(
            run_key=f"{key}:summaries",
            asset_selection=list(downstream),
            run_config=run_config,
            tags=tags,
        )
    )
    return requests
