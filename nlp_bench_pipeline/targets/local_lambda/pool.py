"""ExecutionEnvironmentPool: where Lambda's scaling and lifecycle rules live.

Everything here runs on one event loop, so state changes need no locks. The bookkeeping
(which environments exist, which one an invoke gets) is ``fleet.py``; REPORT records are
``report.py``. The rules:
- one invoke per environment; an idle environment is reused (``warm_choice``);
- otherwise a cold start, if the concurrency limit and the scale-out rate allow; else throttled;
- inits run at most ``max_concurrent_inits`` at a time; the wait for a slot is recorded apart
  from Init Duration (process start to the runtime's first ``next``);
- with ``start: zygote`` every on-demand environment is a fork of the zygote, initialised once at
  deploy (``zygote.py``): its cold start is a SnapStart-style restore, limited by the restore
  timeout, reported as Restore Duration (fork order to first ``next``) and Billed Restore
  Duration (the fork's runtime load and after-restore hooks) instead of Init Duration;
- an on-demand init that fails or runs past the init limit is retried once inside the invoke
  that triggered it, under the function timeout (Init Duration then counts as invoke Duration);
- the function timeout kills the runtime and the environment goes; a runtime that dies takes
  its invoke with it (Runtime.ExitError); other environments carry on;
- idle on-demand environments are evicted after the idle time; provisioned ones never are, and
  one that is lost is replaced.
Every step leaves a platform event (docs/design.md kinds), each with the request ids it concerns.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_lambda.config import PlatformLimits
from nlp_bench_pipeline.targets.local_lambda.environment import (
    ColdStartLauncher,
    EnvironmentState,
    ExecutionEnvironment,
    InitFailure,
    LambdaFunction,
    LaunchFailed,
    Runtime,
    RuntimeLauncher,
)
from nlp_bench_pipeline.targets.local_lambda.fleet import EnvironmentFleet, EnvironmentStatus
from nlp_bench_pipeline.targets.local_lambda.invocation import (
    Invocation,
    InvocationResult,
    RestoreTiming,
    error_message,
    error_result,
    request_ids,
    runtime_trace_id,
)
from nlp_bench_pipeline.targets.local_lambda.limits import SlidingWindowLimit
from nlp_bench_pipeline.targets.local_lambda.report import ReportStatus, record_report
from nlp_bench_pipeline.targets.local_lambda.runtime_api import (
    InvalidRequestId,
    InvalidStateTransition,
)
from nlp_bench_pipeline.targets.local_lambda.zygote import Zygote
from nlp_bench_pipeline.targets.sampling import ResourceSampler

log = logging.getLogger(__name__)


class Throttled(Exception):
    """Lambda refused the invoke: no free environment and no room to start one."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InitAheadFailed(RuntimeError):
    """An init the deployment runs before any request (zygote, provisioned) failed: no deploy."""


