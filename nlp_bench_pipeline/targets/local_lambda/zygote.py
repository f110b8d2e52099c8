"""The zygote start mode's pool side: one pre-initialised process, forked for each environment.

``start: zygote`` (``LocalLambdaConfig``) is the local analogue of Lambda SnapStart
(docs/adr/0043): at deploy the zygote runs the function's init once (imports, model load,
before-snapshot hooks) and proves it can be forked (``zygote_runtime.fork_hazards``); each new
execution environment is then a fork of it, which runs awslambdaric's SnapStart path against its
own Runtime API. The zygote's own code is ``zygote_runtime.py``; this module starts it, sends it
fork orders and hears back the forks' pids and exit statuses, over an abstract Unix socket that
only the zygote's pid may use (checked with ``SO_PEERCRED``).

Supervision: the zygote is a ``ChildProcess`` (own session, owner tag, SIGKILL when the
platform's thread goes); each fork leads its own session, carries the owner tag in its initial
environment (``/proc/<pid>/environ`` shows the zygote's, which has it), and gets SIGKILL when the
zygote goes. A zygote that dies takes its environments with it (recorded as a ``crash``); later
cold starts then fail (``Runtime.ZygoteExited``) until the function is deployed again: a zygote
that died once is not silently re-initialised.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import struct
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.core.processes import (
    MODEL_FILES,
    ChildProcess,
    child_environment,
    python_command,
)
from nlp_bench_pipeline.targets.events import EventLog
from nlp_bench_pipeline.targets.local_lambda import zygote_runtime
from nlp_bench_pipeline.targets.local_lambda.environment import (
    ExecutionEnvironment,
    InitFailure,
    LambdaFunction,
    LaunchedRuntime,
    LaunchFailed,
)

log = logging.getLogger(__name__)
ZYGOTE_ID = "zygote"  # its environment id, log name and the events' environment_id
FORK_ANSWER_TIMEOUT_S = 10.0  # a fork is answered in milliseconds; this is for a wedged zygote
STOP_GRACE_S = 5.0


@dataclass
class ForkedProcess:
    """One environment forked from the zygote: it leads its own session and has its own log."""

    name: str
    pid: int
    log_path: Path

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    def log_tail(self, lines: int = 20) -> str:
        try:
            with self.log_path.open(errors="replace") as text:
                return "".join(collections.deque(text, maxlen=lines)).rstrip("\n")
        except OSError:
            return ""


@dataclass
class ZygoteStatus:
    """What the deployment's details say of the zygote (the analogue of SnapStart's INIT_REPORT)."""

    pid: int | None = None
    init_ms: float | None = None
    native_threads: int | None = None  # at fork time: OpenBLAS's and torch's pools re-make theirs
    forks: int = 0
    exit_code: int | None = None
    alive: bool = False


class Zygote:
    """Starts the zygote, forks environments from it (``launch``) and stops it (``close``)."""

    def __init__(self, function: LambdaFunction, events: EventLog) -> None:
        self.function = function
        self.events = events
        self.status = ZygoteStatus()
        self._control = f"@nlp-bench-zygote-{function.owner}-{secrets.token_hex(8)}"
        self._process: ChildProcess | None = None
        self._server: asyncio.AbstractServer | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending: dict[str, asyncio.Future[int]] = {}
        self._exits: dict[int, asyncio.Future[int | None]] = {}
        self._closing = False

    def details(self) -> dict[str, Any]:
        """For the deployment's details: the zygote's init, once, and what became of it."""
        return {**asdict(self.status), "log": str(self.function.log_dir / f"{ZYGOTE_ID}.log")}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, limit_s: float) -> None:
        """Start the zygote and wait, at most ``limit_s``, until it is initialised and fork-safe.

        Raises ``LaunchFailed`` with Lambda's error type (or ``Zygote.UnsafeFork``) otherwise.
        """
        self._server = await asyncio.start_unix_server(
            self._connected, path=self._control.replace("@", "\0", 1)
        )
        started = time.monotonic()
        self._process = ChildProcess.start(
            ZYGOTE_ID,
            python_command("-P", str(Path(zygote_runtime.__file__)), self.function.handler),
            owner=self.function.owner,
            env={
                **self.function.function_variables("snap-start"),
                "NLP_BENCH_ENVIRONMENT_ID": ZYGOTE_ID,
                zygote_runtime.CONTROL_ENV: self._control,
            },
            log_dir=self.function.log_dir,
            cwd=self.function.task_root,
            inherit_env=MODEL_FILES,
            die_with_parent=signal.SIGKILL,
        )
        self.status.pid, self.status.alive = self._process.pid, True
        self._watch(self._process)
        try:
            await asyncio.wait_for(asyncio.shield(self._ready), limit_s)
        except TimeoutError:
            raise LaunchFailed(
                InitFailure(
                    "Sandbox.Timedout",
                    f"the zygote's init timed out after {limit_s:.2f} seconds",
                    timed_out=True,
                )
            ) from None
        self.status.init_ms = (time.monotonic() - started) * 1000.0

    async def launch(self, environment: ExecutionEnvironment, runtime_api: str) -> LaunchedRuntime:
        """Fork ``environment`` from the zygote, with its own variables and log."""
        if not self.status.alive or self._writer is None:
            raise LaunchFailed(self._gone())
        env_id = environment.environment_id
        log_path = self.function.log_dir / f"{env_id}.log"
        variables = child_environment(
            os.environ,
            MODEL_FILES,
            self.function.environment_variables(environment, runtime_api),
            self.function.owner,
        )
        answer: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[env_id] = answer
        order = {"id": env_id, "env": variables, "log_path": str(log_path)}
        self._writer.write(json.dumps(order).encode() + b"\n")
        try:
            pid = await asyncio.wait_for(answer, FORK_ANSWER_TIMEOUT_S)
        except TimeoutError:
            raise LaunchFailed(
                InitFailure("Sandbox.Timedout", "the zygote did not answer a fork order")
            ) from None
        finally:
            self._pending.pop(env_id, None)
        self.status.forks += 1
        exited = self._exits.setdefault(pid, asyncio.get_running_loop().create_future())
        return LaunchedRuntime(ForkedProcess(env_id, pid, log_path), exited, time.monotonic())

    async def close(self) -> None:
        """Hang up (the zygote exits, its forks by their death signal), then make sure of it."""
        self._closing = True
        if self._writer is not None:
            self._writer.close()
        process = self._process
        if process is not None and process.alive():
            deadline = time.monotonic() + STOP_GRACE_S
            while process.alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            if process.alive():
                process.kill()
        if self._server is not None:
            self._server.close()

    # -- the control channel -------------------------------------------------------------------

    async def _connected(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        credentials = writer.get_extra_info("socket").getsockopt(
            socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")
        )
        peer_pid = struct.unpack("3i", credentials)[0]
        if self._process is None or peer_pid != self._process.pid or self._writer is not None:
            log.warning("zygote control: refused a connection from pid %s", peer_pid)
            writer.close()
            return
        self._writer = writer
        while line := await reader.readline():
            self._dispatch(json.loads(line))

    def _dispatch(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if event == "ready":
            self.status.native_threads = message["native_threads"]
            _settle(self._ready, None)
        elif event == "init_error":
            failure = InitFailure(message["error_type"], message["message"])
            _fail(self._ready, LaunchFailed(failure))
        elif event == "forked":
            self._exits.setdefault(message["pid"], asyncio.get_running_loop().create_future())
            if (answer := self._pending.get(message["id"])) is not None:
                _settle(answer, message["pid"])
        elif event == "refused":
            if (answer := self._pending.get(message["id"])) is not None:
                failure = InitFailure(message["error_type"], message["message"])
                _fail(answer, LaunchFailed(failure))
        elif event == "exited":
            exited = self._exits.pop(message["pid"], None)
            if exited is not None:
                _settle(exited, message["returncode"])

    # -- the zygote's own exit -----------------------------------------------------------------

    def _watch(self, process: ChildProcess) -> None:
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(process.pid)

        def reap() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._zygote_exited(process.popen.wait())

        loop.add_reader(pidfd, reap)

    def _zygote_exited(self, returncode: int) -> None:
        self.status.alive, self.status.exit_code = False, returncode
        gone = LaunchFailed(self._gone())
        _fail(self._ready, gone)
        for answer in self._pending.values():
            _fail(answer, gone)
        # Its forks die with it (their death signal); their own exits can no longer be reaped here.
        for exited in self._exits.values():
            _settle(exited, None)
        self._exits.clear()
        if not self._closing and self._ready.done() and self._ready.exception() is None:
            self.events.record(
                "crash",
                ZYGOTE_ID,
                detail={"phase": "zygote", "exit_code": returncode, "pid": self.status.pid},
            )

    def _gone(self) -> InitFailure:
        tail = self._process.log_tail(10) if self._process is not None else ""
        return InitFailure(
            "Runtime.ZygoteExited",
            f"the zygote exited (status {self.status.exit_code}); deploy again to re-initialise it"
            + (f"\n{tail}" if tail else ""),
        )


def _settle(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)
