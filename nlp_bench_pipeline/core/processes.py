"""Process supervision shared by the local platforms and the load generator.

Every child runs in its own session (process group), so a stop reaches the grandchildren too, and
carries ``NLP_BENCH_OWNER=<deployment id>`` in its environment, so orphans can be found by
scanning processes even after they were re-parented to init (psutil's tree no longer sees them).
Output goes to a log file per process, never to a pipe nobody drains.

A child gets only what it needs from its parent's environment (issue 17): an allowlist
(:class:`PassedEnvironment`) names the variables it may take, so the operator's AWS keys or API
tokens never reach a function or a pod, nor the load generator unless it signs requests to AWS
(:data:`AWS_CREDENTIAL_CHAIN`); what the child must see beyond that its starter passes as
``env``. A child can also be told to die with its parent
(``die_with_parent``), so a killed pipeline leaves no runtime, pod or Locust behind; a process
its starter forked without one asks for it itself (:func:`request_death_signal`), and a process
whose starter cannot set one up at all watches its own parent (:func:`signal_when_parent_exits`).
:class:`ProcessIdentity` names a process across time (pid, host, start time), so a record of an
owner can later tell a dead owner from a live one even when the pid has been reused.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import importlib.util
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import psutil

OWNER_ENV = "NLP_BENCH_OWNER"
# prctl(2): the signal the kernel sends a process when the thread that started it exits.
PR_SET_PDEATHSIG = 1


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def python_command(*args: str) -> list[str]:
    """Run something with the interpreter (and virtual environment) this process uses."""
    return [sys.executable, *args]


@dataclass(frozen=True)
class PassedEnvironment:
    """The parent's variables a child may take: exact names and name prefixes (an allowlist)."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    def plus(self, *names: str, prefixes: Sequence[str] = ()) -> PassedEnvironment:
        return PassedEnvironment(self.names | frozenset(names), (*self.prefixes, *prefixes))

    def __or__(self, other: PassedEnvironment) -> PassedEnvironment:
        return self.plus(*other.names, prefixes=other.prefixes)

    def admits(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)

    def take(self, parent: Mapping[str, str]) -> dict[str, str]:
        """The admitted part of ``parent``."""
        return {name: value for name, value in parent.items() if self.admits(name)}


# What any process needs to start, find its files and speak the user's locale; nothing that
# authenticates anyone. The virtual environment needs no variable: the interpreter finds it.
PROCESS_ESSENTIALS = PassedEnvironment(
    frozenset({"PATH", "HOME", "LANG", "LANGUAGE", "TMPDIR"}), ("LC_",)
)
# Where a model's files already are, so a function or pod neither regenerates the synthetic
# weights nor downloads hub weights again (the hub's token, HF_TOKEN, is not among them).
MODEL_FILES = PROCESS_ESSENTIALS.plus(
    "NLP_BENCH_MODEL_CACHE", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE"
)
# What boto3's default credential chain reads from the environment, for the one kind of child
# that acts as the operator on AWS: the load generator signing requests to an IAM-authorised API
# or invoking a function directly. Static keys, a profile and its files, web identity (OIDC,
# IRSA), container credentials, the region, and where the endpoints' certificates are.
AWS_CREDENTIAL_CHAIN = PassedEnvironment(
    frozenset(
        {
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "AWS_PROFILE",
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_ROLE_SESSION_NAME",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            "AWS_REGION",
            "AWS_DEFAULT_REGION",
            "AWS_STS_REGIONAL_ENDPOINTS",
            "AWS_CA_BUNDLE",
        }
    )
)


def child_environment(
    parent: Mapping[str, str],
    inherit: bool | PassedEnvironment,
    env: Mapping[str, str] | None,
    owner: str,
) -> dict[str, str]:
    """A child's whole environment: what ``inherit`` takes from ``parent``, ``env``, the tag.

    ``inherit`` is an allowlist, or ``True`` for the parent's whole environment (only the
    orchestrator's own tools, such as ``dg dev``, which need the operator's credentials), or
    ``False`` for nothing of it.
    """
    if inherit is True:
        base = dict(parent)
    elif inherit is False:
        base = {}
    else:
        base = inherit.take(parent)
    return {**base, **(env or {}), OWNER_ENV: owner}


