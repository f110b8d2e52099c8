"""Lambda behind API Gateway, request by request, with the rules the local platform enforces.

The rules (``targets/local_lambda/pool.py``, ADR 0011/0012, AWS's documented limits):

- one request per execution environment; an idle environment is reused, most recently used
  first (provisioned ones before on-demand);
- otherwise a new environment (a cold start) if the concurrency limit and the scale-out rate
  (``SlidingWindowLimit``, the local platform's own object: 1,000 new environments in any 10 s)
  allow; else the invoke is throttled (500);
- inits run at most ``max_concurrent_inits`` at a time when that is set (the local host's rule;
  AWS has none): the wait for a slot comes before Init Duration and is not billed;
- an on-demand init longer than the init limit (10 s) is retried once inside the invoke;
- on-demand environments idle for ``idle_eviction_s`` are evicted; provisioned ones never are;
- API Gateway answers 503 at the integration timeout (30 s) while the invoke runs on, and 429
  beyond its own rate limit (10,000 req/s, burst 5,000: a token bucket, as GCRA).

How it is fast. Lambda never queues: a request is warm, cold or throttled, and only the platform
events (cold starts, throttles) need deciding one at a time. Arrivals are taken in blocks; for a
whole block numpy computes the in-flight count ``N`` seen by each arrival and the environments
alive ``E``; the first arrival that finds every live environment busy (``N >= E``) is decided by
the rules above, its effect on the later arrivals' ``N`` applied, and the search goes on. A block
with no such arrival costs a few array operations, so a day at 1,000 req/s runs in seconds while
every request keeps its exact, sequential outcome.

Environments alive, without tracking each one: with most-recent-first reuse, the environment of
rank r (by recency) is busy exactly while N >= r, so it was last used when N last fell below r,
and it is alive while that moment is within the idle time. ``_last_used[r-1]`` holds that moment
(infinite while busy, and for provisioned ranks), and ``E`` is how many ranks are recent enough.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from nlp_bench_pipeline.costs.usage import Architecture, GatewayKind, LambdaUsage
from nlp_bench_pipeline.simulate.distributions import Distribution
from nlp_bench_pipeline.simulate.outcomes import Outcome, RequestTally
from nlp_bench_pipeline.simulate.series import TimeSeries
from nlp_bench_pipeline.targets.local_lambda.limits import SlidingWindowLimit

BLOCK = 2048  # arrivals decided together; small enough that a burst's cold starts stay cheap
MIN_WORK_MS = 0.001
GB_PER_MB = 1 / 1024
LOG_BYTES_PER_INVOCATION = 268.0  # START (71) + END (52) + REPORT (145) lines, text format


@dataclass(frozen=True)
class LambdaSettings:
    """Lambda and API Gateway knobs; AWS's numbers by default (docs/simulator.md says where)."""

    memory_mb: int = 1769
    concurrency_limit: int = 1000
    scale_out_limit: int = 1000
    scale_out_window_s: float = 10.0
    idle_eviction_s: float = 600.0  # an assumption: AWS does not publish it (ADR 0012)
    provisioned_concurrency: int = 0
    max_concurrent_inits: int | None = None  # None: no limit, as on AWS
    integration_timeout_s: float = 30.0
    init_timeout_s: float = 10.0
    gateway_rate_limit_rps: float | None = 10_000.0
    gateway_burst: int = 5_000
    warm_at_start: int = 0  # on-demand environments idle (just used) when the period starts
    architecture: Architecture = "x86"
    gateway: GatewayKind = "http"
    log_bytes_per_invocation: float = LOG_BYTES_PER_INVOCATION

    def __post_init__(self) -> None:
        if not 128 <= self.memory_mb <= 10_240:
            raise ValueError(f"memory_mb must be 128..10240, not {self.memory_mb}")
        if self.concurrency_limit < 1 or self.scale_out_limit < 1:
            raise ValueError("concurrency_limit and scale_out_limit must be at least 1")
        if self.provisioned_concurrency + self.warm_at_start > self.concurrency_limit:
            raise ValueError(
                f"provisioned_concurrency {self.provisioned_concurrency} + warm_at_start "
                f"{self.warm_at_start} exceed the concurrency limit {self.concurrency_limit}"
            )
        if self.max_concurrent_inits is not None and self.max_concurrent_inits < 1:
            raise ValueError("max_concurrent_inits must be at least 1 (or None: no limit)")
        for name in ("idle_eviction_s", "integration_timeout_s", "init_timeout_s"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive")


@dataclass(frozen=True)
class LambdaTiming:
    """Where a request's time goes: the warm request as the client sees it, of which
    ``overhead_ms`` is the gateway's and the Runtime API's (not the environment's, not billed),
    and the init of a new environment."""

    service: Distribution
    overhead_ms: float
    init: Distribution
    throttle_latency_ms: float


@dataclass
class LambdaTotals:
    """What the period added up to (for results and the usage record)."""

    requests: int = 0
    invocations: int = 0
    cold_starts: int = 0
    init_retries: int = 0
    timeouts: int = 0
    rate_limited: int = 0
    throttles: dict[str, int] = field(
        default_factory=lambda: {"concurrency_limit": 0, "scale_out_rate": 0}
    )
    billed_ms: float = 0.0  # on-demand invokes, Init Duration included
    init_billed_ms: float = 0.0  # the INIT part of billed_ms
    provisioned_ms: float = 0.0  # billed duration of invokes on provisioned environments
    provisioned_invocations: int = 0
    init_wait_ms: list[float] = field(default_factory=list)
    peak_concurrency: int = 0
    evictions: int = 0

    @property
    def throttled(self) -> int:
        return sum(self.throttles.values())


class LambdaSimulation:
    """Feed arrival times in order (``feed``), then ``finish``; outcomes go to ``tally``."""

    def __init__(
        self,
        settings: LambdaSettings,
        timing: LambdaTiming,
        rng: np.random.Generator,
        tally: RequestTally,
        series: TimeSeries | None = None,
        start_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self.timing = timing
        self.tally = tally
        self.series = series
        self.totals = LambdaTotals()
        self._service_rng, self._init_rng = rng.spawn(2)
        s = settings
        self._provisioned = s.provisioned_concurrency
        self._last_used = np.full(s.concurrency_limit, -np.inf)
        self._last_used[: self._provisioned] = np.inf
        self._last_used[self._provisioned : self._provisioned + s.warm_at_start] = start_s
        self._running = np.empty(0)  # end times of invokes in flight, sorted
        self._now = start_s
        self._scale_out = SlidingWindowLimit(s.scale_out_limit, s.scale_out_window_s)
        self._init_slots = [start_s] * s.max_concurrent_inits if s.max_concurrent_inits else None
        self._gateway = (
            GatewayThrottle(s.gateway_rate_limit_rps, s.gateway_burst)
            if s.gateway_rate_limit_rps
            else None
        )
        self._created = s.provisioned_concurrency + s.warm_at_start

    # -- the stream -------------------------------------------------------------------------

    def feed(self, t: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Arrival times (s), sorted and not before earlier ones; ``labels`` tag their phase."""
        span = self.settings.idle_eviction_s / 2
        start = 0
        while start < t.size:
            stop = min(start + BLOCK, t.size, int(np.searchsorted(t, t[start] + span, "left")))
            stop = max(stop, start + 1)
            self._block(t[start:stop], None if labels is None else labels[start:stop])
            start = stop

    def finish(self, end_s: float) -> LambdaTotals:
        """Run the invokes in flight to completion and count the environments evicted."""
        self._apply(np.empty(0), np.empty(0), math.inf)
        alive = int(np.count_nonzero(self._last_used[self._provisioned :] > end_s - self._idle))
        self.totals.evictions = self._created - self._provisioned - alive
        return self.totals

    @property
    def _idle(self) -> float:
        return self.settings.idle_eviction_s

    # -- one block ----------------------------------------------------------------------------

    def _block(self, t: np.ndarray, labels: np.ndarray | None) -> None:
        s, timing = self.settings, self.timing
        n = t.size
        self._apply(np.empty(0), np.empty(0), float(t[0]))  # ends up to the first arrival
        latency = timing.service.sample_ms(self._service_rng, n)
        work_ms = np.maximum(latency - timing.overhead_ms, MIN_WORK_MS)
        init_ms = np.zeros(n)
        outcome = np.zeros(n, dtype=np.int8)
        cold = np.zeros(n, dtype=bool)
        admitted = np.ones(n, dtype=bool)
        if self._gateway is not None:
            refused = ~self._gateway.admit(t)
            admitted &= ~refused
            outcome[refused] = Outcome.RATE_LIMITED
            latency[refused] = timing.throttle_latency_ms
            self.totals.rate_limited += int(np.count_nonzero(refused))
        end = t + work_ms / 1000.0
        busy = self._in_flight(t, end, admitted)
        alive = np.searchsorted(-self._last_used, -(t - self._idle), side="left")
        reach = np.where(admitted, busy + 1, 0)
        highest = np.maximum.accumulate(np.r_[0, reach[:-1]])  # most in flight so far in block
        live = np.maximum(alive, highest)
        needs_new = admitted & (busy >= live)
        position = 0
        while (hits := np.flatnonzero(needs_new[position:])).size:
            c = position + int(hits[0])
            self._decide(c, t, end, busy, admitted, outcome, latency, init_ms, cold)
            position = c + 1
            if position >= n:
                break
            reach[c:] = np.where(admitted[c:], busy[c:] + 1, 0)
            highest[c + 1 :] = np.maximum(highest[c], np.maximum.accumulate(reach[c:-1]))
            live[c + 1 :] = np.maximum(alive[c + 1 :], highest[c + 1 :])
            needs_new[c + 1 :] = admitted[c + 1 :] & (busy[c + 1 :] >= live[c + 1 :])
        timed_out = admitted & (latency > s.integration_timeout_s * 1000.0)
        outcome[timed_out] = Outcome.GATEWAY_TIMEOUT
        latency[timed_out] = s.integration_timeout_s * 1000.0
        self._bill(work_ms, init_ms, admitted, cold, busy)
        self.totals.requests += n
        self.totals.timeouts += int(np.count_nonzero(timed_out))
        self.tally.add(labels, latency, outcome, cold)
        if admitted.any():
            self.totals.peak_concurrency = max(self.totals.peak_concurrency, int(reach.max()))
            if self.series is not None:
                self.series.peaks("concurrency", t[admitted], reach[admitted].astype(float))
                environments = np.maximum(live, reach)[admitted].astype(float)
                self.series.peaks("environments", t[admitted], environments)
        self._apply(t[admitted], end[admitted], float(t[-1]))

    def _in_flight(self, t: np.ndarray, end: np.ndarray, admitted: np.ndarray) -> np.ndarray:
        """Invokes in flight as each arrival comes: carried from before, and from this block."""
        carried = self._running.size - np.searchsorted(self._running, t, side="right")
        before = np.cumsum(admitted) - admitted
        finished = np.searchsorted(np.sort(end[admitted]), t, side="right")
        return carried + before - finished

    def _decide(
        self,
        c: int,
        t: np.ndarray,
        end: np.ndarray,
        busy: np.ndarray,
        admitted: np.ndarray,
        outcome: np.ndarray,
        latency: np.ndarray,
        init_ms: np.ndarray,
        cold: np.ndarray,
    ) -> None:
        """Arrival ``c`` finds every live environment busy: a cold start, or a throttle."""
        if busy[c] >= self.settings.concurrency_limit:
            reason = "concurrency_limit"
        elif not self._scale_out.try_acquire(float(t[c])):
            reason = "scale_out_rate"
        else:
            wait_s, init_s = self._start_environment(float(t[c]))
            first = int(np.searchsorted(t, end[c], side="left"))
            end[c] += wait_s + init_s
            busy[first : int(np.searchsorted(t, end[c], side="left"))] += 1
            latency[c] += (wait_s + init_s) * 1000.0
            init_ms[c] = init_s * 1000.0
            cold[c] = True
            return
        self.totals.throttles[reason] += 1
        admitted[c] = False
        outcome[c] = Outcome.THROTTLED
        latency[c] = self.timing.throttle_latency_ms
        busy[c + 1 : int(np.searchsorted(t, end[c], side="left"))] -= 1

    def _start_environment(self, now: float) -> tuple[float, float]:
        """A new environment's wait for an init slot and its Init Duration (seconds)."""
        s = self.settings
        init_s = self._draw_init_s()
        if init_s > s.init_timeout_s:  # killed at the limit, retried once inside the invoke
            self.totals.init_retries += 1
            init_s = s.init_timeout_s + self._draw_init_s()
        start = now
        if self._init_slots is not None:
            start = max(now, heapq.heappop(self._init_slots))
            heapq.heappush(self._init_slots, start + init_s)
            self.totals.init_wait_ms.append((start - now) * 1000.0)
        self.totals.cold_starts += 1
        self._created += 1
        return start - now, init_s

    def _draw_init_s(self) -> float:
        return float(self.timing.init.sample_ms(self._init_rng, 1)[0]) / 1000.0

    def _bill(
        self,
        work_ms: np.ndarray,
        init_ms: np.ndarray,
        admitted: np.ndarray,
        cold: np.ndarray,
        busy: np.ndarray,
    ) -> None:
        """REPORT arithmetic: Billed Duration = ceil(Duration + Init Duration) in 1 ms steps."""
        billed = np.ceil(work_ms + init_ms)
        provisioned = admitted & ~cold & (busy < self._provisioned)
        on_demand = admitted & ~provisioned
        self.totals.invocations += int(np.count_nonzero(admitted))
        self.totals.billed_ms += float(billed[on_demand].sum())
        self.totals.init_billed_ms += float(init_ms[on_demand].sum())
        self.totals.provisioned_ms += float(np.ceil(work_ms[provisioned]).sum())
        self.totals.provisioned_invocations += int(np.count_nonzero(provisioned))

    # -- environments ---------------------------------------------------------------------

    def _apply(self, arrivals: np.ndarray, ends: np.ndarray, until: float) -> None:
        """Advance to ``until``: admitted ``arrivals`` (with their ``ends``) and every end up to
        then, in time order; each rank's last use is the last time the count fell below it."""
        level = self._running.size
        merged = np.sort(np.concatenate([self._running, ends]))
        done = int(np.searchsorted(merged, until, side="right"))
        finished, self._running = merged[:done], merged[done:]
        self._now = until
        if finished.size == 0 and arrivals.size == 0:
            return
        times = np.concatenate([finished, arrivals])
        step = np.concatenate([np.full(finished.size, -1), np.ones(arrivals.size, dtype=np.int64)])
        order = np.lexsort((step, times))  # at equal times an end frees before an arrival takes
        times, step = times[order], step[order]
        after = level + np.cumsum(step)
        top = int(max(level, after.max()))
        final = int(after[-1])
        released = step < 0
        last = np.full(top, -np.inf)
        np.maximum.at(last, after[released], times[released])  # rank (after + 1) fell idle
        self._last_used[final:top] = last[final:top]
        self._last_used[:final] = np.inf
        self._last_used[: self._provisioned] = np.inf


def lambda_usage(settings: LambdaSettings, totals: LambdaTotals, period_s: float) -> LambdaUsage:
    """The period's bill quantities: GB-seconds from billed durations, never client latency."""
    gb = settings.memory_mb * GB_PER_MB
    gateway_requests = totals.requests - totals.rate_limited  # a 429 is not a billed request
    return LambdaUsage(
        invocations=totals.invocations,
        memory_mb=settings.memory_mb,
        billed_gb_s=totals.billed_ms / 1000.0 * gb,
        init_gb_s=totals.init_billed_ms / 1000.0 * gb,
        provisioned_capacity_gb_s=settings.provisioned_concurrency * gb * period_s,
        provisioned_duration_gb_s=totals.provisioned_ms / 1000.0 * gb,
        provisioned_invocations=totals.provisioned_invocations,
        architecture=settings.architecture,
        gateway=settings.gateway,
        gateway_requests=None if settings.gateway == "none" else gateway_requests,
        log_ingest_gb=totals.invocations * settings.log_bytes_per_invocation / 2**30,
    )


class GatewayThrottle:
    """API Gateway's token bucket (``rate`` per second, ``burst`` at once) in its GCRA form:
    a request conforms if it comes no earlier than the theoretical arrival time less the burst
    allowance. Runs of conforming requests are checked in one pass; only refusals are stepped."""

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.allowance = (burst - 1) * self.interval
        self._tat = -math.inf  # theoretical arrival time: the bucket starts full

    def admit(self, t: np.ndarray) -> np.ndarray:
        conform = np.ones(t.size, dtype=bool)
        position = 0
        while position < t.size:
            rest = t[position:]
            k = np.arange(rest.size)
            # TAT after each request if all from ``position`` conform
            tat = (k + 1) * self.interval + np.maximum(
                self._tat, np.maximum.accumulate(rest - k * self.interval)
            )
            before = np.r_[self._tat, tat[:-1]]
            refused = np.flatnonzero(rest < before - self.allowance)
            if refused.size == 0:
                self._tat = float(tat[-1])
                return conform
            r = int(refused[0])
            self._tat = float(before[r])
            conform[position + r] = False
            position += r + 1
        return conform
