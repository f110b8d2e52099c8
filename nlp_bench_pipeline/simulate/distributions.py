"""Duration distributions the simulator draws from, and the defaults used when nothing is measured.

A ``Distribution`` is either measured (the samples of a run, resampled with replacement: the
simulated requests then have exactly the run's spread, and no tail beyond its slowest sample) or
a lognormal default whose median and spread are taken from this project's own measurements
(docs/benchmarks.md) and say so in ``source``. Durations are milliseconds, as in the metric store.

CPU share: a Lambda memory size buys a share of a vCPU (1,769 MB = one) and a pod its CPU limit.
A measured distribution is moved to another share by Amdahl's law with a parallel fraction of
0.9 (an assumption for a BERT-sized forward pass: matrix products parallelise, the tokenizer and
the Python around them do not); the result's ``source`` says it was scaled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlp_bench_pipeline.core.platform_facts import LAMBDA_MB_PER_VCPU

PARALLEL_FRACTION = 0.9


@dataclass(frozen=True, eq=False)
class Distribution:
    """Durations (ms) to draw from: measured samples, or a lognormal with this median and sigma."""

    source: str
    median_ms: float
    sigma: float = 0.0
    samples_ms: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def measured(cls, samples_ms: np.ndarray, source: str) -> Distribution:
        samples = np.asarray(samples_ms, dtype=np.float64)
        samples = samples[np.isfinite(samples) & (samples >= 0)]
        if samples.size == 0:
            raise ValueError(f"no usable samples for {source}")
        return cls(source=source, median_ms=float(np.median(samples)), samples_ms=samples)

    @classmethod
    def lognormal(cls, median_ms: float, sigma: float, source: str) -> Distribution:
        if median_ms <= 0 or sigma < 0:
            raise ValueError("a lognormal needs a positive median and a non-negative sigma")
        return cls(source=source, median_ms=median_ms, sigma=sigma)

    @classmethod
    def constant(cls, value_ms: float, source: str) -> Distribution:
        if value_ms < 0:
            raise ValueError("a duration cannot be negative")
        return cls(source=source, median_ms=value_ms)

    @property
    def is_measured(self) -> bool:
        return self.samples_ms is not None

    @property
    def size(self) -> int:
        """How many measured samples stand behind it (0 for a default)."""
        return 0 if self.samples_ms is None else int(self.samples_ms.size)

    @property
    def mean_ms(self) -> float:
        if self.samples_ms is not None:
            return float(self.samples_ms.mean())
        return self.median_ms * float(np.exp(self.sigma**2 / 2))

    def sample_ms(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` independent draws."""
        if self.samples_ms is not None:
            return self.samples_ms[rng.integers(0, self.samples_ms.size, size)]
        if self.sigma == 0:
            return np.full(size, self.median_ms)
        return rng.lognormal(np.log(self.median_ms), self.sigma, size)

    def scaled(self, factor: float, why: str) -> Distribution:
        """The same shape, every duration multiplied by ``factor`` (``why`` joins the source)."""
        if factor == 1.0:
            return self
        samples = None if self.samples_ms is None else self.samples_ms * factor
        return Distribution(
            source=f"{self.source}; scaled x{factor:.3f} ({why})",
            median_ms=self.median_ms * factor,
            sigma=self.sigma,
            samples_ms=samples,
        )

    def describe(self) -> dict[str, object]:
        """What a result says about where its numbers came from."""
        return {
            "source": self.source,
            "measured": self.is_measured,
            "samples": self.size,
            "median_ms": round(self.median_ms, 3),
            "mean_ms": round(self.mean_ms, 3),
        }


def vcpus_for_memory(memory_mb: int) -> float:
    """Lambda's CPU share: proportional to memory, one vCPU at 1,769 MB."""
    return memory_mb / LAMBDA_MB_PER_VCPU


def speedup(cores: float, parallel: float = PARALLEL_FRACTION) -> float:
    """Amdahl's law against one core; below one core the whole pass slows with the share."""
    return 1.0 / ((1.0 - parallel) + parallel / cores) if cores >= 1 else cores


def cpu_scale(from_cores: float, to_cores: float) -> float:
    """Factor on durations measured with ``from_cores`` to stand for ``to_cores``."""
    return speedup(from_cores) / speedup(to_cores)


# --- defaults: used where DuckDB holds no run to calibrate from; each says where it comes from.

_SERVICE_SOURCE = (
    "default: the service benchmark's forward pass (docs/benchmarks.md, 2026-11-27: p50 49.6, "
    "88.9, 135.2 ms for 16, 64, 128 tokens with 2 torch threads), taken to 1 vCPU by Amdahl "
    "(p = 0.9, x1.82): median 150 ms, sigma 0.45 spanning those lengths"
)
DEFAULT_SERVICE_1_VCPU = Distribution.lognormal(150.0, 0.45, _SERVICE_SOURCE)
DEFAULT_LAMBDA_OVERHEAD_MS = 1.8  # gateway + Runtime API + awslambdaric, local-lambda benchmark
DEFAULT_LAMBDA_OVERHEAD_SOURCE = (
    "default: local-lambda front and Runtime API round trip, p50 1.76 ms added "
    "(docs/benchmarks.md); API Gateway's own overhead on AWS is not measured here"
)
DEFAULT_INIT = Distribution.lognormal(
    8000.0,
    0.08,
    "default: local-lambda cold start benchmark (docs/benchmarks.md, 2026-11-27): Init Duration "
    "8.03 s for the full-size model at 1,769 MB, cold requests 8.1-9.4 s over 3 deployments",
)
DEFAULT_POD_START = Distribution.constant(
    2000.0, "default: local-k8s pod_start_latency_s, 2 s (image cached, container create)"
)
DEFAULT_POD_READY = Distribution.lognormal(
    12000.0,
    0.25,
    "default: server process start to /readyz 200, 6.97 s (docs/benchmarks.md) plus on "
    "average half of the default 10 s readiness probe period: median 12 s, sigma 0.25",
)
DEFAULT_NODE_ADD_S = 120.0
DEFAULT_NODE_ADD_SOURCE = (
    "default: 120 s from a pending pod to a Ready node (autoscaler scan 10 s + EC2 boot and "
    "join, within AWS's 1-5 minutes; an assumption, as local-k8s's nodes.add_delay_s)"
)
DEFAULT_K8S_OVERHEAD_MS = 0.75
DEFAULT_K8S_OVERHEAD_SOURCE = (
    "default: local-k8s Service over 2 pods, 0.75 ms added at p50 (docs/benchmarks.md); "
    "an ALB's own overhead is not measured here"
)
DEFAULT_THROTTLE_LATENCY_MS = 2.0
DEFAULT_THROTTLE_SOURCE = "default: the gateway's round trip without an invoke, about 2 ms"
