"""The Deployment controller and the scheduler: the right number of pods, of the right revision,
on nodes with room.

Each reconcile compares the pods with the desired replica count and the current pod template.
A template change is a RollingUpdate: new pods are added while the total stays within
``replicas + maxSurge``, and old ones removed while the ready pods stay at least
``replicas - maxUnavailable`` (plan_rollout; the defaults 1 and 0 never lose capacity). Pods
that fit on no node stay Pending, and the cluster autoscaler (nodes.py) is asked for nodes.
Deletion picks pods the way the ReplicaSet controller ranks them: unscheduled before scheduled,
not ready before ready, newest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

from nlp_bench_pipeline.core.processes import free_port
from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_k8s.config import RolloutConfig
from nlp_bench_pipeline.targets.local_k8s.kubelet import Kubelet
from nlp_bench_pipeline.targets.local_k8s.nodes import NodePool
from nlp_bench_pipeline.targets.local_k8s.pods import DEPLOYMENT_NAME, Pod, PodTemplate

IDLE_RECONCILE_S = 0.5
# The alphabet Kubernetes uses for generated name suffixes (no vowels, no look-alikes).
SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


@dataclass(frozen=True)
class RolloutPlan:
    """What one reconcile does: pods of the new revision to add, and pods to delete."""

    create: int
    delete_old: int
    delete_new: int


def plan_rollout(
    replicas: int,
    rollout: RolloutConfig,
    *,
    new_total: int,
    new_ready: int,
    old_total: int,
    old_ready: int,
) -> RolloutPlan:
    """One step towards ``replicas`` pods of the new revision, within surge and availability.

    Old pods that are not ready serve nothing and go at once; ready old pods go only while the
    ready count stays at ``replicas - maxUnavailable``; new pods come while the total stays
    within ``replicas + maxSurge``. With no old pods this is plain scaling.
    """
    delete_new = max(0, new_total - replicas)
    new_total -= delete_new
    new_ready = min(new_ready, new_total)
    min_available = replicas - rollout.max_unavailable
    delete_old_ready = max(0, min(old_ready, old_ready + new_ready - min_available))
    delete_old = (old_total - old_ready) + delete_old_ready
    remaining = new_total + old_total - delete_old
    create = max(0, min(replicas - new_total, replicas + rollout.max_surge - remaining))
    return RolloutPlan(create, delete_old, delete_new)


def deletion_order(pods: list[Pod]) -> list[Pod]:
    """Cheapest to lose first: unscheduled, then not ready, then the most recently created."""
    return sorted(pods, key=lambda p: (p.node is not None, p.ready, -p.created_at))


class DeploymentController:
    """Reconciles one Deployment's pods on the event loop until stopped."""

    def __init__(
        self,
        template: PodTemplate,
        replicas: int,
        rollout: RolloutConfig,
        kubelet: Kubelet,
        nodes: NodePool,
        events: EventLog,
    ) -> None:
        self.template = template
        self.replicas = replicas
        self.rollout = rollout
        self.kubelet = kubelet
        self.nodes = nodes
        self.events = events
        self.pods: list[Pod] = []
        self._deleting: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def wake(self) -> None:
        """Something changed (readiness, a node, the spec): reconcile now."""
        self._wake.set()

    def scale(self, replicas: int) -> None:
        self.replicas = replicas
        self.wake()

    def roll_out(self, template: PodTemplate) -> None:
        """Replace every pod with one of ``template``, as a RollingUpdate."""
        self.template = template
        self.wake()

    @property
    def settled(self) -> bool:
        """Rollout complete: exactly ``replicas`` pods, all of the current revision, all ready."""
        return (
            len(self.pods) == self.replicas
            and all(p.revision == self.template.revision and p.ready for p in self.pods)
            and not self._deleting
        )

    async def stop(self) -> None:
        """Stop reconciling and delete every pod (concurrently, each within its grace)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        pods, self.pods = self.pods, []
        for pod in pods:
            self._delete(pod, "deployment deleted")
        await asyncio.gather(*self._deleting, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            self._reconcile()
            self._wake.clear()
            now = time.monotonic()
            next_node = self.nodes.next_ready_at(now)
            timeout = IDLE_RECONCILE_S
            if next_node is not None:
                timeout = min(timeout, max(0.0, next_node - now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    def _reconcile(self) -> None:
        now = time.monotonic()
        for node in self.nodes.newly_ready(now):
            self.events.record(
                "node_added",
                node.name,
                duration_ms=(node.ready_at - node.requested_at) * 1000.0,
                delay_s=self.nodes.add_delay_s,
                pods_per_node=self.nodes.capacity,
            )
        self._apply(self._plan())
        self._schedule(time.monotonic())

    def _plan(self) -> RolloutPlan:
        revision = self.template.revision
        new = [p for p in self.pods if p.revision == revision]
        old = [p for p in self.pods if p.revision != revision]
        return plan_rollout(
            self.replicas,
            self.rollout,
            new_total=len(new),
            new_ready=sum(p.ready for p in new),
            old_total=len(old),
            old_ready=sum(p.ready for p in old),
        )

    def _apply(self, plan: RolloutPlan) -> None:
        revision = self.template.revision
        new = deletion_order([p for p in self.pods if p.revision == revision])
        old = deletion_order([p for p in self.pods if p.revision != revision])
        for pod in new[: plan.delete_new]:
            self._delete(pod, "scaled in")
        for pod in old[: plan.delete_old]:
            self._delete(pod, "rolling update")
        for _ in range(plan.create):
            self.pods.append(Pod(self._pod_name(), self.template, free_port()))

    def _schedule(self, now: float) -> None:
        unschedulable = 0
        for pod in self.pods:
            if pod.node is not None:
                continue
            node = self.nodes.bind(pod.name, now)
            if node is None:
                unschedulable += 1
                continue
            pod.node, pod.scheduled_at = node.name, now
            self.events.record(
                "pod_scheduled",
                pod.name,
                node=node.name,
                pending_ms=(now - pod.created_at) * 1000.0,
                revision=pod.revision,
            )
            self.kubelet.run(pod)
        self.nodes.provision(unschedulable, now)

    def _delete(self, pod: Pod, reason: str) -> None:
        if pod in self.pods:
            self.pods.remove(pod)
        task = asyncio.get_running_loop().create_task(self._terminate(pod, reason))
        self._deleting.add(task)
        task.add_done_callback(self._deleting.discard)

    async def _terminate(self, pod: Pod, reason: str) -> None:
        try:
            await self.kubelet.delete(pod, reason)
        finally:
            self.nodes.unbind(pod.name)  # the node holds the pod until it is gone
            self.wake()

    def _pod_name(self) -> str:
        suffix = "".join(random.choices(SUFFIX_ALPHABET, k=5))
        return f"{DEPLOYMENT_NAME}-{self.template.revision}-{suffix}"
