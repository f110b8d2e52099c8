"""Concurrency, environments, replicas and nodes over time, downsampled to a few hundred points.

Each point is the maximum over its bucket, so a short spike stays visible at any zoom. Two kinds
of input: ``peaks`` (many samples, e.g. the in-flight count seen by every arrival) and ``level``
(a step function that changes now and then, e.g. ready pods; it holds between changes).
"""

from __future__ import annotations

import math

import numpy as np

NICE_BUCKETS_S = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)


class TimeSeries:
    """Per-bucket maxima of named quantities over ``[0, duration_s)``."""

    def __init__(self, duration_s: float, points: int = 480) -> None:
        wanted = duration_s / points
        self.bucket_s = float(next((b for b in NICE_BUCKETS_S if b >= wanted), NICE_BUCKETS_S[-1]))
        self.buckets = max(1, math.ceil(duration_s / self.bucket_s))
        self._peaks: dict[str, np.ndarray] = {}
        self._levels: dict[str, list[tuple[float, float]]] = {}

    def peaks(self, name: str, t: np.ndarray, values: np.ndarray) -> None:
        """Samples at sorted times ``t``: each bucket keeps its largest."""
        if t.size == 0:
            return
        series = self._peaks.setdefault(name, np.zeros(self.buckets))
        bucket = np.minimum((t / self.bucket_s).astype(np.int64), self.buckets - 1)
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        maxima = np.maximum.reduceat(values, starts)
        np.maximum.at(series, bucket[starts], maxima)

    def level(self, name: str, t: float, value: float) -> None:
        """The quantity became ``value`` at ``t`` (calls in time order)."""
        self._levels.setdefault(name, []).append((t, float(value)))

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "bucket_s": self.bucket_s,
            "t_s": [round(i * self.bucket_s, 3) for i in range(self.buckets)],
        }
        for name, series in self._peaks.items():
            out[name] = [round(float(v), 3) for v in series]
        for name, changes in self._levels.items():
            out[name] = [round(float(v), 3) for v in self._level_maxima(changes)]
        return out

    def _level_maxima(self, changes: list[tuple[float, float]]) -> np.ndarray:
        times = np.array([t for t, _ in changes])
        values = np.array([v for _, v in changes])
        starts = np.arange(self.buckets) * self.bucket_s
        # the value holding at each bucket's start, then any change inside the bucket
        held = np.searchsorted(times, starts, side="right") - 1
        result = np.where(held >= 0, values[np.maximum(held, 0)], 0.0)
        bucket = np.minimum((times / self.bucket_s).astype(np.int64), self.buckets - 1)
        np.maximum.at(result, bucket, values)
        return result
