"""``nlp-bench bench`` survives what killed it before (issue 17, findings 1, 2, 10).

Real commands in a temporary project state (Dagster home, DuckDB file, work directory), the
smoke profile, the tiny model and one target:

- kill -9 of ``bench`` in the middle of a cell, while Locust sends, leaves no runtime, runner or
  Locust behind, and the next ``bench`` in the same Dagster home marks the killed run failed,
  frees its pool slot and succeeds — with every scheduled request's row (the runner stops only
  when its parent dies). Before, the re-run waited for the slot for ever, ignoring SIGTERM.
- That re-run has canary secrets in its environment; they appear in no tagged child's
  environment, no log or other file of the run, no Dagster storage and no DuckDB cell.
- SIGTERM stops a ``bench`` whose run waits for a pool slot another process holds.
- A model that fails to load stops ``bench`` after the build with one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
import psutil
import pytest

from nlp_bench_pipeline.core.processes import OWNER_ENV, ProcessIdentity
from nlp_bench_pipeline.core.run_owners import owner_tags

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NLP_BENCH = Path(sys.executable).with_name("nlp-bench")
POOL = "nlp_bench_platform"
CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIACANARY7Q2W3E4R5T",
    "AWS_SECRET_ACCESS_KEY": "canary-secret-access-key-5d0c8a71",
    "AWS_SESSION_TOKEN": "canary-session-token-93be4f20",
    "GROQ_API_KEY": "gsk_canary_key_61f0e2d9c8",
    "HF_TOKEN": "hf_canary_token_2b7d41",
}
# The shortest cell: cold_start needs no warming, and its smoke schedule lasts 8 s.
SCENARIO = "cold_start"
BENCH_ARGS = (
    "bench",
    "--profile",
    "smoke",
    "--model",
    "tiny",
    "--targets",
    "local-lambda",
    "--scenarios",
    SCENARIO,
    "--skip-deploy",
)


class Project:
    """A temporary Dagster home, DuckDB file and work directory, and ``bench`` run in them."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home = base / "dagster_home"
        self.db = base / "bench.duckdb"
        self.work = base / "work"
        self.logs = base / "logs"
        self.logs.mkdir(parents=True)

    def env(self, **extra: str) -> dict[str, str]:
        clean = {k: v for k, v in os.environ.items() if k not in CANARIES}
        return {
            **clean,
            "DAGSTER_HOME": str(self.home),
            "NLP_BENCH_DB": str(self.db),
            "NLP_BENCH_WORK_DIR": str(self.work),
            "PYTHONUNBUFFERED": "1",
            **extra,
        }

    def start(self, name: str, *args: str, **extra: str) -> tuple[subprocess.Popen[bytes], Path]:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(NLP_BENCH), *args],
                cwd=self.base,
                env=self.env(**extra),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return process, log


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(tmp_path)


def wait_for(
    condition: Callable[[], bool],
    timeout_s: float,
    what: str,
    log: Path | None = None,
    process: subprocess.Popen[bytes] | None = None,
) -> None:
    """Until ``condition``; fails after ``timeout_s``, or at once if ``process`` has exited."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        ended = process is not None and process.poll() is not None
        if ended or time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log else ""
            raise AssertionError(f"{'ended' if ended else 'timed out'} waiting for {what}\n{tail}")
        time.sleep(0.2)


def survivors(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for proc in processes:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(proc.cmdline()))
        except psutil.NoSuchProcess:
            continue
    return alive


def locust_of(bench: psutil.Process) -> list[psutil.Process]:
    try:
        tree = bench.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in tree if _cmdline(p) and "locust" in " ".join(_cmdline(p))]


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []


class EnvironmentWatch:
    """Reads the environment of every owner-tagged process while a command runs."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[list[str], dict[str, str]]] = {}
        self._checked: set[int] = set()  # an environment is fixed once a process has started
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> EnvironmentWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            for proc in psutil.process_iter():
                if proc.pid in self._checked:
                    continue
                try:
                    environ = proc.environ()
                    command = proc.cmdline()
                except psutil.Error:
                    continue
                self._checked.add(proc.pid)
                if OWNER_ENV in environ:
                    self.seen[proc.pid] = (command, environ)
            time.sleep(0.25)


