"""The open-loop arrival schedule: every request's intended send time, fixed before the run starts.

A schedule is a list of segments, each a linear arrival-rate curve (constant when the start and end
rates agree, idle at rate 0). Arrival times come from the cumulative intensity
``Λ(t) = ∫ rate``: the k-th arrival of a segment is at ``Λ⁻¹(u_k)``, where ``u_k`` is ``k`` for
evenly spaced arrivals and a running sum of unit exponentials for Poisson arrivals (the
time-rescaling theorem, which also gives non-homogeneous Poisson ramps exactly). Everything is
drawn from one seeded generator up front, so the same seed always yields the same schedule and a
slow server can never push arrivals later (no coordinated omission).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, model_validator

Arrivals = Literal["uniform", "poisson"]
PHASES = ("warmup", "measure")
PhaseName = Literal["warmup", "measure"]


class Segment(BaseModel):
    """A stretch of the schedule with a linear rate from ``rate`` to ``end_rate`` (requests/s)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    duration_s: float = Field(gt=0, description="length of the segment in seconds")
    rate: NonNegativeFloat = Field(description="arrival rate at the start (requests/s); 0 = idle")
    end_rate: NonNegativeFloat | None = Field(
        None, description="rate at the end for a linear ramp; None = constant"
    )
    arrivals: Arrivals = Field("poisson", description="evenly spaced or Poisson arrivals")

    @property
    def final_rate(self) -> float:
        return self.rate if self.end_rate is None else self.end_rate

    @property
    def expected_requests(self) -> float:
        return (self.rate + self.final_rate) / 2 * self.duration_s

    @model_validator(mode="after")
    def _finite(self) -> Segment:
        if not all(np.isfinite([self.duration_s, self.rate, self.final_rate])):
            raise ValueError("duration_s, rate and end_rate must be finite numbers")
        return self

    def arrival_offsets(self, rng: np.random.Generator) -> np.ndarray:
        """Arrival times in seconds from the start of this segment."""
        total = self.expected_requests  # Λ(duration)
        if total <= 0:
            return np.empty(0)
        if self.arrivals == "uniform":
            marks = np.arange(0.0, total, 1.0)
        else:
            marks = _poisson_marks(total, rng)
        return self._inverse_intensity(marks)

    def _inverse_intensity(self, marks: np.ndarray) -> np.ndarray:
        # Λ(t) = r0·t + a·t²/2 with a = (r1 − r0)/T; this form of the root is stable for a → 0
        # and also covers r0 = 0 (a ramp up from idle).
        r0 = self.rate
        slope = (self.final_rate - r0) / self.duration_s
        root = np.sqrt(np.maximum(r0 * r0 + 2.0 * slope * marks, 0.0))
        with np.errstate(divide="ignore", invalid="ignore"):
            times = np.where(marks > 0, 2.0 * marks / (r0 + root), 0.0)
        return np.clip(times, 0.0, np.nextafter(self.duration_s, 0.0))


def _poisson_marks(total: float, rng: np.random.Generator) -> np.ndarray:
    """Running sums of unit exponentials below ``total``: a unit-rate Poisson process."""
    chunks: list[np.ndarray] = []
    reached = 0.0
    while reached < total:
        size = max(16, int((total - reached) * 1.1 + 4 * np.sqrt(total - reached + 1)))
        chunk = reached + np.cumsum(rng.exponential(1.0, size))
        chunks.append(chunk)
        reached = float(chunk[-1])
    marks = np.concatenate(chunks)
    return marks[marks < total]


@dataclass(frozen=True)
class ArrivalSchedule:
    """Every scheduled request of a run: intended offset from the start epoch, phase, payload.

    Arrays are indexed by ``seq``, the request's number in the whole run (all Locust processes).
    """

    offsets_s: np.ndarray  # float64, non-decreasing, seconds after the start epoch
    phases: np.ndarray  # int8 index into PHASES
    payloads: np.ndarray  # int32 index into the payload corpus
    duration_s: float

    @classmethod
    def build(
        cls,
        phases: Sequence[tuple[PhaseName, Sequence[Segment]]],
        *,
        seed: int,
        repetition: int = 0,
        corpus_size: int = 1,
    ) -> ArrivalSchedule:
        """Lay the phases' segments end to end and draw arrivals and payloads from one seed.

        ``repetition`` is mixed into the seed: repetitions are independent draws of the same
        workload, while every target sees the identical draw for the same repetition.
        """
        rng = np.random.default_rng(np.random.SeedSequence([seed, repetition]))
        offsets: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        start = 0.0
        for phase, segments in phases:
            for segment in segments:
                offsets.append(start + segment.arrival_offsets(rng))
                labels.append(np.full(len(offsets[-1]), PHASES.index(phase), dtype=np.int8))
                start += segment.duration_s
        all_offsets = np.concatenate(offsets) if offsets else np.empty(0)
        payloads = rng.integers(0, max(corpus_size, 1), len(all_offsets), dtype=np.int32)
        return cls(
            offsets_s=all_offsets,
            phases=np.concatenate(labels) if labels else np.empty(0, dtype=np.int8),
            payloads=payloads,
            duration_s=start,
        )

    def __len__(self) -> int:
        return len(self.offsets_s)

    def share(self, worker_index: int, workers: int) -> np.ndarray:
        """The ``seq`` numbers one Locust process sends: round-robin, so shares interleave."""
        if not 0 <= worker_index < workers:
            raise ValueError(f"worker index {worker_index} outside 0..{workers - 1}")
        return np.arange(worker_index, len(self), workers)

    def phase(self, phase: PhaseName) -> ArrivalSchedule:
        """The arrivals of one phase only (same offsets from the start epoch)."""
        keep = self.phases == PHASES.index(phase)
        return ArrivalSchedule(
            offsets_s=self.offsets_s[keep],
            phases=self.phases[keep],
            payloads=self.payloads[keep],
            duration_s=self.duration_s,
        )

    def count(self, phase: PhaseName) -> int:
        return int(np.count_nonzero(self.phases == PHASES.index(phase)))
