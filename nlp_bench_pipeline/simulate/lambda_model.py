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
Without provisioned concurrency this is exact (tests/unit/test_simulate_lambda.py checks every
request against a plain request-by-request simulation). With it, provisioned environments are
the lowest ranks: "provisioned first" is then taken as "the lowest free rank first", so while
both kinds are busy and a provisioned one frees, the model frees the highest on-demand rank
instead — that environment's idle time, and which tier bills the next invoke, can be off by one
invoke's duration (the tests bound the effect on cold starts to a few per cent).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from nlp_bench_pipeline.core.platform_facts import (
    LAMBDA_DEFAULT_MEMORY_MB,
    LAMBDA_MAX_MEMORY_MB,
    LAMBDA_MIN_MEMORY_MB,
)
from nlp_bench_pipeline.costs.usage import Architecture, GatewayKind
from nlp_bench_pipeline.simulate.distributions import Distribution
from nlp_bench_pipeline.simulate.outcomes import Outcome, RequestTally
from nlp_bench_pipeline.simulate.series import TimeSeries
from nlp_bench_pipeline.targets.local_lambda.limits import SlidingWindowLimit

BLOCK = 8192  # arrivals decided together: the per-block cost amortised, a burst still cheap
MIN_WORK_MS = 0.001


@dataclass(frozen=True)
class LambdaSettings:
    """Lambda and API Gateway knobs; AWS's numbers by default (docs/simulator.md says where)."""

    memory_mb: int = LAMBDA_DEFAULT_MEMORY_MB
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

    def __post_init__(self) -> None:
        if not LAMBDA_MIN_MEMORY_MB <= self.memory_mb <= LAMBDA_MAX_MEMORY_MB:
            raise ValueError(
                f"memory_mb must be {LAMBDA_MIN_MEMORY_MB}..{LAMBDA_MAX_MEMORY_MB}, "
                f"not {self.memory_mb}"
            )
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
    """Where a request's time goes: ``work`` in the environment (the handler's time, which a
    REPORT bills), ``overhead_ms`` in the gateway and the Runtime API (the client waits for it,
    nobody bills it), the Init Duration of a new environment, and a throttle's answer."""

    work: Distribution
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
        work_ms = np.maximum(timing.work.sample_ms(self._service_rng, n), MIN_WORK_MS)
        block = Block(t, work_ms, timing.overhead_ms)
        if self._gateway is not None:
            refused = ~self._gateway.admit(t)
            block.admitted &= ~refused
            block.outcome[refused] = Outcome.RATE_LIMITED
            block.latency[refused] = timing.throttle_latency_ms
            self.totals.rate_limited += int(np.count_nonzero(refused))
        block.busy = self._in_flight(t, block.end, block.admitted)
        alive = np.searchsorted(-self._last_used, -(t - self._idle), side="left")
        search = NewEnvironmentSearch(block.busy, block.admitted, alive)
        position = 0
        while (c := search.next(position)) is not None:
            last = self._decide(c, block)
            search.decided(c, last)
            position = last + 1
        reach, live = search.settled()
        admitted, latency = block.admitted, block.latency
        timed_out = admitted & (latency > s.integration_timeout_s * 1000.0)
        block.outcome[timed_out] = Outcome.GATEWAY_TIMEOUT
        latency[timed_out] = s.integration_timeout_s * 1000.0
        self._bill(block)
        self.totals.requests += n
        self.totals.timeouts += int(np.count_nonzero(timed_out))
        self.tally.add(labels, latency, block.outcome, block.cold)
        if admitted.any():
            self.totals.peak_concurrency = max(self.totals.peak_concurrency, int(reach.max()))
            if self.series is not None:
                self.series.peaks("concurrency", t[admitted], reach[admitted].astype(float))
                environments = np.maximum(live, reach)[admitted].astype(float)
                self.series.peaks("environments", t[admitted], environments)
        self._apply(t[admitted], block.end[admitted], float(t[-1]))

    def _in_flight(self, t: np.ndarray, end: np.ndarray, admitted: np.ndarray) -> np.ndarray:
        """Invokes in flight as each arrival comes: carried from before, and from this block."""
        carried = self._running.size - np.searchsorted(self._running, t, side="right")
        before = np.cumsum(admitted) - admitted
        finished = np.searchsorted(np.sort(end[admitted]), t, side="right")
        return carried + before - finished

    def _decide(self, c: int, block: Block) -> int:
        """Arrival ``c`` finds every live environment busy: a cold start or a throttle.
        Returns the last arrival decided: at the concurrency limit, every arrival before the
        next invoke ends is throttled too, at once."""
        t = block.t
        if block.busy[c] >= self.settings.concurrency_limit:
            frees = min(self._next_end(float(t[c])), block.next_end(c))
            stop = int(np.searchsorted(t, frees, side="left"))
            throttled = c + np.flatnonzero(block.admitted[c:stop])
            self.totals.throttles["concurrency_limit"] += throttled.size
            block.throttle(throttled, self.timing.throttle_latency_ms)
            return stop - 1
        if not self._scale_out.try_acquire(float(t[c])):
            self.totals.throttles["scale_out_rate"] += 1
            block.throttle(np.array([c]), self.timing.throttle_latency_ms)
            return c
        wait_s, init_s = self._start_environment(float(t[c]))
        block.start_cold(c, wait_s, init_s)
        return c

    def _next_end(self, now: float) -> float:
        """When the first invoke carried from earlier blocks ends after ``now``."""
        i = int(np.searchsorted(self._running, now, side="right"))
        return float(self._running[i]) if i < self._running.size else math.inf

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

    def _bill(self, block: Block) -> None:
        """REPORT arithmetic: Billed Duration = Duration + Init Duration rounded up to the
        millisecond, at least 1 ms (``costs.lambda_usage.billed_ms``, here over arrays)."""
        admitted, cold = block.admitted, block.cold
        billed = np.maximum(1.0, np.ceil(block.work_ms + block.init_ms - 1e-9))
        provisioned = admitted & ~cold & (block.busy < self._provisioned)
        on_demand = admitted & ~provisioned
        self.totals.invocations += int(np.count_nonzero(admitted))
        self.totals.billed_ms += float(billed[on_demand].sum())
        self.totals.init_billed_ms += float(block.init_ms[on_demand].sum())
        self.totals.provisioned_ms += float(billed[provisioned].sum())
        self.totals.provisioned_invocations += int(np.count_nonzero(provisioned))

    # -- environments ---------------------------------------------------------------------

    def _apply(self, arrivals: np.ndarray, ends: np.ndarray, until: float) -> None:
        """Advance to ``until``: admitted ``arrivals`` (with their ``ends``) and every end up to
        then, in time order; each rank's last use is the last time the count fell below it."""
        level = self._running.size
        merged = np.sort(np.concatenate([self._running, ends]))
        done = int(np.searchsorted(merged, until, side="right"))
        finished, self._running = merged[:done], merged[done:]
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


