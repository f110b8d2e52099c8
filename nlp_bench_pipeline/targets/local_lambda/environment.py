"""Execution environments and the runtime processes inside them.

An ``ExecutionEnvironment`` is what Lambda scales: it runs one invoke at a time and keeps its
identity (``NLP_BENCH_ENVIRONMENT_ID``, log stream) across a restarted runtime. A ``Runtime`` is
one awslambdaric process plus the Runtime API server it talks to; an environment gets a second
one when Lambda's rules retry a failed init inside the first invoke. ``LambdaFunction`` holds what
every runtime of the function is started with; a launcher starts its process: a fresh
``python -m awslambdaric <handler>`` (``ColdStartLauncher``) or a fork of the pre-initialised
zygote (``zygote.Zygote``, the ``start: zygote`` mode, docs/adr/0043).

A runtime sees what a function sees on Lambda — Lambda's own variables and the function's
configured environment (``DeploymentSpec.env``) — plus where the model's files already are on
this machine (``MODEL_FILES``); nothing else of the operator's environment, so no host AWS key or
API token reaches it. It dies with the platform's event-loop thread (SIGKILL), so a killed
pipeline leaves no runtime behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from nlp_bench_pipeline.core.processes import MODEL_FILES, ChildProcess, python_command
from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, CpuShare
from nlp_bench_pipeline.targets.local_lambda.config import LocalLambdaConfig
from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation
from nlp_bench_pipeline.targets.local_lambda.runtime_api import RuntimeApi, RuntimeCallbacks

# AWS_LAMBDA_INITIALIZATION_TYPE's values; "snap-start" is an environment restored from a
# snapshot (here: forked from the zygote).
InitType = Literal["on-demand", "provisioned-concurrency", "snap-start"]


class EnvironmentState(StrEnum):
    STARTING = "starting"  # waiting for an init slot, or initialising
    IDLE = "idle"
    BUSY = "busy"
    STOPPED = "stopped"


@dataclass(frozen=True)
class InitFailure:
    """Why an init did not reach its first ``next``: Lambda's error type and message."""

    error_type: str
    message: str
    timed_out: bool = False


class LaunchFailed(Exception):
    """A launcher could not start a runtime process; ``failure`` says why, in Lambda's terms."""

    def __init__(self, failure: InitFailure) -> None:
        super().__init__(f"{failure.error_type}: {failure.message}")
        self.failure = failure


class RuntimeProcess(Protocol):
    """A runtime's OS process, however it started: ``ChildProcess`` or a zygote's fork."""

    @property
    def pid(self) -> int: ...

    def signal_group(self, sig: signal.Signals) -> None: ...

    def log_tail(self, lines: int = 20) -> str: ...


@dataclass(frozen=True)
class LaunchedRuntime:
    """A started runtime process and the future of its exit status (None when unknown)."""

    process: RuntimeProcess
    exited: asyncio.Future[int | None]
    forked_at: float | None = None  # monotonic: when the zygote's fork returned (snap-start)


