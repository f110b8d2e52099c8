"""Validation of the local-k8s platform knobs: Kubernetes defaults, presets, unknown keys."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.targets.local_k8s.config import (
    PRESETS,
    LocalK8sConfig,
    NodeConfig,
    validate_spec,
)


def test_defaults_are_kubernetes_defaults() -> None:
    config = LocalK8sConfig.from_platform({})
    assert config.hpa.sync_period_s == 15
    assert config.hpa.tolerance == 0.1
    assert config.hpa.scale_down_stabilization_s == 300
    assert (config.rollout.max_surge, config.rollout.max_unavailable) == (1, 0)
    probe = config.readiness_probe
    assert (probe.path, probe.period_seconds, probe.timeout_seconds) == ("/readyz", 10, 1)
    assert (probe.failure_threshold, probe.success_threshold) == (3, 1)
    assert config.liveness_probe.path == "/healthz"
    assert config.termination_grace_period_s == 30


def test_probes_take_kubernetes_field_names() -> None:
    config = LocalK8sConfig.from_platform(
        {"liveness_probe": {"periodSeconds": 2, "failureThreshold": 5, "initialDelaySeconds": 1}}
    )
    probe = config.liveness_probe
    assert (probe.period_seconds, probe.failure_threshold, probe.initial_delay_seconds) == (2, 5, 1)
    assert probe.path == "/healthz"


def test_unknown_key_is_an_error() -> None:
    with pytest.raises(ValidationError, match="hpa_sync"):
        LocalK8sConfig.from_platform({"hpa_sync": 3})
    with pytest.raises(ValidationError, match="syncPeriod"):
        LocalK8sConfig.from_platform({"hpa": {"syncPeriod": 3}})


def test_quick_preset_shortens_timers_and_keys_override_it() -> None:
    quick = LocalK8sConfig.from_platform({"preset": "quick"})
    assert quick.hpa.sync_period_s < 15
    assert quick.nodes.add_delay_s < NodeConfig().add_delay_s
    tuned = LocalK8sConfig.from_platform({"preset": "quick", "hpa": {"sync_period_s": 1}})
    assert tuned.hpa.sync_period_s == 1
    assert tuned.hpa.scale_down_stabilization_s == quick.hpa.scale_down_stabilization_s


def test_unknown_preset_is_an_error() -> None:
    with pytest.raises(ValueError, match="quick"):
        LocalK8sConfig.from_platform({"preset": "fastest"})
    assert "quick" in PRESETS


def test_hpa_target_defaults_per_metric() -> None:
    assert LocalK8sConfig.from_platform({}).hpa.target == 80
    assert LocalK8sConfig.from_platform({"hpa": {"metric": "inflight"}}).hpa.target == 2
    assert LocalK8sConfig.from_platform({"hpa": {"metric": "cpu", "target": 50}}).hpa.target == 50


def test_min_replicas_zero_is_rejected_as_on_eks() -> None:
    spec = DeploymentSpec(target="local-k8s", min_replicas=0, max_replicas=2)
    with pytest.raises(ValueError, match="at least 1"):
        validate_spec(spec)


def test_rollout_that_cannot_progress_is_rejected() -> None:
    with pytest.raises(ValidationError, match="both be 0"):
        LocalK8sConfig.from_platform({"rollout": {"max_surge": 0, "max_unavailable": 0}})


def test_pods_per_node_follows_the_cpu_request_unless_set() -> None:
    nodes = NodeConfig()
    assert nodes.capacity(ResourceQuantity(request=1.0).request) == 1
    assert nodes.capacity(0.5) == 3
    assert NodeConfig(pods_per_node=4).capacity(1.0) == 4


def test_crash_loop_backoff_doubles_to_its_cap() -> None:
    config = LocalK8sConfig.from_platform({})
    delays = [config.restart_delay_s(n) for n in range(7)]
    assert delays == [0, 10, 20, 40, 80, 160, 300]
