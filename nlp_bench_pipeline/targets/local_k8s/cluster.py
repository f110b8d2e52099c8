"""One deployment's platform, wired together on the event loop.

The Service, the kubelet, the Deployment controller with its nodes, the resource sampler and,
when ``max_replicas > min_replicas``, the HPA loop that feeds the controller a replica count from
the pods' metrics: CPU utilisation of the request (from the resource samples) or requests in
flight (from the Service), each averaged over the last sample interval.
"""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import ResourceSample
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas
from nlp_bench_pipeline.targets.events import EventLog, SampleLog
from nlp_bench_pipeline.targets.local_k8s.config import LocalK8sConfig
from nlp_bench_pipeline.targets.local_k8s.controller import DeploymentController
from nlp_bench_pipeline.targets.local_k8s.hpa import HorizontalPodAutoscaler, PodMetric, PodMetrics
from nlp_bench_pipeline.targets.local_k8s.kubelet import Kubelet
from nlp_bench_pipeline.targets.local_k8s.nodes import NodePool
from nlp_bench_pipeline.targets.local_k8s.pods import DEPLOYMENT_NAME, ContainerRuntime, PodTemplate
from nlp_bench_pipeline.targets.local_k8s.service import ServiceProxy
from nlp_bench_pipeline.targets.sampling import ResourceSampler

SERVICE_DESCRIPTION = {
    "kind": "in-process HTTP/1.1 proxy (asyncio, uvloop, httptools), docs/adr/0020",
    "balancing": "round robin per request over ready pods; pooled keep-alive upstreams",
    "no_ready_endpoints": "503 Service Unavailable (as the ALB ingress on EKS)",
    "pod_closed_connection": "502 Bad Gateway (requests already sent to a pod that died)",
    "upstream_timeout": "504 Gateway Timeout",
}


