"""The zygote's own side: one function process, initialised once, forked into each environment.

This file runs *inside the function's process*: the pool starts it by path, as
``python -P zygote_runtime.py <handler>``, so neither the emulator nor this folder's modules are
on its import path. It imports the standard library, the handler and, in each fork only,
awslambdaric. It is the local stand-in for a SnapStart snapshot (docs/adr/0043):

1. **Init.** Import the handler module (the model loads here, as in any init), then run the
   before-snapshot runtime hooks (``snapshot_restore_py``, awslambdaric's own runner), as Lambda
   does before it takes a snapshot.
2. **Guard.** The process must be safe to fork (:func:`fork_hazards`): no Python thread but the
   main one (its locks would stay locked in every fork), and no OpenMP thread team. libgomp's
   worker threads do not survive ``fork``, and a fork's first parallel region then waits for
   them forever: the environment would hang on its first inference. The OpenMP check is
   behavioural, not a guess from thread counts (OpenBLAS's and torch's own pools start threads
   at import and recreate them after a fork): a probe fork enters a parallel region in every
   libgomp loaded here and must return within ``PROBE_TIMEOUT_S``.
3. **Fork orders.** The pool sends one JSON line per new environment over the control socket;
   the zygote checks the guard again if anything started a thread since, forks, and reports the
   pid, and later the exit status (it is the forks' parent, so it reaps them). Each fork becomes
   an execution environment (:func:`_become_environment`) and runs awslambdaric's own entry
   point, which takes awslambdaric's SnapStart path (``restore/next``, the after-restore hooks)
   before its first ``next``.

awslambdaric is not imported here before a fork because its native client reads
``AWS_LAMBDA_RUNTIME_API`` once, in a static initialiser, when its library is loaded: loaded in the
zygote, every fork would talk to the zygote's address. Each fork loads it after it has its own.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

# The abstract Unix socket the pool listens on, written with ``@`` for the leading NUL byte.
CONTROL_ENV = "NLP_BENCH_ZYGOTE_CONTROL"
UNSAFE_FORK = "Zygote.UnsafeFork"
PROBE_TIMEOUT_S = 3.0  # a parallel region in a fresh fork takes milliseconds; a hung one never ends
PROBE_THREADS = 2  # a team of two is enough to need the worker threads
PR_SET_PDEATHSIG = 1  # prctl(2)


def main(argv: list[str]) -> NoReturn:
    """``zygote_runtime.py <handler>``: init, guard, then serve fork orders until the pool goes."""
    handler = argv[1]
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(os.environ[CONTROL_ENV].replace("@", "\0", 1))
    channel = _Channel(control)
    failure = _initialise(handler)
    if failure is None:
        hazards = fork_hazards()
        if hazards:
            failure = (UNSAFE_FORK, "; ".join(hazards))
    if failure is not None:
        channel.send({"event": "init_error", "error_type": failure[0], "message": failure[1]})
        _flush_output()
        os._exit(1)
    _serve(channel, handler)


def _initialise(handler: str) -> tuple[str, str] | None:
    """Import the handler, run the before-snapshot hooks; a failure as awslambdaric names it."""
    from awslambdaric import lambda_runtime_hooks_runner
    from awslambdaric.lambda_runtime_exception import FaultException

    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        return FaultException.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}"
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return FaultException.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {exc}"
    except SyntaxError as exc:
        return (
            FaultException.USER_CODE_SYNTAX_ERROR,
            f"Syntax error in module '{module_name}': {exc}",
        )
    except Exception as exc:  # the function's own init failed (a model that does not load)
        traceback.print_exc()
        return type(exc).__name__, str(exc)
    if not hasattr(module, function_name):
        return (
            FaultException.HANDLER_NOT_FOUND,
            f"Handler '{function_name}' missing on module '{module_name}'",
        )
    try:
        lambda_runtime_hooks_runner.run_before_snapshot()
    except Exception as exc:
        traceback.print_exc()
        return FaultException.BEFORE_SNAPSHOT_ERROR, f"{type(exc).__name__}: {exc}"
    return None


# -- the guard ----------------------------------------------------------------------------------


def fork_hazards(probe_timeout_s: float = PROBE_TIMEOUT_S) -> list[str]:
    """Why forking this process now would give a broken environment; empty when it is safe."""
    threads = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    if threads:  # forking with them running is itself the hazard: no probe
        return [
            f"Python threads running before fork ({', '.join(threads)}): a fork keeps none of "
            "them, and any lock they hold stays locked in it"
        ]
    if "runtime_client" in sys.modules:
        return [
            "awslambdaric's native client was loaded before fork: it keeps the Runtime API "
            "address it found then, so every fork would talk to the zygote's"
        ]
    return [
        f"an OpenMP parallel region was entered before fork ({os.path.basename(library)}): its "
        f"worker threads do not survive fork, so a forked environment hangs on its first "
        f"parallel region (a probe fork did not return from one within {probe_timeout_s:g} s; "
        "run no multi-threaded torch work, such as NLP_BENCH_WARMUP, before fork)"
        for library in openmp_libraries()
        if not parallel_region_returns_in_fork(library, probe_timeout_s)
    ]


def openmp_libraries() -> list[str]:
    """The GNU OpenMP runtimes loaded in this process (torch ships its own libgomp)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "libgomp" in line}
    return sorted(path for path in paths if path.startswith("/"))


