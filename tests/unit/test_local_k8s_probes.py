"""Probe thresholds: a state flips only after enough consecutive results."""

from __future__ import annotations

from nlp_bench_pipeline.targets.local_k8s.config import LivenessProbe, ReadinessProbe
from nlp_bench_pipeline.targets.local_k8s.probes import ProbeCounter


def test_liveness_fails_after_failure_threshold_consecutive_failures() -> None:
    counter = ProbeCounter(LivenessProbe(failureThreshold=3), initially=True)
    assert [counter.observe(False) for _ in range(3)] == [False, False, True]
    assert counter.state is False


def test_a_success_resets_the_failure_streak() -> None:
    counter = ProbeCounter(LivenessProbe(failureThreshold=2), initially=True)
    assert not counter.observe(False)
    assert not counter.observe(True)
    assert not counter.observe(False)
    assert counter.state is True


def test_readiness_needs_success_threshold_successes() -> None:
    counter = ProbeCounter(ReadinessProbe(successThreshold=2), initially=False)
    assert not counter.observe(True)
    assert counter.observe(True)
    assert counter.state is True