class Cluster:
    """A deployment's running platform; its methods run on the target's event loop, except
    ``_on_sample``, which the resource sampler calls from its thread (it only reads a copy of the
    pod list and writes a metric)."""

    def __init__(
        self,
        deployment_id: str,
        spec: DeploymentSpec,
        config: LocalK8sConfig,
        events: EventLog,
        samples: SampleLog,
        log_dir: Path,
    ) -> None:
        self.deployment_id = deployment_id
        self.spec = spec
        self.config = config
        self.events = events
        self.log_dir = log_dir
        self.quotas = CpuQuotas(deployment_id)
        self.service = ServiceProxy(
            config.service.upstream_timeout_s, request_timeout_s=config.service.request_timeout_s
        )
        self.metrics = PodMetrics()
        self.sampler = ResourceSampler(
            "local-k8s", samples, config.sample_interval_s, on_sample=self._on_sample
        )
        runtime = ContainerRuntime(
            deployment_id, log_dir, self.quotas, config.termination_grace_period_s
        )
        self.kubelet = Kubelet(config, runtime, self.service, events, self.sampler, self._wake)
        capacity = config.nodes.capacity(spec.cpu.request)
        self.nodes = NodePool(
            capacity=capacity,
            initial=config.nodes.initial_nodes or math.ceil(spec.min_replicas / capacity),
            max_nodes=config.nodes.max_nodes,
            add_delay_s=config.nodes.add_delay_s,
            now=time.monotonic(),
        )
        self.controller = DeploymentController(
            PodTemplate.from_spec(spec, config.batching),
            spec.min_replicas,
            config.rollout,
            self.kubelet,
            self.nodes,
            events,
        )
        self._loops: list[asyncio.Task[None]] = []
        self.port = 0

    async def start(self) -> int:
        """Listen, start the pods and the loops; returns the Service's port."""
        self.port = await self.service.start(self.config.service.port)
        self.sampler.start()
        self.controller.start()
        self._start_autoscaling()
        return self.port

    def update(self, spec: DeploymentSpec) -> None:
        """A new template rolls out; new replica bounds rescale (and re-arm the HPA)."""
        template = PodTemplate.from_spec(spec, self.config.batching)
        if template != self.controller.template:
            self.controller.roll_out(template)
        old_bounds = (self.spec.min_replicas, self.spec.max_replicas)
        self.spec = spec
        if (spec.min_replicas, spec.max_replicas) != old_bounds:
            for task in self._loops:
                task.cancel()
            self._loops.clear()
            current = self.controller.replicas
            self.controller.scale(min(spec.max_replicas, max(spec.min_replicas, current)))
            self._start_autoscaling()

    @property
    def stop_timeout_s(self) -> float:
        """Long enough for every pod's termination grace period, and some."""
        return self.config.termination_grace_period_s + 30.0

    async def close(self) -> None:
        """Loops first, then the Service, then every pod; the logs stay."""
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        await self.service.close()
        await self.controller.stop()
        await self.kubelet.close()
        self.sampler.stop()
        self.quotas.release()

    def release(self) -> None:
        """The pods' cgroups, once every process is gone (a no-op after ``close``)."""
        self.quotas.release()

    def details(self) -> dict[str, Any]:
        """What ``Deployment.details`` reports: effective config, CPU, nodes, host limits."""
        share = self.kubelet.runtime.share(self.controller.template)
        return {
            "deployment": DEPLOYMENT_NAME,
            "config": self.config.model_dump(mode="json", by_alias=True),
            "replicas": {
                "min": self.spec.min_replicas,
                "max": self.spec.max_replicas,
                "hpa": self.spec.max_replicas > self.spec.min_replicas,
            },
            "cpu": {
                "request": self.spec.cpu.request,
                "limit": self.spec.cpu.limit,
                "threads": share.threads,
                "enforcement": share.enforcement if self.spec.cpu.limit else "no limit",
                "host_cores": share.host_cores,
            },
            "pod_env": dict(self.controller.template.env),  # batching and the spec's env
            "nodes": self.nodes.figures(time.monotonic()),
            "service": SERVICE_DESCRIPTION,
            "host_limited": self._host_notes(share.host_cores),
            "log_dir": str(self.log_dir),
        }

    def _host_notes(self, host_cores: int) -> list[str]:
        notes = [
            f"every pod runs on this host's {host_cores} cores; nodes only gate when pods start",
            "memory request/limit recorded, not enforced (no OOM kill at the limit)",
        ]
        limit = self.spec.cpu.limit
        if limit is None:
            notes.append("no CPU limit: a pod may use every host core, as on Kubernetes")
        elif self.quotas.enforcement.startswith("threads only"):
            notes.append(f"CPU limit applied as thread count only ({self.quotas.enforcement})")
        if limit is not None and self.spec.max_replicas * limit > host_cores:
            notes.append(
                f"{self.spec.max_replicas} pods x {limit} cores exceed the host's {host_cores}: "
                "pods compete for CPU"
            )
        return notes

    def _wake(self) -> None:
        self.controller.wake()

    def _start_autoscaling(self) -> None:
        if self.spec.max_replicas == self.spec.min_replicas:
            return
        loop = asyncio.get_running_loop()
        self._loops.append(loop.create_task(self._autoscale()))
        if self.config.hpa.metric == "inflight":
            self._loops.append(loop.create_task(self._measure_inflight()))

    async def _autoscale(self) -> None:
        """The HPA controller: every sync period, one decision from the pods' metrics."""
        hpa_config = self.config.hpa
        hpa = HorizontalPodAutoscaler(hpa_config, self.spec.min_replicas, self.spec.max_replicas)
        max_age = 2 * self.config.sample_interval_s + 0.1
        while True:
            await asyncio.sleep(hpa_config.sync_period_s)
            pods = [
                PodMetric(p.ready, self.metrics.get(p.name, max_age)) for p in self.controller.pods
            ]
            decision = hpa.decide(time.monotonic(), self.controller.replicas, pods)
            if not decision.changes:
                continue
            self.events.record(
                "scale_out" if decision.desired > decision.current else "scale_in",
                None,
                from_replicas=decision.current,
                to_replicas=decision.desired,
                recommendation=decision.recommendation,
                metric=hpa_config.metric,
                metric_value=decision.metric_value,
                target=hpa_config.target,
            )
            self.controller.scale(decision.desired)

    async def _measure_inflight(self) -> None:
        """Requests in flight per ready pod, averaged over each sample interval."""
        while True:
            await asyncio.sleep(self.config.sample_interval_s)
            for name in self.service.ready_endpoints:
                value = self.service.average_inflight(name)
                if value is not None:
                    self.metrics.put(name, value)

    def _on_sample(self, sample: ResourceSample) -> None:
        """Sampler thread: CPU as a percentage of the pod's request, for a CPU-metric HPA."""
        if self.config.hpa.metric != "cpu":
            return
        for pod in list(self.controller.pods):
            if pod.name == sample.environment_id:
                self.metrics.put(pod.name, sample.cpu_pct / pod.template.cpu.request)
