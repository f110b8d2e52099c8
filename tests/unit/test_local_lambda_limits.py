"""Rate limits over an explicit clock: the gateway's token bucket, Lambda's scale-out window."""

from __future__ import annotations

from nlp_bench_pipeline.targets.local_lambda.limits import SlidingWindowLimit, TokenBucket


def test_token_bucket_allows_the_burst_then_refuses() -> None:
    bucket = TokenBucket(rate=1.0, burst=3, now=0.0)
    assert [bucket.try_take(0.0) for _ in range(4)] == [True, True, True, False]


def test_token_bucket_refills_at_its_rate() -> None:
    bucket = TokenBucket(rate=2.0, burst=1, now=0.0)
    assert bucket.try_take(0.0)
    assert not bucket.try_take(0.25)
    assert bucket.try_take(0.5)


def test_token_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2, now=0.0)
    assert [bucket.try_take(60.0) for _ in range(3)] == [True, True, False]


def test_scale_out_window_admits_the_limit_then_throttles() -> None:
    window = SlidingWindowLimit(limit=2, window_s=10.0)
    assert [window.try_acquire(t) for t in (0.0, 1.0, 2.0)] == [True, True, False]


def test_scale_out_window_slides() -> None:
    window = SlidingWindowLimit(limit=2, window_s=10.0)
    window.try_acquire(0.0)
    window.try_acquire(5.0)
    assert not window.try_acquire(9.9)
    assert window.try_acquire(10.0)
    assert not window.try_acquire(14.9)
    assert window.try_acquire(15.0)
