"""The arrival schedule: seeded, precomputed, and shaped as its segments say."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule, Segment


def build(*segments: Segment, seed: int = 7, repetition: int = 0) -> ArrivalSchedule:
    warmup = [Segment(duration_s=1, rate=10, arrivals="uniform")]
    return ArrivalSchedule.build(
        [("warmup", warmup), ("measure", list(segments))],
        seed=seed,
        repetition=repetition,
        corpus_size=64,
    )


POISSON = Segment(duration_s=20, rate=50)


def test_same_seed_gives_identical_schedule_and_payloads():
    first, second = build(POISSON, seed=3), build(POISSON, seed=3)
    assert np.array_equal(first.offsets_s, second.offsets_s)
    assert np.array_equal(first.payloads, second.payloads)
    assert np.array_equal(first.phases, second.phases)


def test_different_seed_gives_a_different_schedule():
    first, second = build(POISSON, seed=3), build(POISSON, seed=4)
    assert len(first) != len(second) or not np.array_equal(first.offsets_s, second.offsets_s)
    assert not np.array_equal(first.payloads[:100], second.payloads[:100])


def test_repetitions_are_independent_draws_of_the_same_workload():
    first, second = build(POISSON, repetition=0), build(POISSON, repetition=1)
    assert not np.array_equal(first.offsets_s[:50], second.offsets_s[:50])
    assert abs(first.count("measure") - second.count("measure")) < 200  # both ~1,000


def test_uniform_constant_rate_sends_exactly_rate_times_duration_evenly_spaced():
    schedule = build(Segment(duration_s=2, rate=100, arrivals="uniform"))
    measured = schedule.offsets_s[schedule.phases == 1]
    assert len(measured) == 200
    np.testing.assert_allclose(measured, 1.0 + np.arange(200) / 100.0)


def test_poisson_arrivals_have_the_configured_mean_rate_and_exponential_gaps():
    schedule = build(Segment(duration_s=100, rate=100))
    measured = schedule.offsets_s[schedule.phases == 1]
    assert abs(len(measured) - 10_000) < 5 * 100  # 5 sigma of a Poisson count
    gaps = np.diff(measured)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)  # exponential: CV = 1


def test_linear_ramp_puts_three_quarters_of_its_arrivals_in_the_second_half():
    schedule = build(Segment(duration_s=10, rate=0, end_rate=200, arrivals="uniform"))
    measured = schedule.offsets_s[schedule.phases == 1] - 1.0
    assert len(measured) == 1000  # (0 + 200) / 2 * 10
    assert np.count_nonzero(measured < 5) == 250


def test_idle_segment_sends_nothing_and_delays_what_follows():
    schedule = build(
        Segment(duration_s=5, rate=0), Segment(duration_s=1, rate=10, arrivals="uniform")
    )
    measured = schedule.offsets_s[schedule.phases == 1]
    assert measured.min() == pytest.approx(6.0)
    assert schedule.duration_s == pytest.approx(7.0)


def test_phases_run_in_order_and_every_offset_lies_within_the_schedule():
    schedule = build(POISSON, Segment(duration_s=3, rate=500, end_rate=5))
    assert np.all(np.diff(schedule.offsets_s) >= 0)
    assert schedule.offsets_s.min() >= 0
    assert schedule.offsets_s.max() < schedule.duration_s
    assert np.all(np.diff(schedule.phases) >= 0)  # warm-up first, then measure
    assert schedule.count("warmup") == 10


def test_shares_split_the_schedule_round_robin_without_overlap():
    schedule = build(POISSON)
    shares = [schedule.share(i, 3) for i in range(3)]
    assert sorted(np.concatenate(shares).tolist()) == list(range(len(schedule)))
    assert shares[1][:3].tolist() == [1, 4, 7]
    with pytest.raises(ValueError, match="outside"):
        schedule.share(3, 3)


def test_payload_indices_cover_the_corpus():
    schedule = build(POISSON)
    assert schedule.payloads.min() >= 0
    assert schedule.payloads.max() < 64
    assert len(np.unique(schedule.payloads)) == 64


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"duration_s": 0, "rate": 1}, "greater than 0"),
        ({"duration_s": 1, "rate": -1}, "greater than or equal to 0"),
        ({"duration_s": 1, "rate": 1, "end_rate": -2}, "greater than or equal to 0"),
        ({"duration_s": float("inf"), "rate": 1}, "finite"),
        ({"duration_s": 1, "rate": 1, "arrivals": "bursty"}, "uniform"),
    ],
)
def test_bad_segments_are_rejected(fields, problem):
    with pytest.raises(ValueError, match=problem):
        Segment(**fields)
