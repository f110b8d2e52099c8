"""``AwsEksTarget``: the service as a Deployment on EKS behind an ALB, with the kubernetes client.

A deploy renders the manifests with the image digest (``manifests.render_manifests``), applies
them (server-side apply: create or update, so the same spec again changes nothing but the
expiry labels), waits for the rollout and for the load balancer's address — the original
project's "LoadBalancer takes time" — and then health-checks through it with the backoff client
(``nlp_bench_pipeline.client``: an ALB answers 502/503 until its targets pass their checks).
Teardown deletes what the deploy applied: the Ingress first, waited until gone (so the
controller has removed the ALB, which otherwise bills and blocks the VPC's deletion), then the
rest, then the namespace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from nlp_bench_pipeline.client import RetryPolicy, send
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, TargetName, utcnow
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import DEPLOYMENT_TAG, DeploymentTags, format_expiry
from nlp_bench_pipeline.targets.aws.target import AwsTarget
from nlp_bench_pipeline.targets.aws_eks.access import (
    ClusterAccess,
    TokenSource,
    api_client,
    describe_cluster,
    eks_token,
)
from nlp_bench_pipeline.targets.aws_eks.config import AwsEksConfig, cpu_quantity, memory_quantity
from nlp_bench_pipeline.targets.aws_eks.kube import KubeApi, documents_of
from nlp_bench_pipeline.targets.aws_eks.manifests import render_manifests
from nlp_bench_pipeline.targets.aws_eks.observer import ClusterObserver
from nlp_bench_pipeline.targets.aws_eks.rollout import (
    LoadBalancerAddress,
    Poll,
    load_balancer_address,
    rollout_state,
    wait_deleted,
    wait_until,
)
from nlp_bench_pipeline.targets.events import EventLog, SampleLog

log = logging.getLogger(__name__)

SERVICE = "nlp-bench-service"  # the templates' name for the Deployment, Service, Ingress, HPA
SELECTOR = f"app.kubernetes.io/name={SERVICE}"


class AwsEksTarget(AwsTarget):
    """The ``aws-eks`` target; knobs in :class:`AwsEksConfig` (``DeploymentSpec.platform``).

    ``access`` skips ``eks:DescribeCluster`` (a known endpoint); ``endpoint_override`` sends
    requests somewhere other than the load balancer (a port-forward, a test).
    """

    name: TargetName = "aws-eks"

    def __init__(
        self,
        clients: AwsClients,
        *,
        cluster_name: str,
        owner: str | None = None,
        work_dir: Path,
        expiry_hours: float = 4.0,
        project: str = "nlp-bench",
        access: ClusterAccess | None = None,
        endpoint_override: str | None = None,
        poll_s: float = 5.0,
        observe_interval_s: float = 5.0,
        health_policy: RetryPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        super().__init__(clients, owner=owner, expiry_hours=expiry_hours, project=project, now=now)
        self.cluster_name, self.work_dir = cluster_name, Path(work_dir)
        self.access, self.endpoint_override = access, endpoint_override
        self.poll_s, self.observe_interval_s = poll_s, observe_interval_s
        self.health_policy = health_policy
        self._clock, self._sleep = clock, sleep
        self._kube: KubeApi | None = None
        self._config: AwsEksConfig | None = None
        self._applied: list[dict[str, Any]] = []
        self._observer: ClusterObserver | None = None
        self._events = EventLog(self.name)
        self._samples = SampleLog()

    # -- the Target interface -----------------------------------------------------------------

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Apply, wait for the rollout and the load balancer, check health through it."""
        if spec.target != self.name:
            raise ValueError(f"{self.name} cannot deploy a spec for {spec.target!r}")
        config = AwsEksConfig.from_spec(spec)
        with self._lock:
            moved = self._config is not None and self._config.namespace != config.namespace
            live = self._live_for(spec, moved=moved)
            if live is not None and live.spec == spec:
                return live
            kube = self._api()
            started_at, tags = self._tags(live)
            manifests = self._render(config, spec, tags)
            if live is None:
                self._events, self._samples = EventLog(self.name), SampleLog()
            self._stop_observer()
            changed = [self._apply(kube, doc) for doc in manifests]
            removed = self._prune(kube, manifests)
            self._applied, self._config = manifests, config
            rollout_s = self._wait_rollout(kube, config)
            address = self._wait_load_balancer(kube, config)
            endpoint = (self.endpoint_override or address.url).rstrip("/")
            health = self._health_check(endpoint, config)
            self._start_observer(kube, config, spec, started_at)
            self._deployment = Deployment(
                deployment_id=tags.deployment_id,
                endpoint=endpoint,
                target=self.name,
                spec=spec,
                started_at=started_at,
                details={
                    "path": "kubernetes",
                    "cluster": self.cluster_name,
                    "namespace": config.namespace,
                    "image": config.image,
                    "objects": [f"{kind}/{name}" for _, kind, name, _ in documents_of(manifests)],
                    "changed": [c for c in changed if c],
                    "pruned": removed,
                    "hpa": config.hpa(spec) is not None,
                    "rollout_s": round(rollout_s, 3),
                    "load_balancer": address.url,
                    "health": health,
                    "expiry": format_expiry(tags.expiry),
                    "tags": tags.aws(),
                    "teardown": "deletes the Ingress (the ALB with it), the objects, the namespace",
                },
            )
            return self._deployment

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Every replica of the minimum capacity available."""
        with self._lock:
            if self._deployment is None or self._config is None:
                raise RuntimeError("aws-eks: nothing is deployed")
            self._wait_rollout(self._api(), self._config, timeout_s=timeout_s)
            return self._deployment

    def teardown(self) -> None:
        """Delete what the deploy applied (Ingress first, waited out), then the namespace."""
        with self._lock:
            live, config = self._deployment, self._config
            if live is None or config is None:
                return
            kube = self._api()
            self._final_poll()
            removed = self._delete_all(kube, config)
            self._retire(live, {"removed": removed})
            self._applied = []

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        if self._observer is not None:
            self._observer.poll()
        return self._events.since(since)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return self._samples.since(since)

    # -- deploy steps -------------------------------------------------------------------------

    def _api(self) -> KubeApi:
        if self._kube is None:
            access = self.access or describe_cluster(self.clients, self.cluster_name)
            tokens = TokenSource(lambda: eks_token(self.clients, self.cluster_name))
            self._kube = KubeApi(api_client(access, tokens, work_dir=self.work_dir))
        return self._kube

    def _render(
        self, config: AwsEksConfig, spec: DeploymentSpec, tags: DeploymentTags
    ) -> list[dict[str, Any]]:
        # The ALB's tags: what the guard lists AWS resources by (the deployment id too).
        return render_manifests(
            config.image,
            namespace=config.namespace,
            replicas=spec.min_replicas,
            cpu=cpu_quantity(spec.cpu),
            memory=memory_quantity(spec.memory),
            hpa=config.hpa(spec),
            ingress_scheme=config.ingress_scheme,
            inbound_cidrs=config.inbound_cidrs,
            tags=tags.aws(),
            env=spec.env,
            labels=tags.k8s_labels(),
            annotations=tags.k8s_annotations(),
        )

    @staticmethod
    def _apply(kube: KubeApi, doc: dict[str, Any]) -> str | None:
        """Apply one object; its name when the apply changed its spec (a new generation)."""
        before = kube.get(
            doc["apiVersion"],
            doc["kind"],
            doc["metadata"]["name"],
            doc["metadata"].get("namespace"),
        )
        after = kube.apply(doc)
        name = f"{doc['kind']}/{doc['metadata']['name']}"
        if before is None:
            return f"{name} created"
        generation = (before.get("metadata") or {}).get("generation")
        if generation is not None and (after.get("metadata") or {}).get("generation") != generation:
            return f"{name} updated"
        return None

    def _prune(self, kube: KubeApi, manifests: list[dict[str, Any]]) -> list[str]:
        """Objects an earlier apply made that this one no longer renders (an HPA, say)."""
        wanted = set(documents_of(manifests))
        namespace = manifests[0]["metadata"]["name"]  # the Namespace comes first
        # An HPA may be left by a deployment this process did not make (fixed replicas now).
        hpa = ("autoscaling/v2", "HorizontalPodAutoscaler", SERVICE, namespace)
        candidates = dict.fromkeys([*documents_of(self._applied), hpa])
        removed = []
        for api_version, kind, name, namespace in candidates:
            gone = (api_version, kind, name, namespace) not in wanted
            if gone and kube.delete(api_version, kind, name, namespace):
                removed.append(f"{kind}/{name}")
        return removed

    def _wait_rollout(
        self, kube: KubeApi, config: AwsEksConfig, *, timeout_s: float | None = None
    ) -> float:
        started = self._clock()

        def check() -> tuple[bool | None, str]:
            deployment = kube.get("apps/v1", "Deployment", SERVICE, config.namespace)
            done, state = rollout_state(deployment)
            return (True if done else None), state

        wait_until(
            check, self._poll(timeout_s or config.rollout_timeout_s), f"rollout of {SERVICE}"
        )
        return self._clock() - started

    def _wait_load_balancer(self, kube: KubeApi, config: AwsEksConfig) -> LoadBalancerAddress:
        def check() -> tuple[LoadBalancerAddress | None, str]:
            ingress = kube.get("networking.k8s.io/v1", "Ingress", SERVICE, config.namespace)
            address = load_balancer_address(ingress)
            return address, "no address in the Ingress's status yet (the ALB is being made)"

        return wait_until(check, self._poll(config.load_balancer_timeout_s), "load balancer")

    def _health_check(self, endpoint: str, config: AwsEksConfig) -> dict[str, Any]:
        if not config.health_check:
            return {"checked": False, "reason": "health_check is off"}
        policy = self.health_policy or RetryPolicy(
            max_attempts=60, cap_s=15.0, budget_s=config.health_budget_s
        )
        with httpx.Client(base_url=endpoint, timeout=10.0) as client:
            result = send(client, "GET", config.health_path, policy=policy, sleep=self._sleep)
        result.raise_for_failure()
        return {
            "checked": True,
            "path": config.health_path,
            "attempts": len(result.attempts),
            "seen": result.label_counts(),
            "seconds_to_first_success": result.time_to_first_success_s,
        }

    def _poll(self, timeout_s: float) -> Poll:
        return Poll(
            timeout_s=timeout_s, interval_s=self.poll_s, clock=self._clock, sleep=self._sleep
        )

    # -- observation --------------------------------------------------------------------------

    def _start_observer(
        self, kube: KubeApi, config: AwsEksConfig, spec: DeploymentSpec, started_at: datetime
    ) -> None:
        self._observer = ClusterObserver(
            kube,
            namespace=config.namespace,
            selector=SELECTOR,
            hpa_name=SERVICE if config.hpa(spec) is not None else None,
            events=self._events,
            samples=self._samples,
            started_at=started_at,
        )
        self._observer.poll()
        self._observer.start(self.observe_interval_s)

    def _stop_observer(self) -> None:
        if self._observer is not None:
            self._observer.stop()

    def _final_poll(self) -> None:
        """One last look before the objects go, so the record ends with the run."""
        if self._observer is None:
            return
        self._observer.stop()
        try:
            self._observer.poll()
        except Exception:
            log.warning("aws-eks: the final poll failed", exc_info=True)
        self._observer = None

    # -- teardown -----------------------------------------------------------------------------

    def _delete_all(self, kube: KubeApi, config: AwsEksConfig) -> list[str]:
        removed = []
        ingresses = [d for d in documents_of(self._applied) if d[1] == "Ingress"]
        others = [d for d in reversed(list(documents_of(self._applied))) if d[1] != "Ingress"]
        for api_version, kind, name, namespace in ingresses:
            if kube.delete(api_version, kind, name, namespace):
                removed.append(f"{kind}/{name}")
            poll = self._poll(config.load_balancer_timeout_s)
            wait_deleted(kube, api_version, kind, name, namespace, poll)
        for api_version, kind, name, namespace in others:
            if kind == "Namespace":
                continue
            if kube.delete(api_version, kind, name, namespace):
                removed.append(f"{kind}/{name}")
        namespace = kube.get("v1", "Namespace", config.namespace)
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        if namespace is not None and DEPLOYMENT_TAG in labels:  # made by a deployment, not by hand
            kube.delete("v1", "Namespace", config.namespace)
            poll = self._poll(config.rollout_timeout_s)
            wait_deleted(kube, "v1", "Namespace", config.namespace, None, poll)
            removed.append(f"Namespace/{config.namespace}")
        return removed
