"""The kubelet: runs each scheduled pod on this host, probes it, restarts it, and deletes it.

A pod waits its start latency (image pull and container creation), then its container runs with
a startup probe (until the process answers at all, so importing torch is never mistaken for a
hang), then a readiness and a liveness probe. Readiness adds the pod to or removes it from the
Service. A liveness failure kills the container (SIGTERM, then SIGKILL after the grace period),
and a container that exits is noticed within 0.1 s; either way it restarts in place (same pod
name and port) after the CrashLoopBackOff delay, and the restart count goes up. Deleting a pod
takes it out of the Service first, waits for its requests in flight, then stops it: the ordering
a preStop hook buys on a real cluster, so scale-in and rollouts drop nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import httpx

from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_k8s.config import LocalK8sConfig
from nlp_bench_pipeline.targets.local_k8s.pods import ContainerRuntime, Pod
from nlp_bench_pipeline.targets.local_k8s.probes import (
    ProbeCounter,
    ProbeResult,
    http_probe,
    run_probe,
)
from nlp_bench_pipeline.targets.local_k8s.service import ServiceProxy
from nlp_bench_pipeline.targets.sampling import ResourceSampler

EXIT_POLL_S = 0.1


class Kubelet:
    """Lifecycle of every pod of one deployment, on the event loop."""

    def __init__(
        self,
        config: LocalK8sConfig,
        runtime: ContainerRuntime,
        service: ServiceProxy,
        events: EventLog,
        sampler: ResourceSampler,
        on_change: Callable[[], None],
    ) -> None:
        self.config = config
        self.runtime = runtime
        self.service = service
        self.events = events
        self.sampler = sampler
        self.on_change = on_change
        # A new connection per probe, as the kubelet's prober makes.
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_keepalive_connections=0), trust_env=False
        )
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def run(self, pod: Pod) -> None:
        """Start running a pod the scheduler has bound to a node."""
        pod.phase = "ContainerCreating"
        self._tasks[pod.name] = asyncio.get_running_loop().create_task(self._run(pod))

    async def delete(self, pod: Pod, reason: str) -> None:
        """Out of the Service, requests in flight finished, container stopped (within grace)."""
        pod.phase = "Terminating"
        pod.ready = False
        started = time.monotonic()
        endpoint = self.service.remove(pod.name)
        task = self._tasks.pop(pod.name, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        grace = self.config.termination_grace_period_s
        left_in_flight = await endpoint.drained(grace) if endpoint is not None else 0
        if pod.process is not None:
            remaining = max(0.0, grace - (time.monotonic() - started))
            exit_code = await asyncio.to_thread(pod.process.stop, remaining)
            self.events.record(
                "pod_killed",
                pod.name,
                duration_ms=(time.monotonic() - started) * 1000.0,
                reason=reason,
                restart_count=pod.restarts,
                exit_code=exit_code,
                in_flight_at_stop=left_in_flight,
            )
        self.sampler.forget(pod.name)

    async def close(self) -> None:
        await self._client.aclose()

    async def _run(self, pod: Pod) -> None:
        await asyncio.sleep(self.config.pod_start_latency_s)
        while True:
            reason = await self._run_container(pod)
            delay = self.config.restart_delay_s(pod.restarts)
            await asyncio.sleep(delay)
            pod.restarts += 1
            self.events.record(
                "pod_restarted",
                pod.name,
                restart_count=pod.restarts,
                reason=reason,
                backoff_s=delay,
                node=pod.node,
            )

    async def _run_container(self, pod: Pod) -> str:
        """Run one container until it exits or a probe has it killed; returns why it ended."""
        pod.process = process = self.runtime.start(pod)
        pod.container_started_at = time.monotonic()
        pod.container_ready_at = None
        pod.phase = "Running"
        self.sampler.watch(pod.name, process.pid)
        try:
            kill_reason = await self._supervise(pod)
        finally:
            self._set_unready(pod)
        if kill_reason is not None:
            self.events.record(
                "pod_killed", pod.name, reason=kill_reason, restart_count=pod.restarts
            )
            await asyncio.to_thread(process.stop, self.config.termination_grace_period_s)
            return kill_reason
        reason = f"container exited with code {process.returncode}"
        self.events.record("crash", pod.name, reason=reason, exit_code=process.returncode)
        return reason

    async def _supervise(self, pod: Pod) -> str | None:
        """Probe until the container exits (None) or a probe fails (why it must be killed)."""
        if not await self._started(pod):
            return "startup probe failed"
        liveness_failed = asyncio.Event()
        probes = [
            run_probe(
                self._client,
                pod.port,
                self.config.readiness_probe,
                ProbeCounter(self.config.readiness_probe, initially=False),
                lambda ready, result: self._on_readiness(pod, ready, result),
            ),
            run_probe(
                self._client,
                pod.port,
                self.config.liveness_probe,
                ProbeCounter(self.config.liveness_probe, initially=True),
                lambda alive, _: None if alive else liveness_failed.set(),
            ),
        ]
        tasks = [asyncio.get_running_loop().create_task(p) for p in probes]
        try:
            while self._alive(pod) and not liveness_failed.is_set():
                await asyncio.sleep(EXIT_POLL_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        return "liveness probe failed" if liveness_failed.is_set() else None

    async def _started(self, pod: Pod) -> bool:
        """The startup probe: readiness and liveness wait until the process answers at all.

        False when it never answered within ``failureThreshold`` tries; True as soon as it does,
        or when it exited (the caller sees that).
        """
        probe = self.config.startup_probe
        await asyncio.sleep(probe.initial_delay_seconds)
        for _ in range(probe.failure_threshold):
            if not self._alive(pod) or (await http_probe(self._client, pod.port, probe)).ok:
                return True
            await asyncio.sleep(probe.period_seconds)
        return False

    @staticmethod
    def _alive(pod: Pod) -> bool:
        return pod.process is not None and pod.process.alive()

    def _on_readiness(self, pod: Pod, ready: bool, result: ProbeResult) -> None:
        if not ready:
            self._set_unready(pod)
            return
        pod.ready = True
        self.service.add(pod.name, pod.port)
        if pod.container_ready_at is None:
            pod.container_ready_at = time.monotonic()
            self._record_ready(pod, result)
        self.on_change()

    def _record_ready(self, pod: Pod, result: ProbeResult) -> None:
        """pod_ready, with how long each stage took (load time as the app reports it)."""
        assert pod.container_started_at is not None
        assert pod.container_ready_at is not None
        now = pod.container_ready_at
        init_s = now - pod.container_started_at
        load_s = (result.body or {}).get("load_seconds")
        self.events.record(
            "pod_ready",
            pod.name,
            init_ms=init_s * 1000.0,
            node=pod.node,
            restart_count=pod.restarts,
            pending_ms=((pod.scheduled_at or now) - pod.created_at) * 1000.0,
            start_latency_ms=(pod.container_started_at - (pod.scheduled_at or now)) * 1000.0,
            model_load_ms=float(load_s) * 1000.0 if load_s is not None else None,
            ready_ms=(now - pod.created_at) * 1000.0,
        )

    def _set_unready(self, pod: Pod) -> None:
        if pod.ready:
            pod.ready = False
            self.service.remove(pod.name)
            self.on_change()