class Block:
    """One block of arrivals and what has been decided for them so far (times in s, else ms).

    ``busy`` is the in-flight count each arrival finds; every decision keeps it true for the
    arrivals after it: a cold start holds its environment longer (slot wait and init), a
    throttled request holds none.
    """

    def __init__(self, t: np.ndarray, work_ms: np.ndarray, overhead_ms: float) -> None:
        n = t.size
        self.t = t
        self.work_ms = work_ms
        self.latency = work_ms + overhead_ms
        self.end = t + work_ms / 1000.0
        self.init_ms = np.zeros(n)
        self.outcome = np.zeros(n, dtype=np.int8)
        self.cold = np.zeros(n, dtype=bool)
        self.admitted = np.ones(n, dtype=bool)
        self.busy = np.zeros(n, dtype=np.int64)

    def next_end(self, c: int) -> float:
        """When the first invoke admitted in this block before ``c`` ends after arrival ``c``."""
        later = self.end[:c][self.admitted[:c] & (self.end[:c] > self.t[c])]
        return float(later.min()) if later.size else math.inf

    def start_cold(self, c: int, wait_s: float, init_s: float) -> None:
        first = int(np.searchsorted(self.t, self.end[c], side="left"))
        self.end[c] += wait_s + init_s
        self.busy[first : int(np.searchsorted(self.t, self.end[c], side="left"))] += 1
        self.latency[c] += (wait_s + init_s) * 1000.0
        self.init_ms[c] = init_s * 1000.0
        self.cold[c] = True

    def throttle(self, which: np.ndarray, latency_ms: float) -> None:
        """Refuse arrivals ``which``: none of them holds an environment after all."""
        self.admitted[which] = False
        self.outcome[which] = Outcome.THROTTLED
        self.latency[which] = latency_ms
        # each held one from just after its arrival until its end: a difference array over that
        until = np.searchsorted(self.t, self.end[which], side="left")
        low, high = int(which[0]) + 1, int(until.max())
        if high <= low:
            return
        change = np.zeros(high - low + 1, dtype=np.int64)
        np.add.at(change, which + 1 - low, -1)
        np.add.at(change, until - low, 1)
        self.busy[low:high] += np.cumsum(change[:-1])