def stage_verdicts(output: str) -> list[tuple[str, str]]:
    """``bench``'s own progress lines: each stage and its verdict, Dagster's log lines left out."""
    verdicts = []
    stage = None
    for line in output.splitlines():
        if line.startswith("==> "):
            stage = line[4:].strip()
        elif stage and line.startswith("    ") and line.split()[0] in ("ok", "FAILED", "skipped:"):
            verdicts.append((stage, line.split()[0]))
            stage = None
    return verdicts


def canary_hits(data: bytes) -> list[str]:
    return [name for name, value in CANARIES.items() if value.encode() in data]


def test_kill_9_mid_cell_then_a_rerun_in_the_same_home_succeeds_and_leaks_no_secret(
    project: Project,
) -> None:
    first, first_log = project.start("killed", *BENCH_ARGS)
    bench = psutil.Process(first.pid)
    wait_for(lambda: bool(locust_of(bench)), 150, "Locust to start sending", first_log, first)
    time.sleep(1.0)  # mid-cell: Locust is sending
    children = bench.children(recursive=True)
    commands = [" ".join(_cmdline(p)) for p in children]
    assert any("awslambdaric" in c for c in commands), commands
    assert any("nlp_bench_pipeline.loadgen" in c for c in commands), commands
    first.send_signal(signal.SIGKILL)
    first.wait()
    # Runtimes (death signal), the Pipes runner (parent watch) and Locust (death signal) all go.
    wait_for(lambda: not survivors(children), 15, "the killed bench's children to stop")

    second, second_log = project.start("rerun", *BENCH_ARGS, **CANARIES)
    with EnvironmentWatch() as watch:
        try:
            code = second.wait(timeout=240)
        except subprocess.TimeoutExpired:
            os.killpg(second.pid, signal.SIGKILL)
            raise AssertionError(second_log.read_text(errors="replace")[-4000:]) from None
    output = second_log.read_text(errors="replace")
    assert code == 0, output[-4000:]
    assert "marked failed and its pool slots freed" in output
    assert "stored as a failed run (killed mid-cell)" in output
    assert stage_verdicts(output)[-5:] == [
        (f"benchmark_cell [{SCENARIO}|local-lambda]", "ok"),
        ("peak", "skipped:"),  # a smoke bench searches no peak rate
        ("summaries", "ok"),
        ("economics", "skipped:"),  # the costs price warm_steady runs; this bench ran none
        ("report", "ok"),
    ]
    # The report is the last line: a page that exists and carries this bench's verdict.
    last = output.strip().splitlines()[-1]
    assert last.startswith("Report: "), last
    page = Path(last.removeprefix("Report: ")).read_text()
    assert page.lstrip().lower().startswith("<!doctype html")
    assert SCENARIO in page

    # The killed run is recorded as failed; the re-run's cell has every scheduled row.
    with dg.DagsterInstance.from_config(str(project.home)) as instance:
        killed = [
            r for r in instance.get_runs() if r.tags.get("nlp-bench/owner-pid") == str(first.pid)
        ]
        assert killed
        assert {r.status for r in killed} <= {
            dg.DagsterRunStatus.FAILURE,
            dg.DagsterRunStatus.SUCCESS,
        }
        assert dg.DagsterRunStatus.FAILURE in {r.status for r in killed}
    with duckdb.connect(str(project.db), read_only=True) as db:
        # The killed repetition is in the store as failed, with no rows, not missing.
        (abandoned,) = db.execute(
            "SELECT count(*) FROM benchmark_runs b WHERE b.status = 'failed' "
            "AND b.host->>'$.error' LIKE 'abandoned:%' "
            "AND NOT EXISTS (SELECT 1 FROM requests r WHERE r.run_id = b.run_id)"
        ).fetchone()
        assert abandoned == 1
        rows, scheduled = db.execute(
            "SELECT count(*), any_value(b.scheduled) FROM requests r JOIN benchmark_runs b "
            "USING (run_id) WHERE b.status = 'complete' GROUP BY r.run_id"
        ).fetchone()
        assert rows == scheduled

    # Canaries: in no tagged child's environment ...
    assert watch.seen, "no owner-tagged child was seen"
    kinds = {" ".join(cmd) for cmd, _ in watch.seen.values()}
    assert any("awslambdaric" in k for k in kinds)
    assert any("locust" in k for k in kinds)
    for pid, (cmd, environ) in watch.seen.items():
        assert not set(CANARIES) & set(environ), (pid, cmd)
        assert not canary_hits("\0".join(environ.values()).encode()), (pid, cmd)
    # ... nor any file of the run: logs, plans, Parquet, Dagster storage ...
    hits = {}
    for path in [*project.work.rglob("*"), *project.home.rglob("*")]:
        if path.is_file() and (found := canary_hits(path.read_bytes())):
            hits[str(path)] = found
    assert hits == {}
    # ... nor any DuckDB cell.
    with duckdb.connect(str(project.db), read_only=True) as db:
        tables = [t for (t,) in db.execute("SELECT table_name FROM duckdb_tables()").fetchall()]
        for table in tables:
            text = db.execute(f"SELECT string_agg(CAST(t AS VARCHAR), ' ') FROM {table} t")
            dump = (text.fetchone()[0] or "").encode()
            assert not canary_hits(dump), table


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_stops_a_bench_whose_run_waits_for_a_pool_slot(
    project: Project, signum: signal.Signals
) -> None:
    project.home.mkdir(parents=True)
    (project.home / "dagster.yaml").write_text(
        (ROOT / "nlp_bench_pipeline" / "cli" / "dagster.yaml").read_text()
    )
    holder = str(uuid.uuid4())
    with dg.DagsterInstance.from_config(str(project.home)) as instance:
        # Another live process (this test) holds the only slot of the platform pool.
        instance.add_run(
            dg.DagsterRun(
                job_name="benchmark_cell",
                run_id=holder,
                status=dg.DagsterRunStatus.STARTED,
                tags=owner_tags(ProcessIdentity.current()),
            )
        )
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default(POOL)
        assert storage.claim_concurrency_slot(POOL, holder, "load_test_run").is_claimed
    process, log = project.start("blocked", *BENCH_ARGS)
    wait_for(
        lambda: "waiting for a slot of pool" in log.read_text(errors="replace"),
        120,
        "the cell to wait for the slot",
        log,
        process,
    )
    sent = time.monotonic()
    process.send_signal(signum)
    code = process.wait(timeout=30)
    assert time.monotonic() - sent < 15
    assert code == 128 + signum
    output = log.read_text(errors="replace")
    assert "waited for a pool slot; it is canceled" in output
    assert f"waiting for a slot of pool {POOL}, held by run {holder}" in output
    with dg.DagsterInstance.from_config(str(project.home)) as instance:
        # The live holder is untouched; the interrupted run is canceled and holds nothing.
        assert instance.get_run_by_id(holder).status == dg.DagsterRunStatus.STARTED
        info = instance.event_log_storage.get_concurrency_info(POOL)
        assert info.active_run_ids == {holder}
        assert info.pending_run_ids == set()
        runs = [r for r in instance.get_runs() if r.job_name == "benchmark_cell"]
        assert dg.DagsterRunStatus.CANCELED in {r.status for r in runs}


def test_a_model_that_fails_to_load_stops_bench_after_the_build_with_one_line(
    project: Project,
) -> None:
    broken = project.base / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")  # passes the form check, fails to load
    args = [a if a != "tiny" else str(broken) for a in BENCH_ARGS]
    process, log = project.start("broken", *args)
    code = process.wait(timeout=180)
    output = log.read_text(errors="replace")
    assert code == 1
    failure = [line for line in output.splitlines() if "the build failed" in line]
    assert len(failure) == 1, output[-3000:]
    assert "model_artifact" in failure[0]
    assert "==> benchmark_cell" not in output
    assert "==> summaries" not in output