class RuntimeLauncher(Protocol):
    """How a function's runtime processes come to be; started with the pool, closed after it."""

    async def start(self, limit_s: float) -> None: ...

    async def launch(self, environment: ExecutionEnvironment, runtime_api: str) -> LaunchedRuntime:
        """Start ``environment``'s runtime talking to ``runtime_api``; raises ``LaunchFailed``."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class LambdaFunction:
    """The function's code and configuration: what each runtime process is started with."""

    handler: str
    model: str
    memory_mb: int
    config: LocalLambdaConfig
    cpu: CpuShare
    quotas: CpuQuotas
    owner: str
    log_dir: Path
    task_root: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def launch(self, environment: ExecutionEnvironment, runtime_api: str) -> ChildProcess:
        """Start awslambdaric for ``environment`` (inside its CPU quota where the host allows)."""
        command = python_command("-m", "awslambdaric", self.handler)
        return ChildProcess.start(
            environment.environment_id,
            self.quotas.wrap(environment.environment_id, self.cpu.cores, command),
            owner=self.owner,
            env=self.environment_variables(environment, runtime_api),
            log_dir=self.log_dir,
            cwd=self.task_root,
            inherit_env=MODEL_FILES,
            die_with_parent=signal.SIGKILL,
        )

    def environment_variables(
        self, environment: ExecutionEnvironment, runtime_api: str
    ) -> dict[str, str]:
        """What a function sees on Lambda, plus the service's settings; Lambda's own names win.

        Over these the runtime takes only ``MODEL_FILES`` from this process's environment.
        SnapStart functions see no log group or stream name (AWS documents both as unavailable
        to them), so a restored environment gets neither.
        """
        variables = self.function_variables(environment.init_type)
        variables.update(
            NLP_BENCH_ENVIRONMENT_ID=environment.environment_id, AWS_LAMBDA_RUNTIME_API=runtime_api
        )
        if environment.init_type != "snap-start":
            variables.update(
                AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.config.function_name}",
                AWS_LAMBDA_LOG_STREAM_NAME=environment.log_stream,
            )
        return variables

    def function_variables(self, init_type: InitType) -> dict[str, str]:
        """The variables every environment of the function shares (none of its own identity)."""
        config = self.config
        python = f"python{sys.version_info.major}.{sys.version_info.minor}"
        return {
            "NLP_BENCH_MODEL": self.model,
            "NLP_BENCH_THREADS": str(self.cpu.threads),
            **self.extra_env,
            "_HANDLER": self.handler,
            "AWS_LAMBDA_FUNCTION_NAME": config.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": init_type,
            "AWS_REGION": config.region,
            "AWS_DEFAULT_REGION": config.region,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{python}",
            "LAMBDA_TASK_ROOT": str(self.task_root),
            "LAMBDA_RUNTIME_DIR": _awslambdaric_dir(),
            "PYTHONPATH": os.pathsep.join(
                p for p in (str(self.task_root), os.environ.get("PYTHONPATH", "")) if p
            ),
            "TZ": ":UTC",
        }


@dataclass(eq=False)
class ExecutionEnvironment:
    """One environment: its state, the invoke it runs, and the hand-over to its runtime's ``next``.

    An invoke is handed over the moment it is assigned, even before the runtime asks for it: an
    environment counts as free once its runtime posted the previous response, so a caller that
    sends its next request at once is served by the same environment rather than a new one.
    """

    environment_id: str
    provisioned: bool
    log_stream: str
    restored: bool = False  # started from a snapshot: forked from the zygote
    state: EnvironmentState = EnvironmentState.STARTING
    invocation: Invocation | None = None
    runtime: Runtime | None = None
    last_used: float = field(default_factory=time.monotonic)
    init_wait_ms: float = 0.0
    init_attempts: int = 0
    max_memory_mb: int | None = None
    _undelivered: Invocation | None = None
    _waiter: asyncio.Future[Invocation] | None = None

    @classmethod
    def create(
        cls, sequence: int, *, provisioned: bool, restored: bool = False
    ) -> ExecutionEnvironment:
        token = secrets.token_hex(16)
        return cls(
            environment_id=f"ee-{sequence:03d}-{token[:8]}",
            provisioned=provisioned,
            log_stream=f"{datetime.now(UTC):%Y/%m/%d}/[$LATEST]{token}",
            restored=restored,
        )

    @property
    def init_type(self) -> InitType:
        if self.provisioned:
            return "provisioned-concurrency"
        return "snap-start" if self.restored else "on-demand"

    def assign(self, invocation: Invocation) -> None:
        """Make ``invocation`` this environment's one invoke and hand it to the runtime."""
        self.invocation = invocation
        invocation.environment_id = self.environment_id
        if self.state is EnvironmentState.IDLE:
            self.state = EnvironmentState.BUSY
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(invocation)
            self._waiter = None
        else:
            self._undelivered = invocation

    async def next_invocation(self) -> Invocation:
        """What the runtime's ``next`` returns: the assigned invoke, or the next one to come."""
        if self._undelivered is not None:
            invocation, self._undelivered = self._undelivered, None
            return invocation
        self._waiter = asyncio.get_running_loop().create_future()
        return await self._waiter

    def release(self, now: float) -> None:
        """The invoke is over: the environment is free for the next one."""
        self.invocation = None
        self.last_used = now
        if self.state is EnvironmentState.BUSY:
            self.state = EnvironmentState.IDLE

    def stop(self) -> None:
        """No more invokes: a runtime still waiting on ``next`` is let go."""
        self.state = EnvironmentState.STOPPED
        if self._waiter is not None:
            self._waiter.cancel()
            self._waiter = None


