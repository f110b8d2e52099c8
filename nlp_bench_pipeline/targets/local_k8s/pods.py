"""Pods: what a revision runs, the state of each pod, and how its container process is started.

A container is real uvicorn serving the template's ASGI app on a port of its own, started through
the shared ``ChildProcess`` (own process group, ``NLP_BENCH_OWNER`` tag, log file) and, where a
cgroup is writable, inside a CPU quota equal to the pod's CPU limit. The CPU limit (the request
when there is none) also becomes ``NLP_BENCH_THREADS``.

A container sees its template's environment — the target's batching, then the spec's own
``env`` over it — and what the kubelet sets (``HOSTNAME``, the model, threads), plus where the
model's files already are on this machine (``MODEL_FILES``); nothing else of the operator's
environment. uvicorn runs with the service's HTTP protocol (:data:`HTTP_PROTOCOL`), so HTTP it
cannot parse gets the service's JSON 400 rather than uvicorn's plain text, as the image's own
entry point does. It dies with the cluster's event-loop thread (SIGKILL), so a killed pipeline
leaves no pod behind.
"""

from __future__ import annotations

import hashlib
import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

from nlp_bench_pipeline.core.deployments import DeploymentSpec, ResourceQuantity
from nlp_bench_pipeline.core.processes import (
    MODEL_FILES,
    ChildProcess,
    code_root,
    python_command,
)
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, CpuShare
from nlp_bench_pipeline.targets.local_k8s.config import BatchingConfig
from nlp_bench_pipeline.targets.local_k8s.service import UPSTREAM_KEEP_ALIVE_S

DEPLOYMENT_NAME = "nlp-bench"
# uvicorn's HTTP protocol with the service's JSON 400 for malformed requests (an import string:
# the pipeline imports nothing of the service; the pod's uvicorn does).
HTTP_PROTOCOL = "inference_service.http_protocol:JsonErrorHttpProtocol"


@dataclass(frozen=True)
class PodTemplate:
    """What one revision runs (a ReplicaSet's pod template); changing it is a rollout."""

    app: str
    model: str
    digest: str | None
    env: tuple[tuple[str, str], ...]
    cpu: ResourceQuantity
    memory: ResourceQuantity

    @classmethod
    def from_spec(cls, spec: DeploymentSpec, batching: BatchingConfig) -> PodTemplate:
        """The template of ``spec``: its environment is the batching's, then the spec's own."""
        env = {**batching.env(), **spec.env}
        return cls(
            spec.app, spec.model, spec.digest, tuple(sorted(env.items())), spec.cpu, spec.memory
        )

    @property
    def revision(self) -> str:
        """A short hash of the template, as Kubernetes' ``pod-template-hash`` label."""
        text = json.dumps(
            [
                self.app,
                self.model,
                self.digest,
                self.env,
                self.cpu.model_dump(),
                self.memory.model_dump(),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:10]

    @property
    def cpu_cores(self) -> float:
        """Cores the container may use: its limit, or its request when it has none."""
        return self.cpu.limit if self.cpu.limit is not None else self.cpu.request


@dataclass(eq=False)
class Pod:
    """One pod's state; the controller and the kubelet change it, the Service reads readiness."""

    name: str
    template: PodTemplate
    port: int
    created_at: float = field(default_factory=time.monotonic)
    phase: str = "Pending"  # Pending -> ContainerCreating -> Running -> Terminating
    node: str | None = None
    ready: bool = False
    restarts: int = 0
    process: ChildProcess | None = None
    scheduled_at: float | None = None
    container_started_at: float | None = None
    container_ready_at: float | None = None

    @property
    def revision(self) -> str:
        return self.template.revision

    def status(self) -> PodStatus:
        return PodStatus(
            self.name,
            self.revision,
            self.phase,
            self.ready,
            self.restarts,
            self.node,
            self.port,
            self.process.pid if self.process is not None else None,
        )


@dataclass(frozen=True)
class PodStatus:
    """A snapshot of one pod for callers off the event loop (``kubectl get pods``)."""

    name: str
    revision: str
    phase: str
    ready: bool
    restarts: int
    node: str | None
    port: int
    pid: int | None


class ContainerRuntime:
    """Starts and stops container processes for one deployment."""

    def __init__(self, owner: str, log_dir: Path, quotas: CpuQuotas, grace_s: float) -> None:
        self.owner = owner
        self.log_dir = log_dir
        self.quotas = quotas
        self.grace_s = grace_s

    def share(self, template: PodTemplate) -> CpuShare:
        return self.quotas.share(template.cpu_cores)

    def start(self, pod: Pod) -> ChildProcess:
        """Start the pod's container now (spawning takes about a millisecond)."""
        template = pod.template
        command = self.command(pod)
        if template.cpu.limit is not None:
            command = self.quotas.wrap(pod.name, template.cpu.limit, command)
        return ChildProcess.start(
            f"{pod.name}-{pod.restarts}",
            command,
            owner=self.owner,
            env=self.environment(pod),
            log_dir=self.log_dir,
            cwd=code_root(template.app),
            inherit_env=MODEL_FILES,
            die_with_parent=signal.SIGKILL,
        )

    def environment(self, pod: Pod) -> dict[str, str]:
        """What the container is given over ``MODEL_FILES``: the kubelet's, then the template's."""
        template = pod.template
        return {
            "NLP_BENCH_ENVIRONMENT_ID": pod.name,
            "HOSTNAME": pod.name,
            "NLP_BENCH_MODEL": template.model,
            "NLP_BENCH_THREADS": str(self.share(template).threads),
            "PYTHONUNBUFFERED": "1",
            **dict(template.env),
        }

    def command(self, pod: Pod) -> list[str]:
        """uvicorn serving the template's app on the pod's port (before any CPU-quota wrapper)."""
        return python_command(
            "-m",
            "uvicorn",
            pod.template.app,
            "--host",
            "127.0.0.1",
            "--port",
            str(pod.port),
            "--http",
            HTTP_PROTOCOL,
            "--no-access-log",
            "--log-level",
            "warning",
            "--timeout-keep-alive",
            str(UPSTREAM_KEEP_ALIVE_S),
            "--timeout-graceful-shutdown",
            str(max(1, math.ceil(self.grace_s))),
        )
