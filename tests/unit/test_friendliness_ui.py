"""The Dagster UI explains itself: every asset says what to look at, and every static partition
what it needs to fill (issue 14)."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.core.records import ALL_TARGETS
from nlp_bench_pipeline.defs.partitions import TARGET_NEEDS, partitions_guide

# The stages whose assets this issue describes (others, e.g. the peak search, describe their own).
DESCRIBED = {
    "model_artifact", "service_image", "deployment", "load_test_run", "run_summary",
    "platform_metrics", "cost_estimates", "memory_sweep", "scale_simulation",
    "comparison_charts", "sre_analysis", "benchmark_report",
}  # fmt: skip


@pytest.fixture(scope="module")
def descriptions() -> dict[str, str]:
    from nlp_bench_pipeline.definitions import defs

    found = {}
    for asset in defs.resolve_all_asset_specs():
        found[asset.key.to_user_string()] = asset.description or ""
    return found


def test_every_asset_says_what_to_look_at(descriptions):
    missing = sorted(name for name in DESCRIBED if "Look at" not in descriptions.get(name, ""))
    assert missing == []


@pytest.mark.parametrize("asset", ["deployment", "load_test_run"])
def test_a_partitioned_asset_says_what_each_target_partition_needs(descriptions, asset):
    text = descriptions[asset]
    for target in ALL_TARGETS:
        assert f"| `{target}` | {TARGET_NEEDS[target]} |" in text


def test_the_aws_partitions_say_what_they_need_and_how_to_enable_them():
    for target in ("aws-lambda", "aws-eks"):
        need = TARGET_NEEDS[target]
        assert "AWS credentials" in need
        assert "NLP_BENCH_SERVICE_IMAGE" in need
        assert "NLP_BENCH_TARGETS" in need
    assert "NLP_BENCH_AWS_CLUSTER" in TARGET_NEEDS["aws-eks"]
    assert "`<scenario>|<target>`" in partitions_guide(scenarios=True)
    assert "<scenario>" not in partitions_guide(scenarios=False)