def scrubbed(command: Sequence[str], passed: PassedEnvironment) -> list[str]:
    """``command`` behind a launcher that runs it with only ``passed`` of its environment.

    For a child whose starter hands it the whole environment whatever it is asked (Dagster's
    ``PipesSubprocessClient`` merges ``os.environ`` into every child's): the launcher replaces
    itself with ``command`` (``execve``, the same pid), so even ``/proc/<pid>/environ`` of the
    child holds nothing else.
    """
    flags = [f"--pass={name}" for name in sorted(passed.names)]
    flags += [f"--pass-prefix={prefix}" for prefix in passed.prefixes]
    return [sys.executable, "-m", __name__, *flags, "--", *command]


def _exec_scrubbed(argv: Sequence[str]) -> None:
    """The launcher of :func:`scrubbed`: ``--pass NAME`` / ``--pass-prefix P`` ... ``--`` cmd."""
    separator = list(argv).index("--")
    names, prefixes = [], []
    for flag in argv[:separator]:
        option, _, value = flag.partition("=")
        (names if option == "--pass" else prefixes).append(value)
    command = list(argv[separator + 1 :])
    passed = PassedEnvironment(frozenset(names), tuple(prefixes))
    os.execvpe(command[0], command, passed.take(os.environ))  # noqa: S606 - an argv, no shell


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _set_death_signal(libc: ctypes.CDLL, sig: signal.Signals, parent_pid: int) -> None:
    libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    if os.getppid() != parent_pid:  # the parent went before the request: as good as gone
        os.kill(os.getpid(), sig)


def request_death_signal(sig: signal.Signals, parent_pid: int) -> None:
    """From now on this process gets ``sig`` when the thread that forked it exits (SIGKILL too).

    For a process its starter forked without asking for a death signal (Locust's workers,
    which ``locust --processes`` forks from its master's main thread): called first thing in the
    child with the pid of the parent it expects, it catches a parent already gone as well.
    """
    _set_death_signal(_libc(), sig, parent_pid)


