"""Process supervision against the faults of issue 17: secrets in a child's environment (finding
10), children that outlive a killed parent (finding 11), owners whose pid was reused (finding 1).

The environment tests read ``/proc/<pid>/environ`` of a real child, as the probe did.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from nlp_bench_pipeline.core.processes import (
    MODEL_FILES,
    OWNER_ENV,
    PROCESS_ESSENTIALS,
    ChildProcess,
    PassedEnvironment,
    ProcessIdentity,
    child_environment,
    python_command,
    scrubbed,
)

CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIACANARY0000000000",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-0f1e2d3c",
    "AWS_SESSION_TOKEN": "canary-aws-session-9a8b7c",
    "GROQ_API_KEY": "gsk_canary_4b5c6d7e",
    "HF_TOKEN": "hf_canary_8f9e0d",
    "DAGSTER_PIPES_CONTEXT": "canary-pipes-context",
}


def environ_of(pid: int, command_part: str | None = None) -> dict[str, str]:
    """The process's environment; with ``command_part``, once it runs that command: until then
    the pid may still be the launcher that sets the child up before its ``execve``."""
    deadline = time.monotonic() + 10.0
    while command_part is not None and time.monotonic() < deadline:
        if command_part in " ".join(psutil.Process(pid).cmdline()):
            break
        time.sleep(0.02)
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)


def wait_gone(pid: int, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def test_an_allowlist_passes_what_a_process_needs_and_no_credential() -> None:
    parent = {
        **CANARIES,
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "NLP_BENCH_MODEL_CACHE": "/cache",
        "HF_HOME": "/hf",
        "NLP_BENCH_DB": "/data/x.duckdb",
        OWNER_ENV: "someone-else",
    }
    env = child_environment(parent, MODEL_FILES, {"NLP_BENCH_MODEL": "tiny"}, "me")
    assert env == {
        "PATH": "/usr/bin",
        "HOME": "/home/u",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "TMPDIR": "/tmp",
        "NLP_BENCH_MODEL_CACHE": "/cache",
        "HF_HOME": "/hf",
        "NLP_BENCH_MODEL": "tiny",
        OWNER_ENV: "me",
    }
    essentials = child_environment(parent, PROCESS_ESSENTIALS, None, "me")
    assert "NLP_BENCH_MODEL_CACHE" not in essentials
    assert child_environment(parent, False, {"A": "1"}, "me") == {"A": "1", OWNER_ENV: "me"}
    # True keeps the whole environment: the orchestrator's own tools (dg dev) need it.
    assert child_environment(parent, True, None, "me")["GROQ_API_KEY"] == CANARIES["GROQ_API_KEY"]


def test_a_passed_environment_admits_names_and_prefixes_only() -> None:
    passed = PassedEnvironment(frozenset({"PATH"}), ("LC_",)).plus("HOME")
    assert [passed.admits(n) for n in ("PATH", "HOME", "LC_CTYPE", "LCX", "PATHX")] == [
        True,
        True,
        True,
        False,
        False,
    ]


@pytest.mark.slow
def test_a_child_started_with_an_allowlist_has_no_canary_in_proc_environ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    child = ChildProcess.start(
        "sleeper",
        python_command("-c", "import time; time.sleep(30)"),
        owner="canary-test",
        env={"EXTRA": "1"},
        log_dir=tmp_path,
        inherit_env=MODEL_FILES,
    )
    try:
        seen = environ_of(child.pid, "time.sleep(30)")
    finally:
        child.stop(grace_s=1)
    assert not set(CANARIES) & set(seen)
    assert not any(value in seen.values() for value in CANARIES.values())
    assert seen["EXTRA"] == "1"
    assert seen[OWNER_ENV] == "canary-test"
    assert seen["PATH"] == os.environ["PATH"]


MIDDLE = """
import sys, time
from pathlib import Path
from nlp_bench_pipeline.core.processes import ChildProcess, python_command
import signal
die = signal.SIGKILL if sys.argv[1] == "die" else None
child = ChildProcess.start(
    "grandchild", python_command("-c", "import time; time.sleep(60)"),
    owner="death-test", log_dir=Path(sys.argv[2]), die_with_parent=die,
)
print(child.pid, flush=True)
time.sleep(60)
"""


def start_middle(mode: str, tmp_path: Path) -> tuple[subprocess.Popen[str], int]:
    middle = subprocess.Popen(
        [sys.executable, "-c", MIDDLE, mode, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert middle.stdout is not None
    return middle, int(middle.stdout.readline())


@pytest.mark.slow
def test_a_child_told_to_die_with_its_parent_dies_when_the_parent_is_killed(
    tmp_path: Path,
) -> None:
    middle, grandchild = start_middle("die", tmp_path)
    assert psutil.pid_exists(grandchild)
    middle.kill()
    middle.wait()
    assert wait_gone(grandchild), "the child outlived its SIGKILLed parent"


@pytest.mark.slow
def test_without_the_death_signal_a_child_outlives_its_killed_parent(tmp_path: Path) -> None:
    # The behaviour before issue 17, and why the platforms' children now ask for the signal.
    middle, grandchild = start_middle("keep", tmp_path)
    middle.kill()
    middle.wait()
    try:
        assert not wait_gone(grandchild, timeout_s=1.0)
    finally:
        os.kill(grandchild, signal.SIGKILL)


WATCHER = """
import signal, sys, time
from pathlib import Path
from nlp_bench_pipeline.core.processes import signal_when_parent_exits
marker = Path(sys.argv[1])
def stopped(signum, frame):
    marker.write_text(str(signum))
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stopped)
with signal_when_parent_exits():
    marker.with_suffix(".ready").write_text("ready")
    time.sleep(60)
