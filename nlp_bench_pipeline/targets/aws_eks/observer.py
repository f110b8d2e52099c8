"""What the cluster did, as the same events and samples the local Kubernetes target records.

Read from the objects' own status, which carries the times: a pod's ``PodScheduled`` and
``Ready`` conditions (``pod_scheduled``, ``pod_ready`` with how long each stage took), its
containers' restart counts (``pod_restarted``) and its deletion (``pod_killed``); the HPA's
``desiredReplicas`` (``scale_out``/``scale_in``, with the metric it decided on); nodes that
joined after the deployment started (``node_added``, the Cluster Autoscaler's work); and the
metrics API's per-pod CPU and memory (samples, at metrics-server's resolution). A background
thread polls while the deployment lives; ``poll()`` may be called at any time as well.
"""

from __future__ import annotations

import logging
import re
import threading
from datetime import UTC, datetime
from typing import Any

from kubernetes.client.rest import ApiException

from nlp_bench_pipeline.core.records import ResourceSample, utcnow
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi
from nlp_bench_pipeline.targets.events import EventLog, SampleLog

log = logging.getLogger(__name__)

_CPU = re.compile(r"^(?P<n>[0-9.]+)(?P<unit>n|u|m)?$")
_MEMORY = re.compile(r"^(?P<n>[0-9.]+)(?P<unit>Ki|Mi|Gi|K|M|G)?$")
_CPU_UNITS = {"n": 1e-9, "u": 1e-6, "m": 1e-3, None: 1.0}
_MEMORY_MIB = {
    "Ki": 1 / 1024,
    "Mi": 1.0,
    "Gi": 1024.0,
    "K": 1e3 / 2**20,
    "M": 1e6 / 2**20,
    "G": 1e9 / 2**20,
    None: 1 / 2**20,
}


def k8s_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def cpu_percent(quantity: str) -> float:
    """A CPU quantity (``250m``, ``1``, ``123456789n``) as percent of one core."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    return float(match["n"]) * _CPU_UNITS[match["unit"]] * 100.0


def memory_mb(quantity: str) -> float:
    """A memory quantity (``300Mi``, ``307200Ki``) in MiB."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return float(match["n"]) * _MEMORY_MIB[match["unit"]]


