"""Traffic patterns: the rate asked for is the mean, and each shape is the one documented."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_bench_pipeline.simulate.traffic import PATTERNS, Traffic


def rates(traffic: Traffic) -> tuple[np.ndarray, np.ndarray]:
    """Start time and start rate of every segment."""
    segments = traffic.segments()
    starts = np.cumsum([0.0] + [s.duration_s for s in segments[:-1]])
    return starts, np.array([s.rate for s in segments])


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_rate_is_the_mean_over_the_period(pattern):
    traffic = Traffic(pattern, 50.0, 7200.0, seed=3)
    expected = sum(s.expected_requests for s in traffic.segments())
    assert expected == pytest.approx(50.0 * 7200.0)
    drawn = sum(chunk.size for chunk in traffic.arrivals(np.random.default_rng(0)))
    assert abs(drawn - expected) < 5 * np.sqrt(expected)


def test_arrivals_are_sorted_and_within_the_period():
    traffic = Traffic("bursty", 20.0, 600.0, seed=1)
    t = np.concatenate(list(traffic.arrivals(np.random.default_rng(0), chunk=1000)))
    assert np.all(np.diff(t) >= 0)
    assert t[0] >= 0
    assert t[-1] < 600.0


def test_diurnal_peaks_at_noon_four_times_the_midnight_trough():
    starts, r = rates(Traffic("diurnal", 100.0, 86_400.0))
    assert starts[np.argmax(r)] == pytest.approx(43_200, abs=300)
    assert r.max() / r.min() == pytest.approx(4.0, rel=0.01)


def test_spiky_is_eight_times_the_base_for_30_s_every_10_minutes():
    starts, r = rates(Traffic("spiky", 100.0, 3600.0))
    high = starts[r > r.min() * 1.5]
    assert r.max() / r.min() == pytest.approx(8.0)
    assert sorted({int(s // 600) for s in high}) == list(range(6))
    assert high[0] == pytest.approx(300.0)


def test_bursty_shape_follows_the_seed():
    def shape(seed: int) -> list[float]:
        return [s.rate for s in Traffic("bursty", 10.0, 3600.0, seed=seed).segments()]

    assert shape(1) == shape(1)
    assert shape(1) != shape(2)


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"pattern": "weekly"}, "unknown pattern"),
        ({"mean_rate": 0.0}, "mean rate"),
        ({"duration_s": -1.0}, "duration"),
    ],
)
def test_bad_traffic_is_refused(knobs, message):
    with pytest.raises(ValueError, match=message):
        Traffic(**{"pattern": "steady", "mean_rate": 1.0, "duration_s": 60.0, **knobs})
