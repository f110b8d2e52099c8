"""Prometheus metrics, one registry per app so several apps can live in one test process.

Per request: counts by path and status, latency, time queued for the inference thread. Per
forward pass: its time and how many texts it carried. Per process: CPU and resident memory
(prometheus-client's process collector), model load and readiness, and what is served as an
info-style gauge (``nlp_bench_model_info{id, digest, runtime, precision} 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

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
QUEUE_BUCKETS_S = (0.0005, 0.001, *LATENCY_BUCKETS_S)
BATCH_SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


@dataclass
class ServiceMetrics:
    """Everything ``/metrics`` exposes, registered on this app's own registry."""

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
        self.inference = Histogram(
            "nlp_bench_inference_seconds",
            "one forward pass: tokenise and run the batch",
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.queue = Histogram(
            "nlp_bench_queue_seconds",
            "a request's wait for the inference thread (batching wait included)",
            buckets=QUEUE_BUCKETS_S,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "nlp_bench_batch_texts",
            "texts in one forward pass",
            buckets=BATCH_SIZE_BUCKETS,
            registry=self.registry,
        )
        self.model_load = Gauge(
            "nlp_bench_model_load_seconds", "seconds the model took to load", registry=self.registry
        )
        self.model_ready = Gauge(
            "nlp_bench_model_ready", "1 when the model is loaded", registry=self.registry
        )
        self.model_info = Gauge(
            "nlp_bench_model_info",
            "the model being served (always 1)",
            ["id", "digest", "runtime", "precision"],
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)

    def observe(self, path: str, status: int, seconds: float) -> None:
        self.requests.labels(path=path, status=str(status)).inc()
        self.latency.labels(path=path).observe(seconds)

    def observe_pass(self, texts: int, seconds: float) -> None:
        self.batch_size.observe(texts)
        self.inference.observe(seconds)

    def observe_queue(self, seconds: float) -> None:
        self.queue.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
