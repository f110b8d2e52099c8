"""Which memory sizes the platform can run: the local host's cores and memory, AWS's quotas.

A size that cannot run faithfully is not run, and says why — it is never extrapolated from the
sizes that did run (the simulator does that, and labels it).

- Locally, a memory size buys its CPU share (1,769 MB = one vCPU), which the local target
  applies as a CPU quota; a share larger than the host's cores cannot be applied, and a size
  larger than the memory available cannot be held. Both are "not run (host)".
- On AWS, ``GetAccountSettings`` states the account's concurrency; a sequential sweep needs one
  environment at a time (two while a retried cold request overlaps its init). It states no
  memory ceiling, so a size the account refuses (some new accounts stop at 3,008 MB) shows as
  the deployment's own error, "not run (quota)", when the sweep deploys it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from nlp_bench_pipeline.targets.base import Target
from nlp_bench_pipeline.targets.cpu_quota import lambda_cores
from nlp_bench_pipeline.targets.local_lambda.config import HostCapacity

NotRun = Literal["not run (host)", "not run (quota)"]
# Concurrency a sequential sweep can need: the environment serving, and one a retried cold
# request may start while the first still initialises.
SWEEP_CONCURRENCY = 2


@dataclass(frozen=True)
class Refusal:
    """Why a memory size is not run."""

    status: NotRun
    reason: str


class Capacity(Protocol):
    """What the platform can run; ``describe`` goes into every row's detail."""

    def refusal(self, memory_mb: int) -> Refusal | None: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class LocalHost:
    """This machine: a size runs when its CPU share and its memory both fit."""

    host: HostCapacity

    @classmethod
    def measure(cls) -> LocalHost:
        return cls(HostCapacity.measure())

    def refusal(self, memory_mb: int) -> Refusal | None:
        vcpus = lambda_cores(memory_mb)
        if vcpus > self.host.cores + 1e-9:
            return Refusal(
                "not run (host)",
                f"{memory_mb:,} MB buys {vcpus:.2f} vCPU; this host has {self.host.cores} "
                "cores, so its CPU share cannot be applied",
            )
        if memory_mb > self.host.memory_mb:
            return Refusal(
                "not run (host)",
                f"{memory_mb:,} MB does not fit in the {self.host.memory_mb:,} MB of memory "
                "available on this host",
            )
        return None

    def describe(self) -> dict[str, Any]:
        return {"host_cores": self.host.cores, "host_memory_available_mb": self.host.memory_mb}


@dataclass(frozen=True)
class AccountQuota:
    """An AWS account's Lambda concurrency, as ``GetAccountSettings`` states it."""

    concurrent_executions: int
    unreserved_concurrent_executions: int

    @classmethod
    def from_account_settings(cls, response: Mapping[str, Any]) -> AccountQuota:
        """From ``lambda.get_account_settings()``'s response."""
        limit = response["AccountLimit"]
        return cls(
            concurrent_executions=int(limit["ConcurrentExecutions"]),
            unreserved_concurrent_executions=int(limit["UnreservedConcurrentExecutions"]),
        )

    def refusal(self, memory_mb: int) -> Refusal | None:
        if self.unreserved_concurrent_executions < SWEEP_CONCURRENCY:
            return Refusal(
                "not run (quota)",
                f"the account has {self.unreserved_concurrent_executions} unreserved concurrent "
                f"executions (of {self.concurrent_executions}); the sweep needs "
                f"{SWEEP_CONCURRENCY}",
            )
        return None

    def describe(self) -> dict[str, Any]:
        return {
            "account_concurrent_executions": self.concurrent_executions,
            "account_unreserved_concurrent_executions": self.unreserved_concurrent_executions,
        }


def capacity_for(target: Target) -> Capacity:
    """The local host for a local target; the account's quota (``GetAccountSettings``) for
    ``aws-lambda``, through the target's own AWS clients."""
    if target.name == "aws-lambda":
        from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget  # boto3 only for AWS

        if isinstance(target, AwsLambdaTarget):
            settings = target.clients.client("lambda").get_account_settings()
            return AccountQuota.from_account_settings(settings)
    return LocalHost.measure()
