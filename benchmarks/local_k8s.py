"""The local-k8s Service's own cost: through the Service against one pod directly.

Pods of the real inference service (tiny model, so a request costs a few milliseconds and the
front's share is visible), 1 CPU and 1 torch thread each, in two deployments: one pod, and two.
Baseline: the single pod on its own port. Measured: the same pod through its Service (the proxy's
cost alone) and the 2-pod Service (plus what alternating between two processes costs). All are
driven by one closed-loop keep-alive client in a separate process (benchmarks/closed_loop.py), in
alternating rounds in one run so machine drift hits them alike:
- 1 connection: latency, where p50(Service) - p50(pod) is what the Service adds per request;
- 4 connections: throughput, where the 2-pod Service may use both pods and one pod cannot.
Target: the Service adds under 1 ms at p50 (docs/design.md "Fronts' own overhead").
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from benchmarks.closed_loop import measure
from benchmarks.report import Section, table
from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.targets.local_k8s import LocalK8sTarget

ROUNDS = 3
SECONDS = 2.0
TARGET_ADDED_P50_MS = 1.0
LOADS = {"latency": 1, "throughput": 4}  # name -> connections
DIRECT, SERVICE_ONE, SERVICE_TWO = "one pod directly", "Service, that pod", "Service, 2 pods"


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _summary(results: list[dict]) -> dict[str, float]:
    latencies = [ms for r in results for ms in r["latencies_ms"]]
    seconds = sum(r["seconds"] for r in results)
    return {
        "requests": len(latencies),
        "errors": sum(r["errors"] for r in results),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": _percentile(latencies, 0.99),
    }


def _spec(replicas: int) -> DeploymentSpec:
    return DeploymentSpec(
        target="local-k8s",
        model="tiny",
        cpu=ResourceQuantity(request=1.0, limit=1.0),
        min_replicas=replicas,
        max_replicas=replicas,
        platform={"preset": "quick"},
    )


def run() -> Section:
    with tempfile.TemporaryDirectory() as work_dir:
        single, pair = (LocalK8sTarget(work_dir=Path(work_dir)) for _ in range(2))
        with single.deployed(_spec(1)) as one, pair.deployed(_spec(2)) as two:
            single.wait_ready(timeout_s=300)
            pair.wait_ready(timeout_s=300)
            urls = {
                DIRECT: f"http://127.0.0.1:{single.pods()[0].port}/predict",
                SERVICE_ONE: f"{one.endpoint}/predict",
                SERVICE_TWO: f"{two.endpoint}/predict",
            }
            raw = _measure(urls)
            enforcement = two.details["cpu"]["enforcement"]
    summaries = {key: _summary(results) for key, results in raw.items()}
    latency = {path: summaries["latency", path]["p50_ms"] for path in urls}
    proxy_ms = latency[SERVICE_ONE] - latency[DIRECT]
    two_pods_ms = latency[SERVICE_TWO] - latency[DIRECT]
    rows = [
        [f"{load} ({LOADS[load]} conn.)", path, s["rps"], s["p50_ms"], s["p99_ms"], s["errors"]]
        for (load, path), s in summaries.items()
    ]
    body = "\n".join(
        [
            "Inference service, tiny model, pods of 1 CPU × 1 torch thread (CPU limit: "
            f"{enforcement}). Baseline: a pod on its own port. The same pod behind its Service "
            "(1 ready endpoint) isolates the proxy's cost; a 2-pod Service adds what balancing "
            "each request over two processes costs on this host. Closed-loop keep-alive client "
            f"in its own process; {ROUNDS} alternating rounds of {SECONDS:.0f} s per row.",
            "",
            table(["load", "path", "req/s", "p50 ms", "p99 ms", "errors"], rows),
            "",
            f"At p50 with 1 connection the Service adds **{proxy_ms:.3f} ms** (same pod behind "
            f"it) and **{two_pods_ms:.3f} ms** over 2 pods. Target: the Service's own cost under "
            f"{TARGET_ADDED_P50_MS:.0f} ms.",
        ]
    )
    figures = {
        "service_added_p50_ms": round(proxy_ms, 4),
        "service_2_pods_added_p50_ms": round(two_pods_ms, 4),
        "summaries": {f"{load} / {path}": s for (load, path), s in summaries.items()},
    }
    return Section(
        "local_k8s",
        "local-k8s Service: overhead against one pod directly",
        body,
        proxy_ms < TARGET_ADDED_P50_MS,
        figures,
    )


def _measure(urls: dict[str, str]) -> dict[tuple[str, str], list[dict]]:
    """Every (load, path) pair, in alternating rounds after a warm-up of each path."""
    raw: dict[tuple[str, str], list[dict]] = {(load, p): [] for load in LOADS for p in urls}
    for url in urls.values():
        measure(url, 2, 1.0)
    for _ in range(ROUNDS):
        for load, connections in LOADS.items():
            for path, url in urls.items():
                raw[load, path].append(measure(url, connections, SECONDS))
    return raw
