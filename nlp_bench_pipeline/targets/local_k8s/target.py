"""``LocalK8sTarget``: the Kubernetes half of the benchmark on one machine, behind ``Target``.

The platform (Service, kubelet, controller, HPA) runs on an event loop of its own, on a daemon
thread, so plain synchronous code (a test, a Dagster asset) can deploy, send load and tear down.
``deploy`` returns as soon as the Service listens: the pods become ready afterwards, and until
then the Service answers 503, which is what a cold deployment looks like to a client.
``wait_ready`` blocks until the rollout is complete, for callers that want to skip that.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.targets.background import BackgroundLoop
from nlp_bench_pipeline.targets.base import (
    DeployedContext,
    Deployment,
    DeploymentSpec,
    PlatformEvent,
    ResourceSample,
    TargetName,
    utcnow,
)
from nlp_bench_pipeline.targets.events import EventLog, SampleLog
from nlp_bench_pipeline.targets.local_k8s.cluster import Cluster
from nlp_bench_pipeline.targets.local_k8s.config import LocalK8sConfig, validate_spec
from nlp_bench_pipeline.targets.local_k8s.pods import PodStatus
from nlp_bench_pipeline.targets.processes import kill_owned

T = TypeVar("T")
READY_POLL_S = 0.05


class LocalK8sTarget(DeployedContext):
    """N uvicorn pods behind a Service, with probes, an HPA, nodes and rolling updates.

    ``work_dir`` holds one folder of pod logs per deployment (default: the pipeline's work
    directory). One deployment at a time; ``deploy`` again after ``teardown`` starts a fresh one,
    and the events and samples of every deployment stay readable.
    """

    name: TargetName = "local-k8s"

    def __init__(self, work_dir: Path | None = None) -> None:
        self.work_dir = work_dir or get_pipeline_settings().work_dir / "local-k8s"
        self._events = EventLog(self.name)
        self._samples = SampleLog()
        self._lock = threading.RLock()
        self._loop: BackgroundLoop | None = None
        self._cluster: Cluster | None = None
        self._deployment: Deployment | None = None

    @property
    def deployment(self) -> Deployment | None:
        """The live deployment, if any."""
        return self._deployment

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy; the same spec again is a no-op, a new template a rolling update.

        A new ``min_replicas``/``max_replicas`` rescales in place. The ``platform`` knobs are
        fixed for a deployment's life: change them by tearing down first.
        """
        if spec.target != self.name:
            raise ValueError(f"{self.name} cannot deploy a spec for {spec.target!r}")
        config = validate_spec(spec)
        with self._lock:
            if self._deployment is None:
                return self._create(spec, config)
            if spec == self._deployment.spec:
                return self._deployment
            if spec.platform != self._deployment.spec.platform:
                raise ValueError(
                    "platform knobs cannot change on a live local-k8s deployment; teardown() first"
                )
            cluster, loop = self._live()
            loop.call(cluster.update, spec)
            self._deployment = self._deployment.model_copy(
                update={"spec": spec, "details": loop.call(cluster.details)}
            )
            return self._deployment

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Block until every desired pod runs the current template and is ready."""
        cluster, loop = self._live()
        deadline = time.monotonic() + timeout_s
        while not loop.call(lambda: cluster.controller.settled):
            if time.monotonic() > deadline:
                pods = ", ".join(f"{p.name} {p.phase} ready={p.ready}" for p in self.pods())
                raise TimeoutError(f"local-k8s not ready after {timeout_s:.0f} s: {pods}")
            time.sleep(READY_POLL_S)
        assert self._deployment is not None
        return self._deployment

    def pods(self) -> list[PodStatus]:
        """The deployment's pods now (terminating ones excluded), oldest first."""
        if self._cluster is None or self._loop is None:
            return []
        cluster = self._cluster
        return self._loop.call(lambda: [p.status() for p in cluster.controller.pods])

    def teardown(self) -> None:
        """Stop the Service and every pod, then kill anything left carrying the owner tag."""
        with self._lock:
            if self._cluster is None or self._loop is None:
                return
            cluster, loop = self._cluster, self._loop
            self._cluster = self._loop = self._deployment = None
            try:
                grace = cluster.config.termination_grace_period_s
                loop.run(cluster.stop(), timeout=grace + 30.0)
            finally:
                loop.close()
                kill_owned(cluster.deployment_id)
                cluster.quotas.release()

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return self._events.since(since)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return self._samples.since(since)

    def _create(self, spec: DeploymentSpec, config: LocalK8sConfig) -> Deployment:
        deployment_id = f"local-k8s-{uuid.uuid4().hex[:8]}"
        log_dir = self.work_dir / deployment_id
        loop = BackgroundLoop(f"local-k8s-{deployment_id}")

        async def start() -> Cluster:
            cluster = Cluster(deployment_id, spec, config, self._events, self._samples, log_dir)
            try:
                await cluster.start()
            except BaseException:
                await cluster.stop()
                raise
            return cluster

        try:
            cluster = loop.run(start())
        except BaseException:
            loop.close()
            kill_owned(deployment_id)
            raise
        self._cluster, self._loop = cluster, loop
        self._deployment = Deployment(
            deployment_id=deployment_id,
            endpoint=f"http://127.0.0.1:{cluster.port}",
            target=self.name,
            spec=spec,
            started_at=utcnow(),
            details=loop.call(cluster.details),
        )
        return self._deployment

    def _live(self) -> tuple[Cluster, BackgroundLoop]:
        if self._cluster is None or self._loop is None:
            raise RuntimeError("nothing is deployed")
        return self._cluster, self._loop
