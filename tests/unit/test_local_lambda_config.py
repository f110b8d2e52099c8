"""local-lambda knobs: AWS defaults, validation, host limits and the quick preset."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.local_lambda.config import (
    HostCapacity,
    LocalLambdaConfig,
    memory_share_note,
    preset,
    resolve_limits,
)

LAPTOP = HostCapacity(cores=2, memory_mb=23_000)


def test_defaults_are_aws_numbers() -> None:
    config = LocalLambdaConfig()
    assert (config.api, config.payload_format) == ("http", "2.0")
    assert config.function_timeout_s == 30
    assert config.init_timeout_s == 10
    assert (config.scale_out_limit, config.scale_out_window_s) == (1000, 10)
    assert (config.gateway_rate_limit_rps, config.gateway_burst) == (10_000, 5_000)
    assert config.max_request_bytes == 10 * 1024 * 1024
    assert config.idle_eviction_s == 600


def test_unknown_platform_key_is_an_error() -> None:
    spec = DeploymentSpec(target="local-lambda", platform={"idle_evicton_s": 5})
    with pytest.raises(ValidationError, match="idle_evicton_s"):
        LocalLambdaConfig.from_spec(spec)


def test_http_api_integration_timeout_cannot_exceed_30_seconds() -> None:
    with pytest.raises(ValidationError, match="at most 30"):
        LocalLambdaConfig(api="http", integration_timeout_s=31)


def test_integration_timeout_defaults_to_the_api_maximum() -> None:
    http = resolve_limits(LocalLambdaConfig(api="http"), 1769, LAPTOP)
    rest = resolve_limits(LocalLambdaConfig(api="rest"), 1769, LAPTOP)
    assert (http.integration_timeout_s, rest.integration_timeout_s) == (30, 29)


def test_concurrency_limit_is_host_limited_by_cores() -> None:
    limits = resolve_limits(LocalLambdaConfig(), 1769, LAPTOP)
    assert limits.concurrency_limit == 4
    assert "concurrency_limit" in limits.host_limited
    assert "host-limited" in limits.notes["concurrency_limit"]


def test_concurrency_limit_is_host_limited_by_memory() -> None:
    limits = resolve_limits(LocalLambdaConfig(), 2048, HostCapacity(cores=8, memory_mb=5000))
    assert limits.concurrency_limit == 2


def test_explicit_concurrency_limit_is_not_host_limited() -> None:
    limits = resolve_limits(LocalLambdaConfig(concurrency_limit=9), 1769, LAPTOP)
    assert limits.concurrency_limit == 9
    assert "concurrency_limit" not in limits.host_limited


def test_concurrent_inits_default_to_host_cores_less_one() -> None:
    limits = resolve_limits(LocalLambdaConfig(), 1769, LAPTOP)
    assert limits.max_concurrent_inits == 1
    assert "max_concurrent_inits" in limits.host_limited
    big = resolve_limits(LocalLambdaConfig(), 1769, HostCapacity(cores=8, memory_mb=64_000))
    assert big.max_concurrent_inits == 7


def test_idle_eviction_is_labelled_an_assumption() -> None:
    limits = resolve_limits(LocalLambdaConfig(), 1769, LAPTOP)
    assert "assumption" in limits.notes["idle_eviction_s"]


def test_provisioned_concurrency_above_the_limit_is_an_error() -> None:
    with pytest.raises(ValueError, match="exceeds the concurrency limit 4"):
        resolve_limits(LocalLambdaConfig(provisioned_concurrency=5), 1769, LAPTOP)


def test_provisioned_init_limit_is_130_s_or_the_function_timeout_if_higher() -> None:
    short = resolve_limits(LocalLambdaConfig(function_timeout_s=60), 1769, LAPTOP)
    long = resolve_limits(LocalLambdaConfig(function_timeout_s=300), 1769, LAPTOP)
    assert (short.provisioned_init_timeout_s, long.provisioned_init_timeout_s) == (130, 300)


def test_quick_preset_shortens_idle_eviction_only() -> None:
    quick = LocalLambdaConfig.model_validate(preset("quick"))
    full = LocalLambdaConfig.model_validate(preset("full"))
    assert quick.idle_eviction_s < full.idle_eviction_s
    assert quick.model_dump(exclude={"idle_eviction_s"}) == full.model_dump(
        exclude={"idle_eviction_s"}
    )


def test_preset_overrides_win() -> None:
    assert preset("quick", idle_eviction_s=3)["idle_eviction_s"] == 3


def test_unknown_profile_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        preset("medium")


def test_memory_share_note_says_when_the_host_has_fewer_cores() -> None:
    assert "more cores than the host has" in memory_share_note(5.79, 2, "cgroup-v1 cfs quota")
    assert "more cores" not in memory_share_note(1.0, 2, "cgroup-v1 cfs quota")


def test_environments_start_cold_unless_a_zygote_is_asked_for() -> None:
    assert LocalLambdaConfig().start == "cold"
    assert LocalLambdaConfig(start="zygote").restore_timeout_s == 10  # SnapStart's restore limit


def test_zygote_start_excludes_provisioned_concurrency_as_snapstart_does() -> None:
    with pytest.raises(ValidationError, match="SnapStart does not support provisioned"):
        LocalLambdaConfig(start="zygote", provisioned_concurrency=1)


def test_unknown_start_mode_is_an_error() -> None:
    with pytest.raises(ValidationError, match="start"):
        LocalLambdaConfig.model_validate({"start": "snapshot"})


def test_front_body_timeout_is_a_setting_with_a_ten_second_default() -> None:
    assert LocalLambdaConfig().body_timeout_s == 10
    assert LocalLambdaConfig(body_timeout_s=0.5).body_timeout_s == 0.5
    with pytest.raises(ValidationError, match="body_timeout_s"):
        LocalLambdaConfig(body_timeout_s=0)