def _death_signal_hook(sig: signal.Signals, parent_pid: int) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when its starter goes, even by SIGKILL.

    The kernel sends it when the *thread* that forked the child exits, so start such children
    from a thread that lives as long as they should (the main thread, or a platform's event-loop
    thread). A parent that died before the hook ran is caught by comparing the parent pid.
    """
    libc = _libc()  # loaded before the fork, so the child only calls it

    def hook() -> None:
        _set_death_signal(libc, sig, parent_pid)

    return hook


@contextlib.contextmanager
def signal_when_parent_exits(sig: signal.Signals = signal.SIGTERM) -> Iterator[None]:
    """While inside, send ``sig`` to this process as soon as its parent process exits.

    For a process whose starter cannot ask for a death signal (the load generator under Dagster
    Pipes): a thread waits on a pidfd of the parent, so it wakes exactly when the parent process
    exits — not when one of its threads does, and never while the parent lives. Leaving the
    block stops the watch.
    """
    parent = os.getppid()
    pidfd = os.pidfd_open(parent)
    stop_read, stop_write = os.pipe()

    def watch() -> None:
        readable, _, _ = select.select([pidfd, stop_read], [], [])
        if pidfd in readable:
            os.kill(os.getpid(), sig)

    watcher = threading.Thread(target=watch, name="parent-watch", daemon=True)
    watcher.start()
    try:
        if os.getppid() != parent:  # gone before the pidfd was opened (its pid may be reused)
            os.kill(os.getpid(), sig)
        yield
    finally:
        os.write(stop_write, b"x")
        watcher.join()
        for fd in (pidfd, stop_read, stop_write):
            os.close(fd)


OwnerState = Literal["alive", "gone", "elsewhere"]
# The kernel counts a process's start in clock ticks (10 ms): the same process always reads the
# same start time, a process that reused its pid reads a later one.
START_TIME_TOLERANCE_S = 0.05


@dataclass(frozen=True)
class ProcessIdentity:
    """One process across time: its pid, its host, and when it started (pids are reused)."""

    pid: int
    host: str
    started_at: float  # epoch seconds, as psutil reports the process's creation

    @classmethod
    def current(cls) -> ProcessIdentity:
        return cls.of(os.getpid())

    @classmethod
    def of(cls, pid: int) -> ProcessIdentity:
        """The live process ``pid`` on this host (``psutil.NoSuchProcess`` if there is none)."""
        return cls(pid, socket.gethostname(), psutil.Process(pid).create_time())

    def state(self) -> OwnerState:
        """``alive`` (this very process runs), ``gone`` (died, or its pid now names another
        process) or ``elsewhere`` (another host: this one cannot tell)."""
        if self.host != socket.gethostname():
            return "elsewhere"
        try:
            process = psutil.Process(self.pid)
            started = process.create_time()
            zombie = process.status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return "gone"
        except psutil.Error:  # exists, but not ours to inspect: assume it lives
            return "alive"
        same = abs(started - self.started_at) <= START_TIME_TOLERANCE_S
        return "alive" if same and not zombie else "gone"


@dataclass
class ChildProcess:
    """A supervised child: started in its own session, stopped with its whole group."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path | None
    started_at: float = field(default_factory=time.monotonic)

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str],
        *,
        owner: str,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None,
        cwd: Path | None = None,
        inherit_env: bool | PassedEnvironment = True,
        die_with_parent: signal.Signals | None = None,
    ) -> ChildProcess:
        """Start ``command`` with ``env`` over what it inherits (see :func:`child_environment`).

        ``inherit_env`` is the allowlist of the parent's variables the child takes (``True``:
        all of them, for the orchestrator's own tools; ``False``: none). With
        ``die_with_parent`` the child gets that signal when the calling thread's process goes
        (see :func:`_death_signal_hook`). Output goes to ``<log_dir>/<name>.log``; with
        ``log_dir=None`` it goes to this process's own stdout and stderr (a command a person
        watches).
        """
        child_env = child_environment(os.environ, inherit_env, env, owner)
        preexec = (
            None if die_with_parent is None else _death_signal_hook(die_with_parent, os.getpid())
        )
        log_path = None
        with contextlib.ExitStack() as stack:
            output: dict[str, object] = {}
            if log_dir is not None:
                log_dir.mkdir(parents=True, exist_ok=True)
                log_path = log_dir / f"{name}.log"
                log = stack.enter_context(log_path.open("ab"))
                output = {"stdout": log, "stderr": subprocess.STDOUT}
            popen = subprocess.Popen(
                list(command),
                env=child_env,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                start_new_session=True,
                preexec_fn=preexec,  # prctl and getppid only: takes no lock
                **output,  # type: ignore[arg-type]
            )
        return cls(name=name, popen=popen, log_path=log_path)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        return self.popen.poll()

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole group at once (a crash, or the end of a grace period)."""
        self.signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=5)

    def stop(self, grace_s: float = 5.0) -> int | None:
        """SIGTERM the group, wait up to ``grace_s``, then SIGKILL what is left."""
        if self.alive():
            self.signal_group(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=grace_s)
        self.kill()
        return self.popen.returncode

    def log_tail(self, lines: int = 20) -> str:
        """The last lines the process wrote, for error messages."""
        if self.log_path is None:
            return ""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def owned_processes(owner: str) -> list[psutil.Process]:
    """Every live process whose environment carries ``NLP_BENCH_OWNER=owner``."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if proc.environ().get(OWNER_ENV) == owner and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def kill_owned(owner: str, timeout_s: float = 5.0) -> int:
    """SIGKILL every process tagged with ``owner``; returns how many there were."""
    procs = owned_processes(owner)
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(procs, timeout=timeout_s)
    return len(procs)


def code_root(import_path: str) -> Path:
    """The directory a child must start in (or have on its path) to import ``import_path``.

    ``import_path`` is an ASGI app or Lambda handler path (``pkg.module:attr`` or
    ``pkg.module.attr``); the answer is the folder holding its top-level package — the project
    for ``inference_service``, the repository for ``tests.fixtures`` — found from the code itself
    rather than from a setting, as ``LAMBDA_TASK_ROOT`` is where a function's code lives.
    """
    top = import_path.split(":", 1)[0].split(".", 1)[0]
    spec = importlib.util.find_spec(top)
    if spec is None:
        raise ModuleNotFoundError(f"cannot find package {top!r} of {import_path!r}")
    if spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations))).resolve().parent
    if spec.origin is None:
        raise ModuleNotFoundError(f"package {top!r} of {import_path!r} has no location")
    return Path(spec.origin).resolve().parent


if __name__ == "__main__":
    _exec_scrubbed(sys.argv[1:])