class NewEnvironmentSearch:
    """Which arrivals of a block find every live environment busy (``busy >= live``).

    ``reach`` is the in-flight count an admitted arrival brings (busy + 1), ``highest`` the most
    in flight before each arrival within the block, and ``live`` the environments alive: those
    recent enough from before the block (``alive``) or brought up within it. A decision changes
    ``busy`` further on, so after one only a short window is brought up to date; the rest is
    refreshed when the search reaches it — cheap when throttles come one after another.
    """

    WINDOW = 64

    def __init__(self, busy: np.ndarray, admitted: np.ndarray, alive: np.ndarray) -> None:
        self.busy, self.admitted, self.alive = busy, admitted, alive
        self.reach = np.where(admitted, busy + 1, 0)
        self.highest = np.maximum.accumulate(np.r_[0, self.reach[:-1]])
        self.needs = admitted & (busy >= np.maximum(alive, self.highest))
        self.valid = busy.size  # the arrays hold for arrivals before this index

    def next(self, position: int) -> int | None:
        """The first arrival from ``position`` on that needs a new environment, if any."""
        n = self.busy.size
        while True:
            hits = np.flatnonzero(self.needs[position : self.valid])
            if hits.size:
                return position + int(hits[0])
            if self.valid >= n:
                return None
            position = self.valid
            self._refresh(self.valid - 1, n)

    def decided(self, first: int, last: int) -> None:
        """Arrivals ``first..last`` are decided; what follows is brought up to date near them."""
        self.needs[first : last + 1] = False
        self._refresh(first, min(self.busy.size, last + 1 + self.WINDOW))

    def settled(self) -> tuple[np.ndarray, np.ndarray]:
        """``reach`` and ``live`` for the whole block, once every arrival is decided."""
        if self.valid < self.busy.size:
            self._refresh(self.valid - 1, self.busy.size)
        return self.reach, np.maximum(self.alive, self.highest)

    def _refresh(self, lo: int, hi: int) -> None:
        """Recompute from ``lo`` (whose ``highest`` holds) to ``hi``."""
        self.reach[lo:hi] = np.where(self.admitted[lo:hi], self.busy[lo:hi] + 1, 0)
        if hi > lo + 1:
            self.highest[lo + 1 : hi] = np.maximum(
                self.highest[lo], np.maximum.accumulate(self.reach[lo : hi - 1])
            )
            live = np.maximum(self.alive[lo + 1 : hi], self.highest[lo + 1 : hi])
            self.needs[lo + 1 : hi] = self.admitted[lo + 1 : hi] & (self.busy[lo + 1 : hi] >= live)
        self.valid = hi


class GatewayThrottle:
    """API Gateway's token bucket (``rate`` per second, ``burst`` at once) in its GCRA form:
    a request conforms if it comes no earlier than the theoretical arrival time less the burst
    allowance. Runs of conforming requests are checked in one pass; after a few refusals in a
    block (the bucket is empty and traffic exceeds the rate) the rest is stepped one request at
    a time, which is then cheaper than a pass per refusal."""

    DENSE = 8  # refusals in a block after which stepping beats vectorised passes

    def __init__(self, rate: float, burst: int) -> None:
        self.interval = 1.0 / rate
        self.allowance = (burst - 1) * self.interval
        self._tat = -math.inf  # theoretical arrival time: the bucket starts full

    def admit(self, t: np.ndarray) -> np.ndarray:
        conform = np.ones(t.size, dtype=bool)
        position = refusals = 0
        while position < t.size:
            if refusals >= self.DENSE:
                self._step(t, position, conform)
                break
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
                break
            r = int(refused[0])
            self._tat = float(before[r])
            conform[position + r] = False
            position += r + 1
            refusals += 1
        return conform

    def _step(self, t: np.ndarray, position: int, conform: np.ndarray) -> None:
        tat, interval, allowance = self._tat, self.interval, self.allowance
        for i, now in enumerate(t[position:].tolist(), start=position):
            if now < tat - allowance:
                conform[i] = False
            else:
                tat = max(tat, now) + interval
        self._tat = tat