def _brief(exc: Exception) -> str:
    """An error in one short line: a blip is worth a line in the log, not a traceback."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


class _PodSeen:
    def __init__(self) -> None:
        self.scheduled = False
        self.ready_at: datetime | None = None
        self.restarts = 0
        self.killed = False


class ClusterObserver:
    """Turns the service's pods, HPA and the cluster's nodes into events and samples."""

    def __init__(
        self,
        kube: KubeApi,
        *,
        namespace: str,
        selector: str,
        hpa_name: str | None,
        events: EventLog,
        samples: SampleLog,
        started_at: datetime,
    ) -> None:
        self.kube, self.namespace, self.selector = kube, namespace, selector
        self.hpa_name = hpa_name
        self.events, self.samples = events, samples
        self.started_at = started_at
        self._pods: dict[str, _PodSeen] = {}
        self._desired: int | None = None
        self._nodes: set[str] | None = None
        self._metrics_api = True
        self._sampled: set[tuple[str, str]] = set()  # (pod, timestamp): metrics-server repeats
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, interval_s: float) -> None:
        def loop() -> None:
            while not self._stop.wait(interval_s):
                try:
                    self.poll()
                except Exception as exc:  # the cluster can blip; the next poll tries again
                    log.warning("cluster observer: poll failed (%s); trying again", _brief(exc))

        self._thread = threading.Thread(target=loop, name="eks-observer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def poll(self) -> None:
        with self._lock:
            pods = self.kube.list("v1", "Pod", self.namespace, label_selector=self.selector)
            self._observe_pods(pods)
            if self.hpa_name is not None:
                self._observe_hpa()
            self._observe_nodes()
            self._sample()

    # -- pods ---------------------------------------------------------------------------------

    def _observe_pods(self, pods: list[dict[str, Any]]) -> None:
        present = set()
        for pod in pods:
            uid = pod["metadata"]["uid"]
            present.add(uid)
            seen = self._pods.setdefault(uid, _PodSeen())
            self._pod_events(pod, seen)
        for uid, seen in self._pods.items():
            if uid not in present and not seen.killed:
                seen.killed = True
                self.events.record("pod_killed", None, detail={"uid": uid, "reason": "gone"})

    def _pod_events(self, pod: dict[str, Any], seen: _PodSeen) -> None:
        name = pod["metadata"]["name"]
        created = k8s_time(pod["metadata"].get("creationTimestamp"))
        status = pod.get("status") or {}
        conditions = {c["type"]: c for c in status.get("conditions") or []}
        node = (pod.get("spec") or {}).get("nodeName")
        scheduled = _true_since(conditions.get("PodScheduled"))
        if scheduled and not seen.scheduled:
            seen.scheduled = True
            self.events.record(
                "pod_scheduled", name, at=scheduled, node=node, pending_ms=_ms(created, scheduled)
            )
        containers = status.get("containerStatuses") or []
        restarts = sum(int(c.get("restartCount") or 0) for c in containers)
        if restarts > seen.restarts:
            self.events.record("pod_restarted", name, restart_count=restarts, node=node)
            seen.restarts = restarts
        ready = _true_since(conditions.get("Ready"))
        if ready and ready != seen.ready_at:
            seen.ready_at = ready
            started = max(
                (t for c in containers if (t := _started_at(c)) is not None), default=None
            )
            self.events.record(
                "pod_ready",
                name,
                at=ready,
                init_ms=_ms(started, ready),
                node=node,
                restart_count=restarts,
                pending_ms=_ms(created, scheduled),
                start_latency_ms=_ms(scheduled, started),
                ready_ms=_ms(created, ready),
            )
        if pod["metadata"].get("deletionTimestamp") and not seen.killed:
            seen.killed = True
            at = k8s_time(pod["metadata"]["deletionTimestamp"])
            self.events.record("pod_killed", name, at=at, node=node, reason="deleted")

    # -- HPA, nodes, metrics ------------------------------------------------------------------

    def _observe_hpa(self) -> None:
        assert self.hpa_name is not None
        hpa = self.kube.get(
            "autoscaling/v2", "HorizontalPodAutoscaler", self.hpa_name, self.namespace
        )
        status = (hpa or {}).get("status") or {}
        desired = status.get("desiredReplicas")
        if desired is None:
            return
        if self._desired is not None and desired != self._desired:
            metric = next(iter(status.get("currentMetrics") or []), {})
            current = (metric.get("resource") or {}).get("current") or {}
            self.events.record(
                "scale_out" if desired > self._desired else "scale_in",
                None,
                at=k8s_time(status.get("lastScaleTime")) or utcnow(),
                from_replicas=self._desired,
                to_replicas=desired,
                metric="cpu",
                metric_value=current.get("averageUtilization"),
                current_replicas=status.get("currentReplicas"),
            )
        self._desired = desired

    def _observe_nodes(self) -> None:
        nodes = self.kube.list("v1", "Node")
        names = {n["metadata"]["name"] for n in nodes}
        if self._nodes is not None:
            for node in nodes:
                name = node["metadata"]["name"]
                created = k8s_time(node["metadata"].get("creationTimestamp"))
                if name not in self._nodes and created and created >= self.started_at:
                    labels = node["metadata"].get("labels") or {}
                    self.events.record(
                        "node_added",
                        name,
                        at=created,
                        instance_type=labels.get("node.kubernetes.io/instance-type"),
                        nodegroup=labels.get("eks.amazonaws.com/nodegroup"),
                    )
        self._nodes = names

    def _sample(self) -> None:
        if not self._metrics_api:
            return
        try:
            usage = self.kube.list(
                "metrics.k8s.io/v1beta1", "PodMetrics", self.namespace, label_selector=self.selector
            )
        except ApiException as exc:
            if exc.status in (404, 503):  # no metrics-server: no samples, said once
                log.warning("no metrics API in the cluster (%s): no CPU/memory samples", exc.status)
                self._metrics_api = False
                return
            raise
        for item in usage:
            key = (item["metadata"]["name"], str(item.get("timestamp")))
            if key in self._sampled:
                continue
            self._sampled.add(key)
            containers = item.get("containers") or []
            at = k8s_time(item.get("timestamp")) or utcnow()
            self.samples.append(
                ResourceSample(
                    at=at,
                    target="aws-eks",
                    environment_id=item["metadata"]["name"],
                    cpu_pct=sum(cpu_percent(c["usage"]["cpu"]) for c in containers),
                    rss_mb=sum(memory_mb(c["usage"]["memory"]) for c in containers),
                )
            )


def _true_since(condition: dict[str, Any] | None) -> datetime | None:
    if not condition or condition.get("status") != "True":
        return None
    return k8s_time(condition.get("lastTransitionTime"))


def _started_at(container: dict[str, Any]) -> datetime | None:
    running = (container.get("state") or {}).get("running") or {}
    return k8s_time(running.get("startedAt"))


def _ms(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000.0