def parallel_region_returns_in_fork(library: str, timeout_s: float) -> bool:
    """Fork a probe that runs an empty parallel region of ``PROBE_THREADS``; did it return?"""
    gomp = ctypes.CDLL(library)
    gomp.GOMP_parallel.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint]
    gomp.GOMP_parallel.restype = None
    body = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _: None)
    die_with_parent = _death_signal(os.getpid())  # resolved before the fork: the probe only calls
    _flush_output()
    pid = os.fork()
    if pid == 0:  # the probe: hangs here if the team's threads are gone
        die_with_parent()
        gomp.GOMP_parallel(ctypes.cast(body, ctypes.c_void_p), None, PROBE_THREADS, 0)
        os._exit(0)
    pidfd = os.pidfd_open(pid)
    try:
        finished, _, _ = select.select([pidfd], [], [], timeout_s)
    finally:
        os.close(pidfd)
    if not finished:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return bool(finished) and os.waitstatus_to_exitcode(status) == 0


def _native_threads() -> int:
    return len(os.listdir("/proc/self/task"))


# -- fork orders --------------------------------------------------------------------------------


class _Channel:
    """JSON lines over the control socket, read without blocking past one ``select``."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self) -> list[dict[str, Any]] | None:
        """The complete lines that arrived (once ``select`` said so); None when the pool hung up."""
        chunk = self.sock.recv(65536)
        if not chunk:
            return None
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line]


def _serve(channel: _Channel, handler: str) -> NoReturn:
    """Report ready, then fork on each order and report each fork's exit, until the pool goes."""
    wake_read, wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    signal.set_wakeup_fd(wake_write)
    private = (channel.sock.fileno(), wake_read, wake_write)
    threads = _native_threads()
    forks: set[int] = set()
    channel.send({"event": "ready", "native_threads": threads})
    while True:
        readable, _, _ = select.select([channel.sock, wake_read], [], [])
        if wake_read in readable:
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 4096)
            for pid, returncode in _reap(forks):
                channel.send({"event": "exited", "pid": pid, "returncode": returncode})
        if channel.sock in readable:
            orders = channel.receive()
            if orders is None:  # the pool is gone: so are we (the forks follow, by death signal)
                _flush_output()
                os._exit(0)
            for order in orders:
                if _native_threads() > threads and (hazards := fork_hazards()):
                    channel.send(
                        {
                            "event": "refused",
                            "id": order["id"],
                            "error_type": UNSAFE_FORK,
                            "message": "; ".join(hazards),
                        }
                    )
                    continue
                pid = _fork(order, handler, private)
                forks.add(pid)
                channel.send({"event": "forked", "id": order["id"], "pid": pid})


def _reap(forks: set[int]) -> list[tuple[int, int]]:
    """Exit statuses of the forks that ended (as ``Popen.returncode``: -N for signal N).

    Only the forks are waited for: a child the handler started in its init is its own to reap.
    """
    ended = []
    for pid in list(forks):
        with contextlib.suppress(ChildProcessError):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done == 0:
                continue
            ended.append((pid, os.waitstatus_to_exitcode(status)))
        forks.discard(pid)
    return ended


def _fork(order: dict[str, Any], handler: str, private: tuple[int, ...]) -> int:
    die_with_zygote = _death_signal(os.getpid())
    _flush_output()  # so nothing the zygote buffered is written again by the fork
    pid = os.fork()
    if pid == 0:
        _become_environment(order, handler, private, die_with_zygote)
    return pid


def _become_environment(
    order: dict[str, Any],
    handler: str,
    private: tuple[int, ...],
    die_with_zygote: Callable[[], None],
) -> NoReturn:
    """In the fork: an execution environment of its own, then awslambdaric's entry point.

    Its own session (the pool stops its whole group, and nothing of the zygote's), the death
    signal (a zygote that dies takes its forks along: no orphan), none of the zygote's control
    descriptors or signal handling, its own log on stdout and stderr, and the environment's
    variables in place of the zygote's. It never returns: ``os._exit``, so the zygote's exit
    handlers do not run a second time here.
    """
    code = 1
    try:
        os.setsid()
        die_with_zygote()
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in private:
            os.close(fd)
        log = os.open(order["log_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.environ.clear()
        os.environ.update(order["env"])
        from awslambdaric.__main__ import main as awslambdaric_main

        awslambdaric_main(["awslambdaric", handler])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        _flush_output()
        os._exit(code)


def _death_signal(parent: int) -> Callable[[], None]:
    """A call for the child: SIGKILL when ``parent`` exits (or at once if it already has)."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def arm() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


def _flush_output() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


if __name__ == "__main__":
    main(sys.argv)
