"""``LocalK8sTarget``: the Kubernetes half of the benchmark on one machine, behind ``Target``.

The platform (Service, kubelet, controller, HPA) runs on an event loop of its own, on a daemon
thread, so plain synchronous code (a test, a Dagster asset) can deploy, send load and tear down.
``deploy`` returns as soon as the Service listens: the pods become ready afterwards, and until
then the Service answers 503, which is what a cold deployment looks like to a client.
``wait_ready`` blocks until the rollout is complete, for callers that want to skip that.
"""

from __future__ import annotations

import time

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import TargetName, utcnow
from nlp_bench_pipeline.targets.background import BackgroundLoop
from nlp_bench_pipeline.targets.console import k8s_lines
from nlp_bench_pipeline.targets.local import LocalTarget
from nlp_bench_pipeline.targets.local_k8s.cluster import Cluster
from nlp_bench_pipeline.targets.local_k8s.config import validate_spec
from nlp_bench_pipeline.targets.local_k8s.pods import PodStatus

READY_POLL_S = 0.05


class LocalK8sTarget(LocalTarget):
    """N uvicorn pods behind a Service, with probes, an HPA, nodes and rolling updates.

    ``work_dir`` holds one folder of pod logs per deployment. One deployment at a time;
    ``deploy`` again after ``teardown`` starts a fresh one.
    """

    name: TargetName = "local-k8s"
    console_lines = staticmethod(k8s_lines)

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Block until every desired pod runs the current template and is ready."""
        cluster, loop = self._cluster()
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
        if self._platform is None or self._loop is None:
            return []
        cluster, loop = self._cluster()
        return loop.call(lambda: [p.status() for p in cluster.controller.pods])

    def _validate(self, spec: DeploymentSpec) -> None:
        validate_spec(spec)

    def _update(self, spec: DeploymentSpec) -> Deployment:
        """A new template is a rolling update; new replica bounds rescale in place.

        The ``platform`` knobs are fixed for a deployment's life: change them by tearing down
        first.
        """
        assert self._deployment is not None
        if spec.platform != self._deployment.spec.platform:
            raise ValueError(
                "platform knobs cannot change on a live local-k8s deployment; teardown() first"
            )
        cluster, loop = self._cluster()
        loop.call(cluster.update, spec)
        return self._deployment.model_copy(
            update={"spec": spec, "details": loop.call(cluster.details)}
        )

    def _launch(
        self, spec: DeploymentSpec, owner: str, loop: BackgroundLoop
    ) -> tuple[Cluster, Deployment]:
        config = validate_spec(spec)
        log_dir = self.work_dir / owner

        async def start() -> Cluster:
            cluster = Cluster(owner, spec, config, self._events, self._samples, log_dir)
            try:
                await cluster.start()
            except BaseException:
                await cluster.close()
                raise
            return cluster

        cluster = loop.run(start())
        deployment = Deployment(
            deployment_id=owner,
            endpoint=f"http://127.0.0.1:{cluster.port}",
            target=self.name,
            spec=spec,
            started_at=utcnow(),
            details=loop.call(cluster.details),
        )
        return cluster, deployment

    def _cluster(self) -> tuple[Cluster, BackgroundLoop]:
        platform, loop = self._live()
        assert isinstance(platform, Cluster)
        return platform, loop
