"""Process supervision shared by the local platforms and the load generator.

Every child runs in its own session (process group), so a stop reaches the grandchildren too, and
carries ``NLP_BENCH_OWNER=<deployment id>`` in its environment, so orphans can be found by
scanning processes even after they were re-parented to init (psutil's tree no longer sees them).
Output goes to a log file per process, never to a pipe nobody drains.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

OWNER_ENV = "NLP_BENCH_OWNER"


def free_port(host: str = "127.0.0.1") -> int:
    """A port the OS says is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def python_command(*args: str) -> list[str]:
    """Run something with the interpreter (and virtual environment) this process uses."""
    return [sys.executable, *args]


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
        inherit_env: bool = True,
    ) -> ChildProcess:
        """Start ``command`` with ``env`` and the owner tag (over the parent's environment).

        With ``inherit_env=False`` the child gets ``env`` and the owner tag only. Output goes
        to ``<log_dir>/<name>.log``; with ``log_dir=None`` it goes to this process's own stdout
        and stderr (a command a person watches).
        """
        base = os.environ if inherit_env else {}
        child_env = {**base, **(env or {}), OWNER_ENV: owner}
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
