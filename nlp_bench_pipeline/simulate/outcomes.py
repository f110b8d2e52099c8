"""What happened to each simulated request, tallied per phase label.

Both platform models hand every finished block of requests to a ``RequestTally``: latency as the
client saw it, an outcome code, and whether it waited on a cold start. The tally keeps, per
label (the run's phases in a validation replay, one label at scale), the counts and a
``LatencyRecorder`` — never the requests themselves beyond the recorder's exact limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum

import numpy as np

from nlp_bench_pipeline.simulate.latency import EXACT_LIMIT, LatencyRecorder


class Outcome(IntEnum):
    """A request's end, with the HTTP status the client gets (``STATUS``)."""

    OK = 0
    THROTTLED = 1  # Lambda refused the invoke: concurrency limit or scale-out rate (500)
    GATEWAY_TIMEOUT = 2  # API Gateway's integration timeout or the ALB's (503 / 504)
    NO_ENDPOINT = 3  # no ready pod behind the Service (503)
    RATE_LIMITED = 4  # API Gateway's own throttle (429)


STATUS = {
    Outcome.OK: 200,
    Outcome.THROTTLED: 500,
    Outcome.GATEWAY_TIMEOUT: 503,
    Outcome.NO_ENDPOINT: 503,
    Outcome.RATE_LIMITED: 429,
}


@dataclass
class PhaseTally:
    """Counts and latencies of one label's requests."""

    recorder: LatencyRecorder
    requests: int = 0
    cold_starts: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: {o.name.lower(): 0 for o in Outcome})

    @property
    def ok(self) -> int:
        return self.outcomes["ok"]

    @property
    def failed(self) -> int:
        return self.requests - self.ok

    def add(self, latency_ms: np.ndarray, outcome: np.ndarray, cold: np.ndarray) -> None:
        self.requests += int(outcome.size)
        self.cold_starts += int(np.count_nonzero(cold))
        counts = np.bincount(outcome, minlength=len(Outcome))
        for code in Outcome:
            self.outcomes[code.name.lower()] += int(counts[code])
        ok = outcome == Outcome.OK
        self.recorder.add(latency_ms[ok])
        self.recorder.add_failures(int(outcome.size - np.count_nonzero(ok)))


class RequestTally:
    """Per-label tallies; ``labels[i]`` names label code ``i``."""

    def __init__(self, labels: Sequence[str] = ("all",), exact_limit: int = EXACT_LIMIT) -> None:
        self.labels = tuple(labels)
        self.phases = {name: PhaseTally(LatencyRecorder(exact_limit)) for name in self.labels}

    def add(
        self,
        label: np.ndarray | None,
        latency_ms: np.ndarray,
        outcome: np.ndarray,
        cold: np.ndarray,
    ) -> None:
        """One block of finished requests; ``label`` None means all carry label 0."""
        if label is None or len(self.labels) == 1:
            self.phases[self.labels[0]].add(latency_ms, outcome, cold)
            return
        for code, name in enumerate(self.labels):
            mine = label == code
            if mine.any():
                self.phases[name].add(latency_ms[mine], outcome[mine], cold[mine])