class ExecutionEnvironmentPool:
    """Routes invokes to execution environments and runs their lifecycle."""

    def __init__(
        self,
        function: LambdaFunction,
        limits: PlatformLimits,
        events: EventLog,
        sampler: ResourceSampler,
    ) -> None:
        self.function = function
        self.config = function.config
        self.limits = limits
        self.events = events
        self.sampler = sampler
        self._fleet = EnvironmentFleet()
        self._init_slots = asyncio.Semaphore(limits.max_concurrent_inits)
        self._scale_out = SlidingWindowLimit(
            self.config.scale_out_limit, self.config.scale_out_window_s
        )
        self._tasks: set[asyncio.Task[Any]] = set()
        self._evictor: asyncio.Task[None] | None = None
        self._closed = False
        self.zygote = Zygote(function, events) if self.config.start == "zygote" else None
        self._launcher: RuntimeLauncher = self.zygote or ColdStartLauncher(function)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Initialise the zygote or the provisioned environments (all, or fail), then evict.

        The zygote's init is SnapStart's snapshot-time init: limited as a provisioned init is
        (130 s or the function timeout if higher), once per deployment, never on a request's path.
        """
        try:
            await self._launcher.start(self.limits.provisioned_init_timeout_s)
        except LaunchFailed as failed:
            raise InitAheadFailed(
                f"the zygote failed to initialise: {failed.failure.error_type}: "
                f"{failed.failure.message}"
            ) from None
        provisioned = [
            self._new_environment(provisioned=True)
            for _ in range(self.config.provisioned_concurrency)
        ]
        failures = await asyncio.gather(*(self._initialise(env) for env in provisioned))
        for env, failure in zip(provisioned, failures, strict=True):
            if failure is not None:
                tail = env.runtime.process.log_tail() if env.runtime and env.runtime.process else ""
                raise InitAheadFailed(
                    f"provisioned environment {env.environment_id} failed to initialise: "
                    f"{failure.error_type}: {failure.message}\n{tail}"
                )
        self._evictor = asyncio.create_task(self._evict_idle_forever())

    async def close(self) -> None:
        """Stop every environment and wait for their processes to be gone."""
        self._closed = True
        if self._evictor is not None:
            self._evictor.cancel()
        for env in self._fleet:
            if env.invocation is not None:
                env.invocation.finish(
                    error_result("Runtime.Stopped", "the platform is shutting down")
                )
            self._retire(env)
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=15)
            for task in pending:
                task.cancel()
        await self._launcher.close()

    def environments(self) -> list[EnvironmentStatus]:
        return self._fleet.statuses()

    # -- invoke ----------------------------------------------------------------------------

    def invoke(self, payload: bytes, gateway_request_id: str, trace_root: str) -> Invocation:
        """Assign an invoke to an environment (starting one if allowed); raises ``Throttled``."""
        invocation = Invocation(
            payload,
            gateway_request_id,
            asyncio.get_running_loop().create_future(),
            trace_id=runtime_trace_id(trace_root),
        )
        env = self._fleet.warm() or self._scale_out_for(invocation)
        env.assign(invocation)
        return invocation

    def _scale_out_for(self, invocation: Invocation) -> ExecutionEnvironment:
        if self._closed:
            reason = "shutting_down"
        elif len(self._fleet) >= self.limits.concurrency_limit:
            reason = "concurrency_limit"
        elif not self._scale_out.try_acquire(time.monotonic()):
            reason = "scale_out_rate"
        else:
            env = self._new_environment(provisioned=False)
            invocation.cold = True
            self._spawn(self._initialise(env))
            return env
        self.events.record(
            "throttle",
            detail={
                "reason": reason,
                # AWS would not have throttled here: the limit was lowered to fit this host.
                "host_limited": reason == "concurrency_limit"
                and "concurrency_limit" in self.limits.host_limited,
                "concurrency_limit": self.limits.concurrency_limit,
                "environments": len(self._fleet),
                **request_ids(invocation),
            },
        )
        raise Throttled(reason)

    def _new_environment(self, *, provisioned: bool) -> ExecutionEnvironment:
        restored = self.zygote is not None and not provisioned
        return self._fleet.create(provisioned=provisioned, restored=restored)

    # -- init ------------------------------------------------------------------------------

    async def _initialise(self, env: ExecutionEnvironment) -> InitFailure | None:
        """Init within a slot; an on-demand failure is retried once inside its invoke."""
        queued = time.monotonic()
        async with self._init_slots:
            env.init_wait_ms = (time.monotonic() - queued) * 1000.0
            invocation = env.invocation
            if invocation is not None and invocation.started_at is not None:
                failure = await self._init_within_invoke(env, invocation)  # a restarted runtime
            else:
                failure = await self._init_attempt(env, self._init_limit_s(env))
                if failure is not None and invocation is not None and not self._gone(env):
                    failure = await self._init_within_invoke(env, invocation)
        if failure is not None:
            self._init_failed(env, failure)
        return failure

    def _init_limit_s(self, env: ExecutionEnvironment) -> float:
        if env.provisioned:
            return self.limits.provisioned_init_timeout_s
        return self.config.restore_timeout_s if env.restored else self.config.init_timeout_s

    async def _init_within_invoke(
        self, env: ExecutionEnvironment, invocation: Invocation
    ) -> InitFailure | None:
        """Lambda's suppressed init: on the invoke's clock, limited by the function timeout."""
        if env.runtime is not None:
            self._spawn(env.runtime.stop(grace_s=0))
        invocation.start_clock(time.monotonic(), self.config.function_timeout_s)
        return await self._init_attempt(env, (invocation.deadline or 0.0) - time.monotonic())

    async def _init_attempt(self, env: ExecutionEnvironment, limit_s: float) -> InitFailure | None:
        """Start a runtime and wait, at most ``limit_s``, for its first ``next``."""
        env.init_attempts += 1
        runtime = Runtime(
            env,
            env.init_attempts,
            function=self.function,
            launcher=self._launcher,
            callbacks=self,
            on_exit=self._runtime_exited,
        )
        env.runtime = runtime
        try:
            await runtime.start()
        except LaunchFailed as failed:  # a zygote that refused to fork, or is gone
            failure = failed.failure
            if not self._gone(env):
                self._record_init_failure(env, runtime.attempt, failure, False, limit_s)
            return failure
        except Exception as exc:  # Popen, cgroup or port errors: the init failed, say why
            log.exception("runtime of %s failed to start", env.environment_id)
            return InitFailure("Runtime.StartError", f"{type(exc).__name__}: {exc}")
        if runtime.pid is not None:
            self.sampler.watch(env.environment_id, runtime.pid)
        self.events.record(
            "init_start",
            env.environment_id,
            detail={
                "attempt": runtime.attempt,
                "init_type": env.init_type,
                "init_wait_ms": round(env.init_wait_ms, 3),
                "pid": runtime.pid,
                **request_ids(env.invocation),
            },
        )
        # Inside the invoke, running out of time is the function's timeout, not the init limit's.
        within_invoke = env.invocation is not None and env.invocation.started_at is not None
        try:
            failure = await asyncio.wait_for(asyncio.shield(runtime.initialised), max(0.0, limit_s))
        except TimeoutError:
            failure = self._init_timeout(env, within_invoke, limit_s)
        if failure is not None and not self._gone(env):
            self._record_init_failure(env, runtime.attempt, failure, within_invoke, limit_s)
        return failure

    def _init_timeout(
        self, env: ExecutionEnvironment, within_invoke: bool, limit_s: float
    ) -> InitFailure:
        if within_invoke:
            return InitFailure("Sandbox.Timedout", self._timeout_message(), timed_out=True)
        if env.restored:  # AWS: the runtime load and after-restore hooks get 10 s
            message = f"Restore phase timed out after {limit_s:.2f} seconds"
            return InitFailure("SnapStartTimeoutException", message, timed_out=True)
        message = f"Init phase timed out after {limit_s:.2f} seconds"
        return InitFailure("Sandbox.Timedout", message, timed_out=True)

    def _record_init_failure(
        self,
        env: ExecutionEnvironment,
        attempt: int,
        failure: InitFailure,
        within_invoke: bool,
        limit_s: float,
    ) -> None:
        common = {"phase": "init", "attempt": attempt, **request_ids(env.invocation)}
        if failure.timed_out:
            scope = "function" if within_invoke else "init"
            detail = {"scope": scope, "limit_s": round(limit_s, 3), **common}
            self.events.record("timeout", env.environment_id, detail=detail)
        else:
            detail = {"error_type": failure.error_type, "message": failure.message, **common}
            self.events.record("crash", env.environment_id, detail=detail)

    def _init_failed(self, env: ExecutionEnvironment, failure: InitFailure) -> None:
        if env.state is EnvironmentState.STOPPED:  # stopped while initialising: nothing to tell
            if env.invocation is not None:
                env.invocation.finish(error_result(failure.error_type, failure.message))
            return
        if env.invocation is not None:
            status: ReportStatus = "timeout" if failure.timed_out else "error"
            self._finish(
                env, env.invocation, error_result(failure.error_type, failure.message), status
            )
        # Not replaced even if provisioned: a failing init would fail again, in a loop.
        self._retire(env, grace_s=0, replace=False)

    def _gone(self, env: ExecutionEnvironment) -> bool:
        return self._closed or env.state is EnvironmentState.STOPPED

    # -- Runtime API callbacks ---------------------------------------------------------------

    async def next_invocation(self, runtime: Runtime) -> Invocation:
        env = runtime.environment
        if runtime is not env.runtime or self._gone(env):
            raise InvalidStateTransition("this runtime has been replaced or stopped")
        if not runtime.initialised.done():
            self._init_succeeded(env, runtime)
        elif runtime.initialised.result() is not None:
            raise InvalidStateTransition("next after a failed init")
        invocation = await env.next_invocation()
        now = time.monotonic()
        invocation.start_clock(now, self.config.function_timeout_s)
        invocation.timer = asyncio.get_running_loop().call_later(
            max(0.0, (invocation.deadline or now) - now),
            self._function_timed_out,
            env,
            invocation,
        )
        return invocation

    def invocation_response(self, runtime: Runtime, request_id: str, body: bytes) -> None:
        env, invocation = self._running(runtime, request_id)
        self._finish(env, invocation, InvocationResult("success", body), "success")
        env.release(time.monotonic())

    def invocation_error(
        self, runtime: Runtime, request_id: str, error_type: str, body: bytes
    ) -> None:
        env, invocation = self._running(runtime, request_id)
        result = InvocationResult("function_error", body, error_type)
        self._finish(env, invocation, result, "error")
        env.release(time.monotonic())

    def init_error(self, runtime: Runtime, error_type: str, body: bytes) -> None:
        if runtime.initialised.done():
            raise InvalidStateTransition("init/error after the init phase")
        runtime.fail_init(InitFailure(error_type, error_message(body)))

    def restore_next(self, runtime: Runtime) -> None:
        """A fork's runtime is loaded; its after-restore hooks run next, then its first ``next``."""
        if not runtime.environment.restored or runtime.initialised.done():
            raise InvalidStateTransition("restore/next outside a restore")
        runtime.restore_next_at = time.monotonic()

    def _running(
        self, runtime: Runtime, request_id: str
    ) -> tuple[ExecutionEnvironment, Invocation]:
        env = runtime.environment
        invocation = env.invocation
        if (
            runtime is not env.runtime
            or invocation is None
            or invocation.request_id != request_id
            or invocation.done
        ):
            raise InvalidRequestId(request_id)
        return env, invocation

    def _init_succeeded(self, env: ExecutionEnvironment, runtime: Runtime) -> None:
        now = time.monotonic()
        init_ms = (now - runtime.started_at) * 1000.0
        runtime.initialised.set_result(None)
        invocation = env.invocation
        restore = (
            RestoreTiming.measured(
                runtime.started_at, runtime.forked_at, runtime.restore_next_at, now
            )
            if env.restored
            else None
        )
        if invocation is not None and invocation.started_at is None:
            # An init inside the invoke is part of its Duration instead.
            if restore is None:
                invocation.init_ms = init_ms
            else:
                invocation.restore = restore
        env.state = EnvironmentState.BUSY if invocation is not None else EnvironmentState.IDLE
        env.last_used = now
        self.events.record(
            "cold_start",
            env.environment_id,
            init_ms=init_ms,  # a restore's: its Restore Duration
            detail={
                "init_wait_ms": round(env.init_wait_ms, 3),
                # AWS inits every environment at once; a wait for a slot is this host's rationing.
                "init_slot_host_limited": "max_concurrent_inits" in self.limits.host_limited,
                "init_type": env.init_type,
                "attempt": runtime.attempt,
                **(restore.detail() if restore is not None else {}),
                **request_ids(invocation),
            },
        )

    # -- failures ----------------------------------------------------------------------------

    def _function_timed_out(self, env: ExecutionEnvironment, invocation: Invocation) -> None:
        if invocation.done or env.invocation is not invocation:
            return
        message = self._timeout_message()
        self.events.record(
            "timeout",
            env.environment_id,
            duration_ms=invocation.elapsed_ms(time.monotonic()),
            detail={
                "scope": "function",
                "phase": "invoke",
                "message": message,
                **request_ids(invocation),
            },
        )
        self._finish(env, invocation, error_result("Sandbox.Timedout", message), "timeout")
        self._retire(env, grace_s=0)

    def _runtime_exited(self, runtime: Runtime, returncode: int | None) -> None:
        env = runtime.environment
        if runtime.stopping or runtime is not env.runtime or self._gone(env):
            return
        message = f"Runtime exited with error: exit status {returncode}"
        if not runtime.initialised.done() or runtime.initialised.result() is not None:
            runtime.fail_init(InitFailure("Runtime.ExitError", message))
            return  # the init task decides what happens next
        invocation = env.invocation
        delivered = invocation is not None and invocation.started_at is not None
        self.events.record(
            "crash",
            env.environment_id,
            detail={
                "phase": "invoke" if delivered else "idle",
                "exit_code": returncode,
                "error_type": "Runtime.ExitError",
                **request_ids(invocation),
            },
        )
        if invocation is None:
            self._retire(env, grace_s=0)
        elif delivered:
            self._finish(env, invocation, error_result("Runtime.ExitError", message), "error")
            self._retire(env, grace_s=0)
        else:
            # It died after its last response, before taking this invoke: Lambda restarts the
            # runtime in the same environment, inside this invoke, which then waits on an init.
            invocation.cold = True
            invocation.start_clock(time.monotonic(), self.config.function_timeout_s)
            env.state = EnvironmentState.STARTING
            self._spawn(self._initialise(env))

    def _timeout_message(self) -> str:
        return f"Task timed out after {self.config.function_timeout_s:.2f} seconds"

    # -- completion, retirement, eviction --------------------------------------------------

    def _finish(
        self,
        env: ExecutionEnvironment,
        invocation: Invocation,
        result: InvocationResult,
        status: ReportStatus,
    ) -> None:
        """Settle the invoke and write its REPORT record (once, whichever path gets there first)."""
        duration_ms = invocation.elapsed_ms(time.monotonic())
        if invocation.finish(result):
            record_report(
                self.events,
                env,
                invocation,
                memory_size_mb=self.function.memory_mb,
                duration_ms=duration_ms,
                status=status,
                error_type=result.error_type,
            )

    def _retire(
        self, env: ExecutionEnvironment, grace_s: float = 2.0, *, replace: bool = True
    ) -> None:
        """Take ``env`` out of the pool and stop its runtime; a lost provisioned one is replaced."""
        if env.state is EnvironmentState.STOPPED:
            return
        env.stop()
        self._fleet.remove(env)
        self.sampler.forget(env.environment_id)
        runtime = env.runtime
        if runtime is not None:
            runtime.fail_init(InitFailure("Runtime.Stopped", "the environment was stopped"))
            self._spawn(runtime.stop(grace_s))
        if env.provisioned and replace and not self._closed:
            self._spawn(self._initialise(self._new_environment(provisioned=True)))

    async def _evict_idle_forever(self) -> None:
        interval = min(1.0, self.config.idle_eviction_s / 4)
        while True:
            await asyncio.sleep(interval)
            self.evict_idle(time.monotonic())

    def evict_idle(self, now: float) -> None:
        """Scale towards zero: on-demand environments idle for the idle time go."""
        for env in self._fleet.idle_for(now, self.config.idle_eviction_s):
            idle_s = round(now - env.last_used, 3)
            self.events.record("evict", env.environment_id, detail={"idle_s": idle_s})
            self._retire(env)

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        with contextlib.suppress(asyncio.CancelledError):
            if (error := task.exception()) is not None:
                log.error("local-lambda pool task failed", exc_info=error)
