"""The nightly schedule and the digest sensor: one run per enabled cell, then the summaries."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg
import pytest

from nlp_bench_pipeline.definitions import defs
from nlp_bench_pipeline.defs.bench.schedules import nightly_full_benchmark
from nlp_bench_pipeline.defs.bench.sensors import digest_change_sensor
from nlp_bench_pipeline.defs.resources import BenchmarkConfig

BENCH = BenchmarkConfig(targets=["local-lambda", "local-k8s"], scenarios=["warm_steady", "burst"])


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:
        yield instance


def materialized(instance: dg.DagsterInstance, asset: str, digest: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset, tags={"dagster/data_version": digest})
    )


def cell_keys(requests: list[dg.RunRequest]) -> list[str]:
    return [str(r.partition_key) for r in requests if r.partition_key]


def test_nightly_schedule_requests_every_cell_then_the_peak_summaries_economics_and_report(
    instance,
) -> None:
    context = dg.build_schedule_context(
        instance=instance,
        scheduled_execution_time=datetime(2026, 11, 28, 3, tzinfo=UTC),
        resources={"bench": BENCH},
        repository_def=defs.get_repository_def(),
    )
    requests = nightly_full_benchmark.evaluate_tick(context).run_requests
    assert cell_keys(requests) == [
        "warm_steady|local-lambda",
        "burst|local-lambda",
        "warm_steady|local-k8s",
        "burst|local-k8s",
    ]
    assert [k.to_user_string() for k in requests[0].asset_selection] == ["load_test_run"]
    summaries = requests[-1]
    assert summaries.partition_key is None
    assert {k.to_user_string() for k in summaries.asset_selection} == {
        "peak_rate",
        "run_summary",
        "platform_metrics",
        "price_catalog",
        "cost_estimates",
        "memory_sweep",
        "scale_simulation",
        "comparison_charts",
        "sre_analysis",
        "benchmark_report",
    }
    for request in requests:
        config = request.run_config["resources"]["bench"]["config"]
        assert config["profile"] == "full"
        assert config["scenarios"] == ["warm_steady", "burst"]
        assert request.tags["nlp-bench/exclusive"] == "platform"
    assert len({r.run_key for r in requests}) == len(requests)


def test_sensor_first_records_digests_then_fires_only_on_change(instance) -> None:
    materialized(instance, "model_artifact", "sha256:model-1")
    materialized(instance, "service_image", "sha256:image-1")

    def evaluate(cursor: str | None):
        context = dg.build_sensor_context(
            instance=instance,
            cursor=cursor,
            resources={"bench": BENCH},
            repository_def=defs.get_repository_def(),
        )
        return digest_change_sensor.evaluate_tick(context)

    first = evaluate(None)
    assert first.run_requests == []
    assert json.loads(first.cursor) == {"model": "sha256:model-1", "image": "sha256:image-1"}

    unchanged = evaluate(first.cursor)
    assert unchanged.run_requests == []
    assert "unchanged" in unchanged.skip_message

    materialized(instance, "service_image", "sha256:image-2")
    fired = evaluate(first.cursor)
    assert len(cell_keys(fired.run_requests)) == 4
    assert len(fired.run_requests) == 5
    assert fired.run_requests[0].tags["nlp-bench/reason"] == "image digest changed"
    assert json.loads(fired.cursor)["image"] == "sha256:image-2"
    assert fired.run_requests[0].run_config["resources"]["bench"]["config"]["profile"] == "quick"


def test_the_expiry_guard_skips_without_aws_credentials(monkeypatch, tmp_path) -> None:
    from nlp_bench_pipeline.defs.deploy.sensors import expired_deployments_guard
    from nlp_bench_pipeline.defs.resources import AwsConfig, PlatformsResource

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    context = dg.build_sensor_context(
        resources={"aws": AwsConfig(), "platforms": PlatformsResource(work_dir=str(tmp_path))}
    )
    skipped = expired_deployments_guard(context)
    assert "no AWS credentials" in skipped.skip_message
