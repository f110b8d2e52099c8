"""A pod's capacity at the SLO — the requests a second one pod sustains with the p99 within the
bound — and which rule gave it. EKS is sized from it (``eks_sizing.size_eks_cluster``).

Two rules, the first that applies:

1. **The peak-rate search** (docs/peak.md) of the Kubernetes target whose runs are priced: its
   latest invocation's *measured*, *warmed* search (every replica ready before each probe, so no
   pod start is inside the p99) at the priced pod CPU, at the loosest bound *no looser than the
   SLO* the costs are judged by, that ended with a peak (``found``; ``probes exhausted`` and
   ``at ceiling`` too: their peak held the bound, and the true one is at least that). Per pod:
   ``peak_rps / replicas`` — the warmed policy ran all ``replicas`` pods from the start, so they
   shared the peak — with the interval up to ``upper_rps / replicas``, the rate that failed (the
   true peak lies between; the peak itself where no rate failed).
2. **Service time**: ``1000 / mean service time`` of the priced runs (``MeasuredPods``).

**The bound.** A search at a tighter bound than the SLO (its 500 ms against the costs' 2,000 ms)
gives the rate a pod holds at the tighter bound, below what it holds at the SLO: conservative
for EKS, and said so. A search at a *looser* bound is never used — a rate that held p99 ≤ 3 s
need not hold 2 s — and the note says it was passed over and why.

**Host-limited searches are not used.** A search the host bent (its cores shared with the load
generator, limits lowered to fit it: ``peak_searches.host_limited``, as every local search on a
small machine is) measured the laptop as much as the pods, and the project keeps such figures
out of the platform's: the note names the search and its reasons, and the service-time rule
prices the pods. A search on EKS itself is used.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.costs.measured import MeasuredPods, Spread, peak_searches
from nlp_bench_pipeline.store.database import MetricStore

SERVICE_TIME_RULE = "1000 / mean service time"
# Statuses whose peak is a rate that held the bound (docs/schema.md, "peak_searches").
STATUSES_WITH_A_PEAK = ("found", "probes exhausted", "at ceiling")


@dataclass(frozen=True)
class PodCapacity:
    """Requests a second one pod sustains at the SLO, its interval, and where it came from."""

    rps: Spread
    source: str  # 'peak search <search_id> at p99 ≤ 500 ms' or SERVICE_TIME_RULE
    notes: tuple[str, ...]
    search_id: str | None = None


def pod_capacity(
    store: MetricStore, pods: MeasuredPods, *, slo_ms: float, pod_cpu: float
) -> PodCapacity:
    """A ``pod_cpu``-core pod of ``pods.target``: its capacity at ``slo_ms``, by the rules above."""
    return capacity_at_slo(pods, peak_searches(store, pods.target), slo_ms=slo_ms, pod_cpu=pod_cpu)


def capacity_at_slo(
    pods: MeasuredPods,
    searches: Sequence[Mapping[str, Any]],
    *,
    slo_ms: float,
    pod_cpu: float,
) -> PodCapacity:
    """The rule over the target's peak-search rows (``measured.peak_searches``) and its runs."""
    same_cpu = [s for s in searches if s["pod_cpu"] and math.isclose(s["pod_cpu"], pod_cpu)]
    bent = [s for s in same_cpu if s["host_limited"]]
    sized = [s for s in same_cpu if not s["host_limited"]]
    looser = [s for s in sized if s["slo_p99_ms"] > slo_ms]
    passed_over = [
        f"peak search {s['search_id']} not used: it is host-limited (this host's CPU and limits, "
        f"not the platform's): {'; '.join(s['host_limited_reasons']) or 'a local target'}"
        for s in bent
    ] + [
        f"peak search {s['search_id']} not used: its bound p99 ≤ {s['slo_p99_ms']:g} ms is looser "
        f"than the {slo_ms:g} ms SLO, and a rate that held a looser bound need not hold the SLO"
        for s in looser
    ]
    within = [s for s in sized if s["slo_p99_ms"] <= slo_ms]
    usable = [s for s in within if _has_peak(s)]
    if usable:
        search = max(usable, key=lambda s: s["slo_p99_ms"])
        return _from_search(search, slo_ms, passed_over)
    if within:
        passed_over += [
            f"peak search {s['search_id']} at p99 ≤ {s['slo_p99_ms']:g} ms not used: it found no "
            f"peak ({s['status']}: {s['reason']})"
            for s in within
        ]
    if not searches:
        passed_over.append(f"no measured, warmed peak search of {pods.target}")
    elif not same_cpu:
        cpus = ", ".join(sorted({f"{s['pod_cpu']:g}" for s in searches if s["pod_cpu"]}))
        passed_over.append(
            f"the latest peak search of {pods.target} ran {cpus or 'no'} CPU pods, not the "
            f"priced {pod_cpu:g} CPU"
        )
    return _from_service_time(pods, passed_over)


def _has_peak(search: Mapping[str, Any]) -> bool:
    return (
        search["status"] in STATUSES_WITH_A_PEAK
        and search["peak_rps"] is not None
        and bool(search["replicas"])
    )


def _from_search(
    search: Mapping[str, Any], slo_ms: float, passed_over: Sequence[str]
) -> PodCapacity:
    replicas, bound = search["replicas"], search["slo_p99_ms"]
    per_pod = search["peak_rps"] / replicas
    # The true peak lies below the lowest failing rate; where none failed, only the peak is known.
    high = (search["upper_rps"] or search["peak_rps"]) / replicas
    source = f"peak search {search['search_id']} at p99 ≤ {bound:g} ms"
    notes = [
        f"pod capacity: {source} ({search['profile']} profile, {search['status']}): "
        f"{search['peak_rps']:.3g} req/s over {replicas} warmed pods of {search['pod_cpu']:g} "
        f"CPU = {per_pod:.3g} req/s per pod"
    ]
    if bound < slo_ms:
        notes.append(
            f"the search's bound ({bound:g} ms) is tighter than the {slo_ms:g} ms SLO: a pod may "
            "take more within the SLO, so the capacity is conservative for EKS"
        )
    if search["status"] != "found":
        notes.append(f"the peak is a lower bound ({search['status']}: {search['reason']})")
    return PodCapacity(
        rps=Spread(per_pod, per_pod, high),
        source=source,
        notes=(*notes, *passed_over),
        search_id=search["search_id"],
    )


def _from_service_time(pods: MeasuredPods, passed_over: Sequence[str]) -> PodCapacity:
    capacity = pods.capacity_rps
    note = (
        f"pod capacity: {SERVICE_TIME_RULE} ({pods.service_ms.mean:.1f} ms) = "
        f"{capacity.mean:.3g} req/s per pod"
    )
    return PodCapacity(rps=capacity, source=SERVICE_TIME_RULE, notes=(note, *passed_over))
