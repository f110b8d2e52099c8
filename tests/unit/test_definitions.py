"""The code location loads, and every definition says what it is."""

from __future__ import annotations

import dagster as dg
import pytest

from nlp_bench_pipeline.definitions import defs
from nlp_bench_pipeline.settings import get_pipeline_settings

ASSETS = {
    "model_artifact",
    "service_image",
    "deployment",
    "load_test_run",
    "run_summary",
    "platform_metrics",
    "price_catalog",
    "cost_estimates",
    "memory_sweep",
    "scale_simulation",
    "comparison_charts",
    "benchmark_report",
    "sre_analysis",
    "live_comparison",
    "peak_rate",
}


@pytest.fixture(scope="module")
def repository():
    return defs.get_repository_def()


def test_every_asset_is_defined_with_group_kinds_version_and_description(repository) -> None:
    graph = repository.asset_graph
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert keys == ASSETS
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        groups = {"build", "deploy", "bench", "metrics", "economics", "report", "peak"}
        assert node.group_name in groups
        assert node.code_version, key
        assert node.kinds, key
        assert node.description, key


def test_partitions_are_per_target_and_per_cell(repository) -> None:
    graph = repository.asset_graph
    deployment = graph.get(dg.AssetKey("deployment")).partitions_def
    assert deployment.get_partition_keys() == ["local-lambda", "local-k8s", "aws-lambda", "aws-eks"]
    cells = graph.get(dg.AssetKey("load_test_run")).partitions_def
    assert "warm_steady|local-lambda" in cells.get_partition_keys()
    assert len(cells.get_partition_keys()) == 4 * 5


def test_checks_guard_each_cell_and_only_row_counts_block(repository) -> None:
    checks = {key.name: key for key in repository.asset_graph.asset_check_keys}
    assert set(checks) == {
        "rows_equal_scheduled",
        "error_rate_bound",
        "p99_slo",
        "quiet_host",
        "prices_read_within_a_year",
        "analysis_numbers_grounded",
    }
    specs = {
        spec.name: spec
        for checks_def in repository.asset_checks_defs_by_key.values()
        for spec in checks_def.check_specs
    }
    assert specs["rows_equal_scheduled"].blocking is True
    assert specs["error_rate_bound"].blocking is False
    assert specs["p99_slo"].blocking is False
    assert specs["quiet_host"].blocking is False


def test_jobs_schedule_and_sensor_are_registered(repository) -> None:
    jobs = {job.name for job in repository.get_all_jobs()}
    assert {"build", "deploy", "benchmark_cell", "summaries", "peak"} <= jobs
    assert [s.name for s in repository.schedule_defs] == ["nightly_full_benchmark"]
    assert sorted(s.name for s in repository.sensor_defs) == [
        "digest_change_sensor",
        "expired_deployments_guard",
    ]


def test_platform_assets_share_one_pool(repository) -> None:
    graph = repository.asset_graph
    for name in ("deployment", "load_test_run", "peak_rate"):
        assets_def = graph.get(dg.AssetKey(name)).assets_def
        assert {op.pool for op in assets_def.node_def.iterate_op_defs()} == {"nlp_bench_platform"}


def test_resources_default_to_the_local_benchmark() -> None:
    plan = defs.resources["bench"].plan()
    assert plan.targets == ["local-lambda", "local-k8s"]
    assert plan.profile == get_pipeline_settings().profile
    assert set(defs.resources) >= {
        "bench",
        "duckdb",
        "aws",
        "platforms",
        "pipes_subprocess_client",
        "in_region_load",
    }
    assert plan.load_from == get_pipeline_settings().load_from
