"""``LocalLambdaTarget``: API Gateway + Lambda on this machine, behind the ``Target`` interface.

A deployment is one function behind one API: an ``ApiGateway`` on the endpoint port, an
``ExecutionEnvironmentPool`` of awslambdaric processes, a resource sampler, and per-environment
CPU quotas, all owned by one deployment id (``NLP_BENCH_OWNER``). The servers run on a background
event loop, so the target is used from plain synchronous code.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, CpuShare, lambda_cores
from nlp_bench_pipeline.targets.events import EventLog, SampleLog
from nlp_bench_pipeline.targets.local_lambda.config import (
    HostCapacity,
    LocalLambdaConfig,
    PlatformLimits,
    memory_share_note,
    resolve_limits,
)
from nlp_bench_pipeline.targets.local_lambda.environment import LambdaFunction
from nlp_bench_pipeline.targets.local_lambda.gateway import ApiGateway
from nlp_bench_pipeline.targets.local_lambda.pool import EnvironmentStatus, ExecutionEnvironmentPool
from nlp_bench_pipeline.targets.processes import kill_owned
from nlp_bench_pipeline.targets.sampling import ResourceSampler

log = logging.getLogger(__name__)


@dataclass
class _Platform:
    """The running pieces of one deployment, stopped together."""

    owner: str
    loop: BackgroundLoop
    pool: ExecutionEnvironmentPool
    gateway: ApiGateway
    sampler: ResourceSampler
    quotas: CpuQuotas

    async def start(self) -> int:
        await self.pool.start()
        return await self.gateway.start()

    async def close_servers(self) -> None:
        await self.gateway.close()
        await self.pool.close()

    def stop(self) -> None:
        """Gateway, environments, sampler, loop; then anything still tagged with the owner."""
        try:
            self.loop.run(self.close_servers(), timeout=30)
        except Exception:
            log.exception(
                "local-lambda %s: clean shutdown failed; killing what is left", self.owner
            )
        self.sampler.stop()
        self.loop.close()
        if leftovers := kill_owned(self.owner):
            log.warning("local-lambda %s: killed %d leftover processes", self.owner, leftovers)
        self.quotas.release()


class LocalLambdaTarget(DeployedContext):
    """The ``local-lambda`` target: see ``LocalLambdaConfig`` for the platform knobs."""

    name: TargetName = "local-lambda"

    def __init__(
        self,
        *,
        port: int = 0,
        work_dir: Path | None = None,
        sample_interval_s: float = 1.0,
    ) -> None:
        """``port`` 0 picks a free one; ``work_dir`` holds each deployment's runtime logs."""
        self.port = port
        self.work_dir = work_dir or get_pipeline_settings().work_dir / "local-lambda"
        self.sample_interval_s = sample_interval_s
        self._events = EventLog(self.name)
        self._samples = SampleLog()
        self._platform: _Platform | None = None
        self._deployment: Deployment | None = None
        self._lock = threading.Lock()

    @property
    def deployment(self) -> Deployment | None:
        return self._deployment

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy; the same spec again returns the running deployment, another replaces it."""
        with self._lock:
            if self._deployment is not None and self._deployment.spec == spec:
                return self._deployment
            self._stop()
            return self._start(spec)

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Nothing to wait for: ``deploy`` initialised the provisioned environments, and
        on-demand ones are created by requests (that is the cold start being measured)."""
        if self._deployment is None:
            raise RuntimeError("local-lambda: nothing is deployed")
        return self._deployment

    def teardown(self) -> None:
        with self._lock:
            self._stop()

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return self._events.since(since)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return self._samples.since(since)

    def environments(self) -> list[EnvironmentStatus]:
        """The pool as it is now (empty when nothing is deployed)."""
        platform = self._platform
        if platform is None:
            return []
        return platform.loop.call(platform.pool.environments, timeout=10)

    def _start(self, spec: DeploymentSpec) -> Deployment:
        if spec.target != self.name:
            raise ValueError(f"{self.name} cannot deploy a spec for {spec.target!r}")
        config = LocalLambdaConfig.from_spec(spec)
        limits = resolve_limits(config, spec.memory_mb, HostCapacity.measure())
        owner = f"local-lambda-{uuid.uuid4().hex[:12]}"
        self._events = EventLog(self.name)
        self._samples = SampleLog()
        quotas = CpuQuotas(owner)
        cpu = quotas.share(lambda_cores(spec.memory_mb))
        function = LambdaFunction(
            handler=spec.handler,
            model=spec.model,
            memory_mb=spec.memory_mb,
            config=config,
            cpu=cpu,
            quotas=quotas,
            owner=owner,
            log_dir=self.work_dir / owner,
            extra_env=dict(spec.env),
        )
        sampler = ResourceSampler(self.name, self._samples, self.sample_interval_s)
        loop = BackgroundLoop(f"local-lambda-{owner}")
        try:
            pool = loop.call(ExecutionEnvironmentPool, function, limits, self._events, sampler)
            gateway = loop.call(ApiGateway, pool, config, limits, self._events, self.port)
        except BaseException:  # nothing started yet: release the loop thread and the cgroups
            loop.close()
            quotas.release()
            raise
        platform = _Platform(owner, loop, pool, gateway, sampler, quotas)
        self._platform = platform
        try:
            port = loop.run(platform.start())
        except BaseException:
            self._stop()
            raise
        sampler.start()
        self._deployment = Deployment(
            deployment_id=owner,
            endpoint=f"http://127.0.0.1:{port}",
            target=self.name,
            spec=spec,
            started_at=utcnow(),
            details=_details(config, limits, cpu, function),
        )
        return self._deployment

    def _stop(self) -> None:
        platform, self._platform, self._deployment = self._platform, None, None
        if platform is not None:
            platform.stop()


def _details(
    config: LocalLambdaConfig, limits: PlatformLimits, cpu: CpuShare, function: LambdaFunction
) -> dict[str, Any]:
    notes = dict(limits.notes)
    notes["cpu"] = memory_share_note(cpu.cores, cpu.host_cores, cpu.enforcement)
    return {
        "function_name": config.function_name,
        "function_arn": config.function_arn,
        "handler": function.handler,
        "api": config.api,
        "payload_format": config.payload_format,
        "config": config.model_dump(),
        "limits": {
            "concurrency_limit": limits.concurrency_limit,
            "max_concurrent_inits": limits.max_concurrent_inits,
            "integration_timeout_s": limits.integration_timeout_s,
            "init_timeout_s": config.init_timeout_s,
            "provisioned_init_timeout_s": limits.provisioned_init_timeout_s,
            "function_timeout_s": config.function_timeout_s,
            "idle_eviction_s": config.idle_eviction_s,
        },
        "host_limited": sorted([*limits.host_limited, *(["cpu"] if cpu.oversubscribed else [])]),
        "cpu": {
            "cores_requested": round(cpu.cores, 3),
            "host_cores": cpu.host_cores,
            "threads": cpu.threads,
            "enforcement": cpu.enforcement,
            "oversubscribed": cpu.oversubscribed,
        },
        "notes": notes,
        "log_dir": str(function.log_dir),
    }
