"""The HorizontalPodAutoscaler's arithmetic, as kubernetes/kubernetes' podautoscaler does it.

``desired = ceil(current × metric / target)`` over the pods that report a metric, with the
tolerance band, the conservative treatment of pods that are not ready yet or have no metric
(replica_calculator.go), the stabilisation windows and the default scale-up rate policy
(horizontal.go), and the min/max bounds. The arithmetic is pure (the clock and the metrics are
passed in); ``PodMetrics`` is where the latest metric of each pod waits for the next sync.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig


@dataclass(frozen=True)
class PodMetric:
    """One pod as the HPA sees it: ready or not, and its metric (None when none was reported)."""

    ready: bool
    value: float | None


@dataclass(frozen=True)
class ScaleDecision:
    """One sync: what the metric said, what it recommended, and where the replicas go."""

    current: int
    desired: int
    recommendation: int
    metric_value: float | None

    @property
    def changes(self) -> bool:
        return self.desired != self.current


def recommend_replicas(
    current: int, pods: Sequence[PodMetric], target: float, tolerance: float
) -> int:
    """The replica count the metric asks for, before stabilisation and bounds.

    Ready pods with a metric set the ratio. When scaling up, pods not ready yet count as using
    nothing (they will take load soon); pods missing a metric count as at target when scaling
    down and as idle when scaling up. If that turns the direction round, nothing changes.
    """
    measured = [p.value for p in pods if p.ready and p.value is not None]
    if not measured:
        return current
    ratio = sum(measured) / len(measured) / target
    missing = sum(1 for p in pods if p.ready and p.value is None)
    unready = sum(1 for p in pods if not p.ready)
    scale_up_with_unready = unready > 0 and ratio > 1.0
    if not scale_up_with_unready and missing == 0:
        if abs(1.0 - ratio) <= tolerance:
            return current
        return math.ceil(ratio * len(measured))
    assumed = list(measured)
    if missing:
        assumed += [target if ratio < 1.0 else 0.0] * missing
    if scale_up_with_unready:
        assumed += [0.0] * unready
    new_ratio = sum(assumed) / len(assumed) / target
    if abs(1.0 - new_ratio) <= tolerance or (ratio < 1.0) != (new_ratio < 1.0):
        return current
    replicas = math.ceil(new_ratio * len(assumed))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return current
    return replicas


def average(pods: Sequence[PodMetric]) -> float | None:
    """The metric averaged over ready pods that report it (what ``kubectl get hpa`` shows)."""
    values = [p.value for p in pods if p.ready and p.value is not None]
    return sum(values) / len(values) if values else None


class HorizontalPodAutoscaler:
    """Turns each sync's recommendation into a replica count: stabilised, rate-limited, bounded."""

    def __init__(self, config: HpaConfig, min_replicas: int, max_replicas: int) -> None:
        self.config = config
        self.min_replicas = min_replicas
        self.max_replicas = max_replicas
        self._history: deque[tuple[float, int]] = deque()

    def decide(self, now: float, current: int, pods: Sequence[PodMetric]) -> ScaleDecision:
        """One sync of the controller at time ``now`` (seconds, any monotonic clock)."""
        recommendation = recommend_replicas(
            current, pods, self.config.target, self.config.tolerance
        )
        stabilised = self._stabilise(now, current, recommendation)
        desired = min(
            self.max_replicas, max(self.min_replicas, self._rate_limit(current, stabilised))
        )
        return ScaleDecision(current, desired, recommendation, average(pods))

    def _stabilise(self, now: float, current: int, recommendation: int) -> int:
        """Scale down only to the highest recommendation of the window (and up to the lowest)."""
        self._history.append((now, recommendation))
        longest = max(self.config.scale_down_stabilization_s, self.config.scale_up_stabilization_s)
        while self._history and self._history[0][0] < now - longest:
            self._history.popleft()
        up = min(r for t, r in self._history if t >= now - self.config.scale_up_stabilization_s)
        down = max(r for t, r in self._history if t >= now - self.config.scale_down_stabilization_s)
        return min(max(current, up), down)

    def _rate_limit(self, current: int, desired: int) -> int:
        """The default scaleUp policy: at most +100 % or +4 pods per period, whichever is more."""
        percent = math.ceil(current * (1 + self.config.scale_up_limit_percent / 100.0))
        return min(desired, max(percent, current + self.config.scale_up_limit_pods))


class PodMetrics:
    """The latest value of the HPA's metric per pod, fed from the sampler thread or the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, tuple[float, float]] = {}

    def put(self, pod: str, value: float) -> None:
        with self._lock:
            self._latest[pod] = (time.monotonic(), value)

    def get(self, pod: str, max_age_s: float) -> float | None:
        """The pod's value if it is recent enough to stand for the current window."""
        with self._lock:
            entry = self._latest.get(pod)
        if entry is None or time.monotonic() - entry[0] > max_age_s:
            return None
        return entry[1]
