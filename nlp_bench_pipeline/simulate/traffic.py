"""Traffic patterns as arrival-rate curves, and the Poisson arrivals drawn from them.

A pattern is a rate shape over time; ``Traffic`` scales it so that its mean over the simulated
window is the requested rate (``--rate`` is the MEAN rate, so patterns at the same rate carry the
same number of requests and compare on cost). Shapes are piecewise linear and are drawn as
non-homogeneous Poisson arrivals by the load generator's own segments
(``loadgen.schedule.Segment``: time-rescaling, exact for linear ramps), so simulated traffic and a
benchmark run's schedule come from one implementation.

- ``steady``: a constant rate.
- ``diurnal``: one day's cycle, ``1 - 0.6 cos(2 pi t / 24 h)``: trough at the start (midnight),
  peak at noon, 4x between them (a typical consumer-facing service).
- ``spiky``: the base rate with a spike of 8x for 30 s every 10 minutes (first at 5 min), rising
  at once: flash crowds, the case for cold starts and scale-out limits.
- ``bursty``: on/off traffic, 3x for on-periods and 0.3x for off-periods of exponential length
  (means 60 s and 120 s, drawn from the seed): sustained variability rather than rare spikes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from nlp_bench_pipeline.loadgen.schedule import Segment

Pattern = Literal["steady", "diurnal", "spiky", "bursty"]
PATTERNS: tuple[str, ...] = get_args(Pattern)

DAY_S = 86_400.0
DIURNAL_AMPLITUDE = 0.6
DIURNAL_KNOT_S = 300.0  # the cosine as straight pieces of 5 minutes (error < 0.2 % of the rate)
SPIKE_PERIOD_S = 600.0
SPIKE_LENGTH_S = 30.0
SPIKE_HEIGHT = 8.0
BURST_ON, BURST_OFF = 3.0, 0.3
BURST_ON_MEAN_S, BURST_OFF_MEAN_S = 60.0, 120.0
MAX_SEGMENT_S = 60.0  # arrivals are drawn a minute at a time, so memory stays small


@dataclass(frozen=True)
class RatePiece:
    """A stretch of the shape: relative rate going linearly from ``start`` to ``end``."""

    duration_s: float
    start: float
    end: float

    @property
    def area(self) -> float:
        return (self.start + self.end) / 2 * self.duration_s


@dataclass(frozen=True)
class Traffic:
    """A pattern at a mean rate (requests/s) over ``duration_s``; ``seed`` shapes ``bursty``."""

    pattern: Pattern
    mean_rate: float
    duration_s: float
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pattern not in PATTERNS:
            raise ValueError(f"unknown pattern {self.pattern!r}; choose from {', '.join(PATTERNS)}")
        if not (self.mean_rate > 0 and math.isfinite(self.mean_rate)):
            raise ValueError(f"the mean rate must be a positive number, not {self.mean_rate}")
        if not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise ValueError(f"the duration must be a positive number, not {self.duration_s}")

    @property
    def expected_requests(self) -> float:
        return self.mean_rate * self.duration_s

    def segments(self) -> list[Segment]:
        """The rate curve in requests/s as Poisson segments of at most a minute each."""
        pieces = _shape(self.pattern, self.duration_s, self.seed)
        scale = self.mean_rate * self.duration_s / sum(p.area for p in pieces)
        segments: list[Segment] = []
        for piece in pieces:
            parts = max(1, math.ceil(piece.duration_s / MAX_SEGMENT_S))
            edges = np.linspace(0.0, 1.0, parts + 1)
            rates = scale * (piece.start + (piece.end - piece.start) * edges)
            for i in range(parts):
                segments.append(
                    Segment(
                        duration_s=piece.duration_s / parts,
                        rate=float(rates[i]),
                        end_rate=float(rates[i + 1]),
                        arrivals="poisson",
                    )
                )
        return segments

    def arrivals(self, rng: np.random.Generator, chunk: int = 1 << 20) -> Iterator[np.ndarray]:
        """Sorted arrival times (s from the start), about ``chunk`` at a time."""
        pending: list[np.ndarray] = []
        held = 0
        start = 0.0
        for segment in self.segments():
            offsets = segment.arrival_offsets(rng) + start
            start += segment.duration_s
            pending.append(offsets)
            held += offsets.size
            if held >= chunk:
                yield np.concatenate(pending)
                pending, held = [], 0
        if held:
            yield np.concatenate(pending)


def _shape(pattern: str, duration_s: float, seed: int) -> list[RatePiece]:
    if pattern == "steady":
        return [RatePiece(duration_s, 1.0, 1.0)]
    if pattern == "diurnal":
        return _diurnal(duration_s)
    if pattern == "spiky":
        return _spiky(duration_s)
    return _bursty(duration_s, seed)


def _diurnal(duration_s: float) -> list[RatePiece]:
    knots = np.append(np.arange(0.0, duration_s, DIURNAL_KNOT_S), duration_s)
    level = 1.0 - DIURNAL_AMPLITUDE * np.cos(2 * np.pi * knots / DAY_S)
    return [
        RatePiece(float(knots[i + 1] - knots[i]), float(level[i]), float(level[i + 1]))
        for i in range(len(knots) - 1)
    ]


def _spiky(duration_s: float) -> list[RatePiece]:
    pieces: list[RatePiece] = []
    t = 0.0
    spike_at = SPIKE_PERIOD_S / 2
    while t < duration_s:
        if t < spike_at:
            length, level = min(spike_at, duration_s) - t, 1.0
        else:
            length, level = min(spike_at + SPIKE_LENGTH_S, duration_s) - t, SPIKE_HEIGHT
            spike_at += SPIKE_PERIOD_S
        pieces.append(RatePiece(length, level, level))
        t += length
    return pieces


def _bursty(duration_s: float, seed: int) -> list[RatePiece]:
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB0057]))
    pieces: list[RatePiece] = []
    t, on = 0.0, True
    while t < duration_s:
        mean = BURST_ON_MEAN_S if on else BURST_OFF_MEAN_S
        length = min(float(rng.exponential(mean)), duration_s - t)
        if length > 0:
            level = BURST_ON if on else BURST_OFF
            pieces.append(RatePiece(length, level, level))
        t += length
        on = not on
    return pieces
