"""Kubernetes behind a load balancer: pods that queue, an HPA, nodes and a cluster autoscaler.

The rules, shared with the local platform where it has them (``targets/local_k8s``, ADR 0022):

- the Service sends each request to the next *ready* pod in turn (round robin over the ready
  list, as ``ServiceProxy._pick``); with none ready the front answers 503 at once;
- a pod serves ``parallelism`` requests at a time (the service has one inference thread: 1) in
  arrival order; the rest wait in the pod. With parallelism above 1 a pod's requests take its
  slots in turn — an approximation of "first free slot", exact at 1;
- past the front's upstream timeout (the ALB's 60 s) the client gets 504; the pod works on;
- the HPA (``HorizontalPodAutoscaler``, the local platform's own arithmetic: ratio, tolerance,
  unready pods, stabilisation windows, the +100 % / +4 pods policy, min/max) syncs every
  ``sync_period_s`` on CPU as % of the request (busy share x the cores a busy pod uses) or on
  requests in flight per pod, each over the last ``sample_interval_s``;
- a new pod is placed on the Ready node with the most room (``NodePool``); one that fits nowhere
  is Pending, and the autoscaler asks for the nodes the Pending pods need, each Ready after the
  node-add delay; a placed pod starts after its start latency, then loads the model, then is
  ready (pod start + model load, drawn from the measured ``pod_ready`` times);
- scale-in removes pods as the ReplicaSet ranks them (``deletion_order``: unscheduled, unready,
  newest first); a removed pod takes no new requests and finishes its queue before it frees its
  node;
- Cluster Autoscaler's scale-down (which the local platform, with runs shorter than 10 minutes,
  does not model): a node whose pods request under half its allocatable CPU, and fit on the other
  Ready nodes, for ``scale_down_unneeded_s`` (10 min) is drained — its pods deleted, recreated
  elsewhere by the Deployment — and removed. Checked at each HPA sync rather than every 10 s.

How it is fast: between two control events (an HPA sync, a pod or node turning Ready, a pod
finishing its drain) the ready set is fixed, so round robin assigns arrivals to pods by their
index, and each pod's queue is Lindley's recursion in closed form,
``D_n = C_n + max(F, max_k<=n (A_k - C_{k-1}))`` (``C`` the running sum of service times, ``F``
when the pod was free): one cumulative maximum per pod per interval, exact for a FIFO server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from nlp_bench_pipeline.simulate.distributions import Distribution
from nlp_bench_pipeline.simulate.outcomes import Outcome, RequestTally
from nlp_bench_pipeline.simulate.series import TimeSeries
from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig, NodeConfig
from nlp_bench_pipeline.targets.local_k8s.controller import deletion_order
from nlp_bench_pipeline.targets.local_k8s.hpa import HorizontalPodAutoscaler, PodMetric
from nlp_bench_pipeline.targets.local_k8s.nodes import Node, NodePool

HOUR_S = 3600.0


@dataclass(frozen=True)
class EksSettings:
    """The Deployment, its HPA, the node group and the front; Kubernetes' and EKS's defaults."""

    node_type: str = "c6i.xlarge"
    cpu_request: float = 1.0
    busy_cpu_cores: float = 1.0  # cores a serving pod keeps busy: its CPU limit
    parallelism: int = 1  # requests a pod serves at once (one inference thread)
    min_replicas: int = 2
    max_replicas: int = 50
    initial_replicas: int | None = None  # pods Ready when the period starts; None: min_replicas
    initial_ready_at_s: float = 0.0  # when those initial pods turn Ready
    hpa: HpaConfig = field(default_factory=lambda: HpaConfig(metric="cpu"))
    nodes: NodeConfig = field(default_factory=lambda: NodeConfig(allocatable_cpu=3.92))
    upstream_timeout_s: float = 60.0
    sample_interval_s: float = 1.0
    scale_down_unneeded_s: float | None = 600.0  # None: nodes are never removed (local-k8s)
    scale_down_utilization: float = 0.5

    def __post_init__(self) -> None:
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ValueError(
                f"need 1 <= min_replicas ({self.min_replicas}) <= max_replicas "
                f"({self.max_replicas}): an HPA on EKS cannot scale to zero"
            )
        if self.parallelism < 1 or self.cpu_request <= 0:
            raise ValueError("parallelism must be at least 1 and cpu_request positive")
        if not self.min_replicas <= self.replicas_at_start <= self.max_replicas:
            raise ValueError("initial_replicas must lie within min_replicas..max_replicas")

    @property
    def replicas_at_start(self) -> int:
        return self.initial_replicas if self.initial_replicas is not None else self.min_replicas

    @property
    def pods_per_node(self) -> int:
        return self.nodes.capacity(self.cpu_request)

    @property
    def autoscaled(self) -> bool:
        return self.max_replicas > self.min_replicas


@dataclass(frozen=True)
class EksTiming:
    """A pod's service time per request, the front's overhead, and how long a pod takes to
    start (scheduled to container running) and to become ready (model loaded, probe passed)."""

    service: Distribution
    overhead_ms: float
    pod_start: Distribution
    pod_ready: Distribution


@dataclass(eq=False)
class SimPod:
    """One pod: where it runs and when it is Ready (when its slots free up: ``_free``)."""

    serial: int
    created_at: float
    node: Node | None = None
    ready: bool = False
    ready_at: float | None = None
    drained_at: float | None = None

    @property
    def name(self) -> str:
        return f"pod-{self.serial}"


@dataclass
class EksTotals:
    """What the period added up to."""

    requests: int = 0
    timeouts: int = 0
    no_endpoint: int = 0
    scale_outs: int = 0
    scale_ins: int = 0
    pods_started: int = 0
    nodes_added: int = 0
    nodes_removed: int = 0
    peak_replicas: int = 0
    peak_nodes: int = 0
    node_seconds: float = 0.0
    requests_per_hour: dict[int, int] = field(default_factory=dict)


class EksSimulation:
    """Feed arrival times in order (``feed``), then ``finish``; outcomes go to ``tally``."""

    def __init__(
        self,
        settings: EksSettings,
        timing: EksTiming,
        rng: np.random.Generator,
        tally: RequestTally,
        series: TimeSeries | None = None,
        start_s: float = 0.0,
    ) -> None:
        self.settings = settings
        self.timing = timing
        self.tally = tally
        self.series = series
        self.totals = EksTotals()
        self._service_rng, self._pod_rng = rng.spawn(2)
        s = settings
        self._now = start_s
        initial = s.replicas_at_start
        capacity = s.pods_per_node
        self.nodes = NodePool(
            capacity=capacity,
            initial=s.nodes.initial_nodes or math.ceil(initial / capacity),
            max_nodes=s.nodes.max_nodes,
            add_delay_s=s.nodes.add_delay_s,
            now=start_s,
        )
        self._min_nodes = math.ceil(s.min_replicas / capacity)  # the node group's minimum
        self._node_started = {id(n): start_s for n in self.nodes.nodes}
        self._unneeded_since: dict[int, float] = {}
        self.hpa = HorizontalPodAutoscaler(s.hpa, s.min_replicas, s.max_replicas)
        self._next_sync = start_s + s.hpa.sync_period_s if s.autoscaled else math.inf
        self.replicas = initial
        self.pods: list[SimPod] = []
        self._ring: list[SimPod] = []  # ready pods, in the order they became ready
        self._ring_ids: np.ndarray | None = None  # their serials, while the ring is unchanged
        self._free = np.zeros((64, s.parallelism))  # per pod serial: when each slot is free
        self._pointer = 0
        self._draining: list[SimPod] = []
        self._serial = 0
        # recent (arrival, service start, finish, pod serial) arrays and their latest finish
        self._recent: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]] = []
        for _ in range(initial):
            pod = self._new_pod(start_s)
            pod.node = self.nodes.bind(pod.name, start_s)
            pod.ready_at = start_s + s.initial_ready_at_s
        self._record_levels()

    # -- the stream ---------------------------------------------------------------------------

    def feed(self, t: np.ndarray, labels: np.ndarray | None = None) -> None:
        """Arrival times (s), sorted; control events between them happen in time order."""
        i = 0
        while i < t.size:
            event = self._next_event()
            j = int(np.searchsorted(t, event, side="left"))
            if j > i:
                self._route(t[i:j], None if labels is None else labels[i:j])
                i = j
            if i < t.size:
                self._handle_events(event)

    def advance(self, until_s: float) -> None:
        """Play the control events due up to ``until_s`` (arrivals do this as they come)."""
        while (event := self._next_event()) <= until_s:
            self._handle_events(event)

    def finish(self, end_s: float) -> EksTotals:
        """Play the control events up to ``end_s`` and close the node accounts."""
        self.advance(end_s)
        for node in self.nodes.nodes:
            self.totals.node_seconds += max(0.0, end_s - self._node_started[id(node)])
        return self.totals

    # -- requests -------------------------------------------------------------------------

    def _route(self, t: np.ndarray, labels: np.ndarray | None) -> None:
        s, n = self.settings, t.size
        self.totals.requests += n
        self._count_by_hour(t)
        cold = np.zeros(n, dtype=bool)
        if not self._ring:
            outcome = np.full(n, Outcome.NO_ENDPOINT, dtype=np.int8)
            self.totals.no_endpoint += n
            self.tally.add(labels, np.full(n, self.timing.overhead_ms), outcome, cold)
            return
        service = self.timing.service.sample_ms(self._service_rng, n) / 1000.0
        done, start, pod_ids = self._serve(t, service)
        latency = (done - t) * 1000.0 + self.timing.overhead_ms
        outcome = np.zeros(n, dtype=np.int8)
        timed_out = latency > s.upstream_timeout_s * 1000.0
        outcome[timed_out] = Outcome.GATEWAY_TIMEOUT
        latency[timed_out] = s.upstream_timeout_s * 1000.0
        self.totals.timeouts += int(np.count_nonzero(timed_out))
        self.tally.add(labels, latency, outcome, cold)
        if s.autoscaled:  # only the HPA reads them: keep what a metric window can still see
            oldest = float(t[0]) - s.sample_interval_s
            self._recent = [w for w in self._recent if w[4] > oldest]
            self._recent.append((t, start, done, pod_ids, float(done.max())))

    def _count_by_hour(self, t: np.ndarray) -> None:
        first, last = int(t[0] // HOUR_S), int(t[-1] // HOUR_S)
        edges = np.searchsorted(t, np.arange(first, last + 2) * HOUR_S, side="left")
        for hour, count in zip(range(first, last + 1), np.diff(edges).tolist(), strict=True):
            self.totals.requests_per_hour[hour] = self.totals.requests_per_hour.get(hour, 0) + count

    def _serve(
        self, t: np.ndarray, service: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Round robin over the ready pods, FIFO per slot: (finish, service start, pod id).

        Request k goes to ring position (pointer + 1 + k) mod R and, among that pod's slots
        ordered by when they free up, to slot (k div R) mod c: so request k's server is column
        k mod (R c) of a matrix whose rows are successive rounds, and every server's queue is a
        cumulative sum and a cumulative maximum down its column.
        """
        n, ready, c = t.size, len(self._ring), self.settings.parallelism
        width = ready * c
        rounds = math.ceil(n / width)
        if self._ring_ids is None:
            self._ring_ids = np.array([pod.serial for pod in self._ring])
        ids = self._ring_ids[(self._pointer + 1 + np.arange(ready)) % ready]
        free = np.sort(self._free[ids], axis=1)  # (R, c), earliest first
        column_free = free.T.reshape(-1)  # column r + R s is pod r's s-th slot
        arrive = np.full(rounds * width, np.inf)
        arrive[:n] = t
        work = np.zeros(rounds * width)
        work[:n] = service
        arrive, work = arrive.reshape(rounds, width), work.reshape(rounds, width)
        total = np.cumsum(work, axis=0)
        finish = total + np.maximum(
            column_free, np.maximum.accumulate(arrive - total + work, axis=0)
        )
        filled = n - (rounds - 1) * width  # columns with a request in the last round
        last = np.where(np.arange(width) < filled, rounds - 1, rounds - 2)
        served = last >= 0
        column_free[served] = finish[last[served], np.flatnonzero(served)]
        self._free[ids] = column_free.reshape(c, ready).T
        self._pointer = (self._pointer + n) % ready
        pod_ids = np.tile(ids, rounds * c)[:n]
        done = finish.reshape(-1)[:n]
        return done, done - service, pod_ids

    # -- control events -----------------------------------------------------------------------

    def _next_event(self) -> float:
        times = [self._next_sync]
        times += [p.ready_at for p in self.pods if not p.ready and p.ready_at is not None]
        times += [p.drained_at for p in self._draining if p.drained_at is not None]
        booting = self.nodes.next_ready_at(self._now)
        if booting is not None:
            times.append(booting)
        return min(times)

    def _handle_events(self, now: float) -> None:
        self._now = now
        for pod in [p for p in self._draining if p.drained_at is not None and p.drained_at <= now]:
            self._draining.remove(pod)
            self.nodes.unbind(pod.name)
        self.totals.nodes_added += len(self.nodes.newly_ready(now))  # room for _reconcile
        for pod in self.pods:
            if not pod.ready and pod.ready_at is not None and pod.ready_at <= now:
                pod.ready = True
                self._ring.append(pod)
                self._ring_ids = None
        if now >= self._next_sync:
            self._sync(now)
            self._next_sync = now + self.settings.hpa.sync_period_s
        self._reconcile(now)
        self._record_levels()

    def _sync(self, now: float) -> None:
        """One HPA decision from the pods' metrics, and Cluster Autoscaler's scale-down check."""
        values = self._metrics(now)
        metrics = [
            PodMetric(p.ready, values.get(p.serial, 0.0) if p.ready else None) for p in self.pods
        ]
        decision = self.hpa.decide(now, self.replicas, metrics)
        if decision.changes:
            if decision.desired > decision.current:
                self.totals.scale_outs += 1
            else:
                self.totals.scale_ins += 1
            self.replicas = decision.desired
        if self.settings.scale_down_unneeded_s is not None:
            self._scale_down_nodes(now)

    def _metrics(self, now: float) -> dict[int, float]:
        """Per pod serial: CPU % of the request, or requests in flight, over the last sample
        interval (as metrics-server's latest window, or the Service's in-flight average)."""
        s = self.settings
        window = s.sample_interval_s
        low = now - window
        self._recent = [w for w in self._recent if w[4] > low]
        if not self._recent:
            return {}
        arrive, start, finish, pods = (
            np.concatenate([w[i] for w in self._recent]) for i in range(4)
        )
        if s.hpa.metric == "inflight":
            per_request = _overlap(arrive, finish, low, now) / window
        else:  # busy share x cores a busy slot uses, as % of one core, over the CPU request
            cores = s.busy_cpu_cores / s.parallelism
            per_request = _overlap(start, finish, low, now) / window * 100.0 * cores / s.cpu_request
        seen = per_request > 0
        sums = np.bincount(pods[seen], weights=per_request[seen])
        return {int(serial): float(sums[serial]) for serial in np.flatnonzero(sums)}

    def _reconcile(self, now: float) -> None:
        """Pods to the replica count (deleting as the ReplicaSet ranks them), then placement."""
        excess = len(self.pods) - self.replicas
        if excess > 0:
            for pod in deletion_order(self.pods)[:excess]:  # type: ignore[arg-type]
                self._delete(pod, now)
        for _ in range(-excess):
            self._new_pod(now)
        pending = 0
        for pod in self.pods:
            if pod.node is not None:
                continue
            if pending == 0:  # once one pod fits nowhere, none of the rest does either
                pod.node = self.nodes.bind(pod.name, now)
            if pod.node is None:
                pending += 1
                continue
            start = float(self.timing.pod_start.sample_ms(self._pod_rng, 1)[0])
            load = float(self.timing.pod_ready.sample_ms(self._pod_rng, 1)[0])
            pod.ready_at = now + (start + load) / 1000.0
            self.totals.pods_started += 1
        for node in self.nodes.provision(pending, now):
            self._node_started[id(node)] = now
        self.totals.peak_replicas = max(self.totals.peak_replicas, len(self.pods))
        self.totals.peak_nodes = max(self.totals.peak_nodes, len(self.nodes.nodes))

    def _new_pod(self, now: float) -> SimPod:
        self._serial += 1
        if self._serial >= len(self._free):
            self._free = np.concatenate([self._free, np.zeros_like(self._free)])
        self._free[self._serial] = now
        pod = SimPod(self._serial, now)
        self.pods.append(pod)
        return pod

    def _delete(self, pod: SimPod, now: float) -> None:
        """Out of the Service now; its node is freed once the requests it holds are done."""
        self.pods.remove(pod)
        if pod in self._ring:
            self._ring.remove(pod)
            self._ring_ids = None
        if pod.ready:
            pod.drained_at = max(now, float(self._free[pod.serial].max()))
            self._draining.append(pod)
        else:
            self.nodes.unbind(pod.name)

    def _scale_down_nodes(self, now: float) -> None:
        s = self.settings
        capacity = self.nodes.capacity
        ready_nodes = [n for n in self.nodes.nodes if n.is_ready(now)]
        room = sum(capacity - len(n.pods) for n in ready_nodes)  # free pod slots, Ready nodes
        for node in ready_nodes:
            held = len(node.pods)
            others_room = room - (capacity - held)
            used = held * s.cpu_request / s.nodes.allocatable_cpu
            unneeded = used < s.scale_down_utilization and held <= others_room
            if not unneeded or len(self.nodes.nodes) <= self._min_nodes:
                self._unneeded_since.pop(id(node), None)
                continue
            since = self._unneeded_since.setdefault(id(node), now)
            if now - since >= (s.scale_down_unneeded_s or 0.0):
                self._remove_node(node, now)
                room = others_room - held  # its pods are recreated on the others

    def _remove_node(self, node: Node, now: float) -> None:
        """Drain and delete a node (the local NodePool never removes one)."""
        for pod in [p for p in self.pods if p.node is node]:
            self._delete(pod, now)
        self.nodes.nodes.remove(node)
        self._unneeded_since.pop(id(node), None)
        self.totals.node_seconds += now - self._node_started.pop(id(node))
        self.totals.nodes_removed += 1

    def _record_levels(self) -> None:
        if self.series is not None:
            self.series.level("replicas", self._now, self.replicas)
            self.series.level("ready_pods", self._now, len(self._ring))
            self.series.level("nodes", self._now, len(self.nodes.nodes))


def _overlap(start: np.ndarray, end: np.ndarray, low: float, high: float) -> np.ndarray:
    return np.clip(np.minimum(end, high) - np.maximum(start, low), 0.0, None)
