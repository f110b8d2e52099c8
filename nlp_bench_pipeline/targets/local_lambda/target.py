"""``LocalLambdaTarget``: API Gateway + Lambda on this machine, behind the ``Target`` interface.

A deployment is one function behind one API: an ``ApiGateway`` on the endpoint port, an
``ExecutionEnvironmentPool`` of awslambdaric processes, a resource sampler, and per-environment
CPU quotas, all owned by one deployment id (``NLP_BENCH_OWNER``). The servers run on a background
event loop, so the target is used from plain synchronous code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.processes import code_root
from nlp_bench_pipeline.core.records import TargetName, utcnow
from nlp_bench_pipeline.targets.background import BackgroundLoop
from nlp_bench_pipeline.targets.console import lambda_lines
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, CpuShare, lambda_cores
from nlp_bench_pipeline.targets.local import LocalTarget
from nlp_bench_pipeline.targets.local_lambda.config import (
    HostCapacity,
    LocalLambdaConfig,
    PlatformLimits,
    memory_share_note,
    resolve_limits,
)
from nlp_bench_pipeline.targets.local_lambda.environment import LambdaFunction
from nlp_bench_pipeline.targets.local_lambda.fleet import EnvironmentStatus
from nlp_bench_pipeline.targets.local_lambda.gateway import ApiGateway
from nlp_bench_pipeline.targets.local_lambda.pool import ExecutionEnvironmentPool
from nlp_bench_pipeline.targets.sampling import ResourceSampler

log = logging.getLogger(__name__)


@dataclass
class _Platform:
    """The running pieces of one deployment, stopped together."""

    pool: ExecutionEnvironmentPool
    gateway: ApiGateway
    sampler: ResourceSampler
    quotas: CpuQuotas
    stop_timeout_s: float = 30.0

    async def start(self) -> int:
        await self.pool.start()
        return await self.gateway.start()

    async def close(self) -> None:
        """Gateway first (no new invokes), then the environments, then the sampler."""
        try:
            await self.gateway.close()
            await self.pool.close()
        finally:
            self.sampler.stop()

    def release(self) -> None:
        self.quotas.release()


class LocalLambdaTarget(LocalTarget):
    """The ``local-lambda`` target: see ``LocalLambdaConfig`` for the platform knobs.

    Any change of spec is a fresh deployment (a new function version: every environment cold).
    """

    name: TargetName = "local-lambda"
    console_lines = staticmethod(lambda_lines)

    def __init__(self, *, work_dir: Path, port: int = 0, sample_interval_s: float = 1.0) -> None:
        """``port`` 0 picks a free one; ``work_dir`` holds each deployment's runtime logs."""
        super().__init__(work_dir=work_dir)
        self.port = port
        self.sample_interval_s = sample_interval_s

    def wait_ready(self, timeout_s: float = 300.0) -> Deployment:
        """Nothing to wait for: ``deploy`` initialised the provisioned environments, and
        on-demand ones are created by requests (that is the cold start being measured)."""
        if self._deployment is None:
            raise RuntimeError("local-lambda: nothing is deployed")
        return self._deployment

    def environments(self) -> list[EnvironmentStatus]:
        """The pool as it is now (empty when nothing is deployed)."""
        platform, loop = self._platform, self._loop
        if not isinstance(platform, _Platform) or loop is None:
            return []
        return loop.call(platform.pool.environments, timeout=10)

    def _validate(self, spec: DeploymentSpec) -> None:
        LocalLambdaConfig.from_spec(spec)

    def _launch(
        self, spec: DeploymentSpec, owner: str, loop: BackgroundLoop
    ) -> tuple[_Platform, Deployment]:
        config = LocalLambdaConfig.from_spec(spec)
        limits = resolve_limits(config, spec.memory_mb, HostCapacity.measure())
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
            task_root=code_root(spec.handler),
        )
        sampler = ResourceSampler(self.name, self._samples, self.sample_interval_s)
        try:
            pool = loop.call(ExecutionEnvironmentPool, function, limits, self._events, sampler)
            gateway = loop.call(
                ApiGateway, pool, config, limits, self._events, self.port, config.body_timeout_s
            )
        except BaseException:  # nothing started yet: release the cgroups
            quotas.release()
            raise
        platform = _Platform(pool, gateway, sampler, quotas)
        try:
            port = loop.run(platform.start())
        except BaseException:
            try:
                loop.run(platform.close(), timeout=platform.stop_timeout_s)
            finally:
                platform.release()
            raise
        sampler.start()
        deployment = Deployment(
            deployment_id=owner,
            endpoint=f"http://127.0.0.1:{port}",
            target=self.name,
            spec=spec,
            started_at=utcnow(),
            details=_details(config, limits, cpu, function, pool),
        )
        return platform, deployment


def _details(
    config: LocalLambdaConfig,
    limits: PlatformLimits,
    cpu: CpuShare,
    function: LambdaFunction,
    pool: ExecutionEnvironmentPool,
) -> dict[str, Any]:
    notes = dict(limits.notes)
    notes["cpu"] = memory_share_note(cpu.cores, cpu.host_cores, cpu.enforcement)
    zygote = pool.zygote.details() if pool.zygote is not None else None
    if zygote is not None:
        notes["cpu"] += (
            "; forked environments: thread count only (a fork cannot join its own cgroup yet)"
        )
        notes["start"] = (
            "zygote: each on-demand environment is forked from one process initialised at "
            "deploy, the local analogue of SnapStart; AWS offers SnapStart for Python 3.12+ zip "
            "functions, not container images, and its restore is slower than a fork, so these "
            "cold starts are an upper bound on what SnapStart's restore gives (docs/adr/0043)"
        )
    return {
        "start": config.start,
        "zygote": zygote,
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
