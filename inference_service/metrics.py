"""Prometheus metrics, one registry per app so several apps can live in one test process."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS_S = (
    0.005,
    0.01,
    0.02,
    0.05,
    0.1,
    0.2,
    0.5,
    1.0,
    2.0,
    5.0,
    10.0,
    30.0,
)


@dataclass
class ServiceMetrics:
    """Request counts by path and status, a latency histogram, model load and readiness."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "nlp_bench_requests",
            "HTTP requests by path and status",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "nlp_bench_request_latency_seconds",
            "server-side request latency",
            ["path"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.inflight = Gauge(
            "nlp_bench_inflight_requests", "requests being handled now", registry=self.registry
        )
        self.model_load = Gauge(
            "nlp_bench_model_load_seconds", "seconds the model took to load", registry=self.registry
        )
        self.model_ready = Gauge(
            "nlp_bench_model_ready", "1 when the model is loaded", registry=self.registry
        )

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
