"""The HPA's arithmetic: kubernetes/kubernetes podautoscaler behaviour, without waiting."""

from __future__ import annotations

from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig
from nlp_bench_pipeline.targets.local_k8s.hpa import (
    HorizontalPodAutoscaler,
    PodMetric,
    recommend_replicas,
)


def ready(*values: float) -> list[PodMetric]:
    return [PodMetric(True, v) for v in values]


def test_desired_is_ceil_of_current_times_metric_over_target() -> None:
    assert recommend_replicas(2, ready(90, 90), target=50, tolerance=0.1) == 4
    assert recommend_replicas(3, ready(10, 10, 10), target=50, tolerance=0.1) == 1


def test_ratio_within_tolerance_keeps_the_current_count() -> None:
    assert recommend_replicas(2, ready(54, 54), target=50, tolerance=0.1) == 2
    assert recommend_replicas(2, ready(46, 46), target=50, tolerance=0.1) == 2
    assert recommend_replicas(2, ready(56, 56), target=50, tolerance=0.1) == 3


def test_pods_not_ready_count_as_idle_when_scaling_up() -> None:
    pods = [*ready(100, 100), PodMetric(False, None), PodMetric(False, None)]
    # Without the unready pods: ceil(2 x 2) = 4; with them at 0: ratio 1.0, no change.
    assert recommend_replicas(4, pods, target=50, tolerance=0.1) == 4


def test_missing_metrics_count_as_at_target_when_scaling_down() -> None:
    pods = [*ready(10), PodMetric(True, None)]
    # Alone: ceil(0.2 x 1) = 1; with the missing pod at target: ceil(0.6 x 2) = 2.
    assert recommend_replicas(2, pods, target=50, tolerance=0.1) == 2


def test_no_metric_at_all_keeps_the_current_count() -> None:
    assert recommend_replicas(3, [PodMetric(False, None)] * 3, target=50, tolerance=0.1) == 3


def hpa(**knobs: float) -> HorizontalPodAutoscaler:
    config = HpaConfig(metric="inflight", target=1.0, **knobs)
    return HorizontalPodAutoscaler(config, min_replicas=1, max_replicas=10)


def test_scale_out_is_immediate() -> None:
    decision = hpa().decide(0.0, current=1, pods=ready(3.0))
    assert (decision.current, decision.desired, decision.metric_value) == (1, 3, 3.0)


def test_scale_in_waits_for_the_stabilisation_window() -> None:
    scaler = hpa(scale_down_stabilization_s=300)
    assert scaler.decide(0.0, current=1, pods=ready(4.0)).desired == 4
    assert scaler.decide(15.0, current=4, pods=ready(0.1, 0.1, 0.1, 0.1)).desired == 4
    assert scaler.decide(299.0, current=4, pods=ready(0.1, 0.1, 0.1, 0.1)).desired == 4
    assert scaler.decide(301.0, current=4, pods=ready(0.1, 0.1, 0.1, 0.1)).desired == 1


def test_scale_in_goes_to_the_highest_recommendation_of_the_window() -> None:
    scaler = hpa(scale_down_stabilization_s=60)
    scaler.decide(0.0, current=6, pods=ready(*[1.0] * 6))  # recommends 6
    scaler.decide(30.0, current=6, pods=ready(*[0.5] * 6))  # recommends 3
    assert scaler.decide(61.0, current=6, pods=ready(*[0.1] * 6)).desired == 3


def test_scale_up_is_limited_to_double_or_four_more_per_sync() -> None:
    config = HpaConfig(metric="inflight", target=1.0)
    wide = HorizontalPodAutoscaler(config, min_replicas=1, max_replicas=50)
    assert wide.decide(0.0, current=1, pods=ready(100.0)).desired == 5  # four more
    wide = HorizontalPodAutoscaler(config, min_replicas=1, max_replicas=50)
    assert wide.decide(0.0, current=6, pods=ready(*[100.0] * 6)).desired == 12  # double


def test_replicas_stay_within_min_and_max() -> None:
    config = HpaConfig(metric="inflight", target=1.0, scale_down_stabilization_s=0)
    scaler = HorizontalPodAutoscaler(config, min_replicas=2, max_replicas=3)
    assert scaler.decide(0.0, current=2, pods=ready(5.0, 5.0)).desired == 3
    assert scaler.decide(1.0, current=3, pods=ready(0.0, 0.0, 0.0)).desired == 2