"""
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_process_watching_its_parent_gets_sigterm_only_when_the_parent_exits(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "stopped"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, WATCHER, str(marker)], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    deadline = time.monotonic() + 20
    while not marker.with_suffix(".ready").exists():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    assert psutil.pid_exists(child)
    assert not marker.exists()  # the parent lives: no signal
    parent.kill()
    parent.wait()
    assert wait_gone(child)
    assert marker.read_text() == str(int(signal.SIGTERM))


def test_the_current_process_is_alive_and_a_finished_one_is_gone() -> None:
    assert ProcessIdentity.current().state() == "alive"
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(finished.pid).create_time()
    finished.wait()
    assert ProcessIdentity(finished.pid, ProcessIdentity.current().host, started).state() == "gone"


def test_a_reused_pid_is_not_mistaken_for_its_first_owner() -> None:
    me = ProcessIdentity.current()
    earlier_owner = ProcessIdentity(me.pid, me.host, me.started_at - 3600)
    assert earlier_owner.state() == "gone"


def test_an_owner_on_another_host_is_never_judged_from_here() -> None:
    me = ProcessIdentity.current()
    assert ProcessIdentity(1, f"{me.host}-elsewhere", 0.0).state() == "elsewhere"


def test_a_child_runs_the_hook_only_when_asked(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import ctypes, sys
        # prctl(PR_GET_PDEATHSIG): what the kernel will send this process when its parent goes.
        signal_number = ctypes.c_int()
        ctypes.CDLL(None).prctl(2, ctypes.byref(signal_number), 0, 0, 0)
        print(signal_number.value)
    """)
    results = []
    for die in (signal.SIGTERM, None):
        child = ChildProcess.start(
            f"hook-{die}",
            python_command("-c", script),
            owner="hook-test",
            log_dir=tmp_path,
            die_with_parent=die,
        )
        child.popen.wait(timeout=30)
        assert child.log_path is not None
        results.append(child.log_path.read_text().strip())
    assert results == [str(int(signal.SIGTERM)), "0"]


@pytest.mark.slow
def test_a_scrubbed_command_sees_only_what_passes_even_when_started_with_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # For a child whose starter merges the whole environment in (Dagster Pipes' subprocess client).
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DAGSTER_PIPES_MESSAGES", "kept")
    script = "import json, os; print(json.dumps(dict(os.environ)))"
    passed = PROCESS_ESSENTIALS.plus("PYTHONUNBUFFERED", prefixes=["DAGSTER_PIPES_M"])
    completed = subprocess.run(
        scrubbed(python_command("-c", script), passed),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(completed.stdout)
    assert not set(CANARIES) & set(seen)
    assert seen["DAGSTER_PIPES_MESSAGES"] == "kept"
    assert seen["PYTHONUNBUFFERED"] == "1"
    assert seen["PATH"] == os.environ["PATH"]