class Runtime:
    """One awslambdaric process and its Runtime API server; ``exited`` resolves when it dies."""

    def __init__(
        self,
        environment: ExecutionEnvironment,
        attempt: int,
        *,
        function: LambdaFunction,
        launcher: RuntimeLauncher,
        callbacks: RuntimeCallbacks,
        on_exit: Callable[[Runtime, int | None], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self.environment = environment
        self.attempt = attempt
        self.launcher = launcher
        self.api = RuntimeApi(self, callbacks, function.config.function_arn)
        self.process: RuntimeProcess | None = None
        self.started_at = 0.0  # monotonic: the launch was asked for (the init's or restore's start)
        self.forked_at: float | None = None
        self.restore_next_at: float | None = None  # the fork's runtime asked for ``restore/next``
        self.stopping = False
        self.initialised: asyncio.Future[InitFailure | None] = loop.create_future()
        self.exited: asyncio.Future[int | None] = loop.create_future()
        self._on_exit = on_exit

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid

    async def start(self) -> None:
        """Start the API, then the process; raises ``LaunchFailed`` when it cannot start."""
        address = await self.api.start()
        self.started_at = time.monotonic()
        launched = await self.launcher.launch(self.environment, address)
        self.process, self.forked_at = launched.process, launched.forked_at
        launched.exited.add_done_callback(self._process_exited)

    def fail_init(self, failure: InitFailure) -> None:
        if not self.initialised.done():
            self.initialised.set_result(failure)

    async def stop(self, grace_s: float = 2.0) -> None:
        """SIGTERM (SIGKILL when ``grace_s`` is 0), SIGKILL after the grace; then close the API."""
        self.stopping = True
        if self.process is not None and not self.exited.done():
            self.process.signal_group(signal.SIGTERM if grace_s > 0 else signal.SIGKILL)
            if not await self._exits_within(grace_s):
                self.process.signal_group(signal.SIGKILL)
                await self._exits_within(5.0)
        await self.api.close()

    async def _exits_within(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.exited), seconds)
        return self.exited.done()

    def _process_exited(self, exited: asyncio.Future[int | None]) -> None:
        returncode = None if exited.cancelled() else exited.result()
        if not self.exited.done():
            self.exited.set_result(returncode)
        self._on_exit(self, returncode)


class ColdStartLauncher:
    """A fresh ``python -m awslambdaric <handler>`` per runtime: Lambda's ordinary init.

    The process's exit is watched through a pidfd on the event loop, so a crash is noticed at
    once without polling and without a thread per process.
    """

    def __init__(self, function: LambdaFunction) -> None:
        self.function = function

    async def start(self, limit_s: float) -> None:
        """Nothing runs ahead of the environments."""

    async def launch(self, environment: ExecutionEnvironment, runtime_api: str) -> LaunchedRuntime:
        process = self.function.launch(environment, runtime_api)
        return LaunchedRuntime(process, _exit_of(process))

    async def close(self) -> None:
        """Each runtime is stopped with its environment."""


def _exit_of(process: ChildProcess) -> asyncio.Future[int | None]:
    loop = asyncio.get_running_loop()
    exited: asyncio.Future[int | None] = loop.create_future()
    pidfd = os.pidfd_open(process.pid)

    def reap() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        exited.set_result(process.popen.wait())

    loop.add_reader(pidfd, reap)
    return exited


@functools.cache
def _awslambdaric_dir() -> str:
    spec = importlib.util.find_spec("awslambdaric")
    locations = spec.submodule_search_locations if spec else None
    return str(Path(next(iter(locations)))) if locations else ""
