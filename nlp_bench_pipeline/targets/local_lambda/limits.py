"""Rate limits, as pure objects over an explicit clock so tests can compute what they throttle."""

from __future__ import annotations

from collections import deque


class TokenBucket:
    """API Gateway's throttle: ``rate`` requests per second steady, ``burst`` at once.

    Starts full, as an idle API does. ``try_take`` refills by elapsed time, then takes one token.
    """

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._updated = now

    def try_take(self, now: float) -> bool:
        self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
        self._updated = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class SlidingWindowLimit:
    """Lambda's scale-out rate: at most ``limit`` new environments in any ``window_s`` seconds.

    AWS states it as "1,000 execution environments every 10 seconds"; a sliding window is the
    reading that never lets a burst straddle two fixed windows to get twice the number.
    """

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._starts: deque[float] = deque()

    def try_acquire(self, now: float) -> bool:
        while self._starts and self._starts[0] <= now - self.window_s:
            self._starts.popleft()
        if len(self._starts) >= self.limit:
            return False
        self._starts.append(now)
        return True
