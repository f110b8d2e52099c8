"""The pool's bookkeeping: which execution environments exist, and which one an invoke gets.

Lambda's choice rules live here as pure functions over environments (``warm_choice``,
``expired``), so they are tested without processes; ``EnvironmentFleet`` numbers and tracks the
environments of one function.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from nlp_bench_pipeline.targets.local_lambda.environment import (
    EnvironmentState,
    ExecutionEnvironment,
)


@dataclass(frozen=True)
class EnvironmentStatus:
    """A snapshot of one environment, for tests and the command line."""

    environment_id: str
    state: str
    provisioned: bool
    pid: int | None


class EnvironmentFleet:
    """The environments of one function, by id, in creation order."""

    def __init__(self) -> None:
        self._environments: dict[str, ExecutionEnvironment] = {}
        self._sequence = itertools.count(1)

    def __len__(self) -> int:
        return len(self._environments)

    def __iter__(self) -> Iterator[ExecutionEnvironment]:
        return iter(list(self._environments.values()))

    def create(self, *, provisioned: bool, restored: bool = False) -> ExecutionEnvironment:
        env = ExecutionEnvironment.create(
            next(self._sequence), provisioned=provisioned, restored=restored
        )
        self._environments[env.environment_id] = env
        return env

    def remove(self, env: ExecutionEnvironment) -> None:
        self._environments.pop(env.environment_id, None)

    def statuses(self) -> list[EnvironmentStatus]:
        return [
            EnvironmentStatus(
                env.environment_id,
                env.state.value,
                env.provisioned,
                env.runtime.pid if env.runtime else None,
            )
            for env in self._environments.values()
        ]

    def warm(self) -> ExecutionEnvironment | None:
        return warm_choice(self._environments.values())

    def idle_for(self, now: float, idle_eviction_s: float) -> list[ExecutionEnvironment]:
        return expired(self._environments.values(), now, idle_eviction_s)


def warm_choice(environments: Iterable[ExecutionEnvironment]) -> ExecutionEnvironment | None:
    """The idle environment to reuse: provisioned first, then the most recently used.

    Most recent first keeps the set of warm environments small, so the rest age towards eviction.
    """
    idle = [env for env in environments if env.state is EnvironmentState.IDLE]
    return max(idle, key=lambda env: (env.provisioned, env.last_used), default=None)


def expired(
    environments: Iterable[ExecutionEnvironment], now: float, idle_eviction_s: float
) -> list[ExecutionEnvironment]:
    """On-demand environments idle for at least the idle time (provisioned ones never expire)."""
    return [
        env
        for env in environments
        if env.state is EnvironmentState.IDLE
        and not env.provisioned
        and now - env.last_used >= idle_eviction_s
    ]
