"""The README pastes: every command in it, and every SQL and Python block of it and of
docs/schema.md, run as written in a temporary copy of the repository (issue 14).

The copy holds the working tree (tracked and untracked files git does not ignore) with `.venv`
and the model cache linked in, the settings `make` exports (``DAGSTER_HOME``, ``NLP_BENCH_DB``,
``NLP_BENCH_MODEL_CACHE``) and a metric store where `make bench` leaves one. The store is built
by hand, through the real ingestion and the real schema: the four quick-profile runs and the
economics rows of ``tests/unit/test_report_rows.py``, and the Lambda burst once more under the
smoke profile, so two profiles of one cell meet as they do after a `bench --profile smoke`: a
documented query whose result that run changes must say which profile each row is. A real
smoke-profile bench of one target and one scenario with the tiny model took 166 s on a 2-core
machine, more than this test's budget; ``tests/integration/test_pipeline.py`` runs the pipeline
itself.

Every command is in one of three tables: ``RUN`` (it must exit 0, and some outputs are
checked), ``SERVERS`` (started, probed, stopped) or ``SKIPPED`` (with why, and which test runs
it instead); a command the README gains without a row here fails the test. The documented ports
(8000, 9000, 9100) are swapped for free ones, so the test never meets someone else's server.
"""

from __future__ import annotations

import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import httpx
import pytest

from nlp_bench_pipeline.core.processes import free_port
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.store_rows import record, write_rows
from tests.unit.test_report_rows import (
    add_economics,
    build_report_store,
    lambda_burst_events,
    lambda_burst_rows,
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SCHEMA = ROOT / "docs" / "schema.md"
BUDGET_S = 240.0  # the whole module on a 2-core machine (measured: see the report)
COMMAND_TIMEOUT_S = 120
SERVER_READY_S = 150
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"`([^`]+)`")
DOCUMENTED_PORTS = (8000, 9000, 9100)

# --------------------------------------------------------------------------- the README's commands

SERVICE_BLOCK = "NLP_BENCH_MODEL=synthetic .venv/bin/python -m inference_service --port 8000 &"
LOCAL_LAMBDA = (
    ".venv/bin/python -m nlp_bench_pipeline.targets.local_lambda --memory 2048 --port 9000"
)
LOCAL_K8S = ".venv/bin/python -m nlp_bench_pipeline.targets.local_k8s --replicas 2 --port 9100"
SMOKE_SERIES = "series-smoke"
SMOKE_RUN = f"{SMOKE_SERIES}-local-lambda-burst-smoke-r0"
LATEST_RUNS = 5  # two targets, burst and warm_steady, quick; the Lambda burst under smoke too
SQL_QUERY = (
    '.venv/bin/nlp-bench sql "SELECT target, scenario, profile, p99_ms, slo_met FROM run_summary '
    'JOIN latest_runs USING (run_id)"'
)
LOADGEN_RUN = (
    ".venv/bin/python -m nlp_bench_pipeline.loadgen run --host http://127.0.0.1:9100 "
    "--scenario warm_steady --profile smoke --fail-on 'error_rate>1%'"
)
# Started, probed and stopped: the service block runs whole (it starts the server itself).
SERVERS = {
    SERVICE_BLOCK: "the service block: started, waited for /readyz, one prediction, stopped",
    "until curl -sf localhost:8000/readyz >/dev/null; do sleep 1; done": "the service block",
    "curl -s localhost:8000/predict -H 'content-type: application/json' "
    '-d \'{"text":"a gripping, beautiful film"}\'': "the service block",
    "kill %1": "the service block",
    LOCAL_LAMBDA: "started, one prediction once it says ready, stopped with Ctrl-C",
    LOCAL_K8S: "started, loaded by the load generator once it says ready, stopped with Ctrl-C",
    LOADGEN_RUN: "run against the local Kubernetes while it serves",
}
RUN = {
    ".venv/bin/nlp-bench summary",
    ".venv/bin/nlp-bench summary --profile quick",
    ".venv/bin/python -m nlp_bench_pipeline.loadgen scenarios",
    ".venv/bin/nlp-bench cost lambda --memory-mb 1769 --invocations 1000000 --duration-ms 120 "
    "--gateway http",
    ".venv/bin/nlp-bench cost eks --node-type c7i.xlarge --nodes 2 --hours 730 --load-balancer",
    "export DAGSTER_HOME=$PWD/.dagster_home",
    ".venv/bin/dg check defs",
    ".venv/bin/dg list defs",
    SQL_QUERY,
    ".venv/bin/nlp-bench sql",
    ".venv/bin/nlp-bench export --what run_summary,requests --format csv --out data/exports",
    "make help",
}
LAST = "make clean"  # runs after everything else: it removes the copy's data and links
PIPELINE_TEST = "tests/integration/test_pipeline.py runs the pipeline"
SKIPPED = {
    "make bench": "the whole pipeline (~11 min): this test's store stands in for it; "
    + PIPELINE_TEST,
    "make test": "runs the suite this test is part of",
    "make test-fast": "the unit suite (minutes); CI runs it through make test",
    "make benchmark": "the speed benchmarks (minutes); benchmarks/ and docs/benchmarks.md",
    ".venv/bin/python -m benchmarks cold_start": "every cold-start mitigation through the local "
    "Lambda with the full-size model (3-5 min); its section in docs/benchmarks.md, "
    "tests/integration/test_local_lambda_zygote.py for the zygote",
    "make lint": "ruff over the whole tree: CI's job, not the README's",
    "make lock": "re-pins requirements.lock from the package index (network)",
    "make ui": "the Dagster UI: tests/e2e/test_dagster_ui.py starts `nlp-bench ui`, probes it and "
    "stops it",
    ".venv/bin/dg dev": "the same UI as make ui (tests/e2e/test_dagster_ui.py)",
    ".venv/bin/nlp-bench peak --target local-k8s --slo-ms 500": "a search of real probes with "
    "the full-size model (minutes); tests/integration/test_peak_local_k8s.py runs one with the "
    "tiny model, tests/unit/test_peak_cli.py the command",
    ".venv/bin/nlp-bench bench --profile smoke": "a smoke bench takes minutes (166 s for one "
    f"target and scenario); {PIPELINE_TEST}",
    ".venv/bin/nlp-bench bench --profile full --targets local-k8s --scenarios warm_steady,burst": (
        "the full profile takes hours"
    ),
    ".venv/bin/dg launch --assets model_artifact,service_image": "loads the full-size model in a "
    "fresh process; tests/e2e/test_dagster_ui.py materialises both",
    ".venv/bin/dg launch --assets deployment --partition local-k8s": "a deployment; "
    + PIPELINE_TEST,
    ".venv/bin/dg launch --assets run_summary,platform_metrics": "two summaries through Dagster "
    "(~30 s here); tests/e2e/test_dagster_ui.py materialises run_summary",
    ".venv/bin/dg launch --assets load_test_run --partition 'burst|local-lambda'": (
        f"a benchmark cell (minutes); {PIPELINE_TEST}"
    ),
    ".venv/bin/nlp-bench cost breakeven --slo-ms 500": "prices a real bench's REPORT records "
    "per memory size, which the hand-made store lacks; tests/integration/test_costs_breakeven.py",
    ".venv/bin/nlp-bench sweep --memory-mb 1024 --memory-mb 1769 --warm 10 --cold 1 --no-store": (
        "the full-size function at two sizes (~50 s here); tests/integration/test_sweep_cli.py"
    ),
    ".venv/bin/nlp-bench simulate --platform lambda --rate 1000 --hours 24 --pattern diurnal": (
        "a simulated day (~30 s here); tests/integration/test_simulate_store.py"
    ),
    ".venv/bin/nlp-bench simulate --platform eks --rate 1000 --hours 24 --node-type c7g.xlarge "
    "--slo-ms 300": "a simulated day (~15 s here); tests/unit/test_simulate_command.py",
}


def shell_commands(script: str) -> list[str]:
    """A shell block's commands: continuation lines joined, comments and spacing dropped."""
    commands, pending = [], ""
    for line in script.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        code = re.sub(r"(^|\s)#.*$", "", pending + line).strip()
        pending = ""
        if code:
            commands.append(" ".join(code.split()))
    return commands


def blocks(path: Path, *languages: str) -> list[str]:
    return [m.group(2) for m in FENCE.finditer(path.read_text()) if m.group(1) in languages]


def readme_commands() -> list[str]:
    """Every shell command of the README: its bash blocks, and inline ones a person would paste."""
    text = README.read_text()
    found = [c for block in blocks(README, "bash", "sh") for c in shell_commands(block)]
    prose = FENCE.sub("", text).replace("\n", " ")
    found += [
        " ".join(span.split())
        for span in INLINE.findall(prose)
        if span.startswith((".venv/bin/", "make "))
    ]
    return list(dict.fromkeys(found))


def test_every_readme_command_is_run_served_or_skipped_with_a_reason():
    known = RUN | set(SERVERS) | set(SKIPPED) | {LAST}
    commands = readme_commands()
    assert [c for c in commands if c not in known] == []
    assert all(reason.strip() for reason in SKIPPED.values())
    # Copy-paste traps: a bare `python`, or the duckdb CLI, which the setup does not install.
    assert not [c for c in commands if c.startswith(("python ", "duckdb "))]


# --------------------------------------------------------------------------- the copy


@dataclass
class Copy:
    root: Path
    env: dict[str, str]
    ports: dict[int, int]
    started: float
    quick_only: Path  # the same store before the smoke run was added

    @property
    def db(self) -> Path:
        return self.root / "data" / "nlp_bench.duckdb"

    def localise(self, command: str) -> str:
        """The command with each documented port swapped for a free one."""
        return re.sub(r"\b(8000|9000|9100)\b", lambda m: str(self.ports[int(m.group(1))]), command)

    def sh(self, command: str, timeout_s: float = COMMAND_TIMEOUT_S) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["bash", "-c", self.localise(command)], cwd=self.root, env=self.env, text=True,
            capture_output=True, timeout=timeout_s, stdin=subprocess.DEVNULL, check=False,
        )  # fmt: skip


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Copy:
    """A copy of the working tree after a (hand-made) `make bench`."""
    started = time.monotonic()
    root = tmp_path_factory.mktemp("readme") / "nlp-bench"
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    (root / ".venv").symlink_to(ROOT / ".venv")
    (root / ".cache").symlink_to(ROOT / ".cache")
    env = {
        **os.environ,
        "DAGSTER_HOME": str(root / ".dagster_home"),
        "NLP_BENCH_DB": str(root / "data" / "nlp_bench.duckdb"),
        "NLP_BENCH_MODEL_CACHE": str(root / ".cache" / "models"),
        "NLP_BENCH_WORK_DIR": str(root / "data" / "work"),
        "NLP_BENCH_REPORT_DIR": str(root / "data" / "report"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("NLP_BENCH_MODEL", None)
    quick_only = tmp_path_factory.mktemp("quick-only") / "nlp_bench.duckdb"
    copy = Copy(root, env, {port: free_port() for port in DOCUMENTED_PORTS}, started, quick_only)
    store = build_report_store(root / "data" / "handmade")
    add_economics(store)
    shutil.copy2(store.path, quick_only)
    add_smoke_run(store, root / "data" / "handmade")
    shutil.move(store.path, copy.db)
    made = copy.sh(
        ".venv/bin/python -c 'from nlp_bench_pipeline.cli.dagster_home import "
        "ensure_dagster_home; ensure_dagster_home()'"
    )
    assert made.returncode == 0, made.stderr
    return copy


def add_smoke_run(store: MetricStore, folder: Path) -> None:
    """The Lambda burst again, in a series of its own under the smoke profile."""
    rows = lambda_burst_rows()
    path = write_rows(folder / SMOKE_RUN / "requests-0.parquet", rows)
    run = record(
        SMOKE_RUN, rows, target="local-lambda", scenario="burst", series_id=SMOKE_SERIES,
        profile="smoke", measure_s=12.0, slo_p99_ms=2000.0,
    )  # fmt: skip
    store.ingest_run(run, request_files=[path], events=lambda_burst_events())


# --------------------------------------------------------------------------- SQL and Python blocks


def sql_statements(path: Path) -> list[str]:
    return [s.query for block in blocks(path, "sql") for s in duckdb.extract_statements(block)]


@pytest.mark.parametrize("path", [README, SCHEMA], ids=["README", "schema"])
def test_every_sql_block_runs_against_the_real_schema(repo: Copy, path: Path):
    statements = sql_statements(path)
    assert statements
    with duckdb.connect(str(repo.db), read_only=True) as conn:
        for statement in statements:
            try:
                conn.execute(statement).fetchall()
            except duckdb.Error as exc:
                pytest.fail(f"{path.name}: {exc}\n{statement}")


@dataclass
class Result:
    columns: list[str]
    rows: list[tuple]


def result(db: Path, statement: str) -> Result:
    with duckdb.connect(str(db), read_only=True) as conn:
        cursor = conn.execute(statement)
        return Result([d[0] for d in cursor.description or []], cursor.fetchall())


@pytest.mark.parametrize("path", [README, SCHEMA], ids=["README", "schema"])
def test_no_sql_block_mixes_profiles_in_a_row_without_saying_which(repo: Copy, path: Path):
    """A statement the smoke run changes names each row's profile (or its run, whose id does);
    one that leaves it out filters to one profile, and so gives what it gave without it."""
    for statement in sql_statements(path):
        both, quick = result(repo.db, statement), result(repo.quick_only, statement)
        if sorted(map(repr, both.rows)) != sorted(map(repr, quick.rows)):
            assert {"profile", "run_id"} & set(both.columns), (
                f"{path.name}: the smoke run's rows are mixed in unlabelled:\n{statement}"
            )


def test_the_headline_query_returns_every_latest_run_with_its_profile(repo: Copy):
    headline = result(repo.db, sql_statements(README)[0])
    cells = [dict(zip(headline.columns, row, strict=True)) for row in headline.rows]
    assert len(cells) == LATEST_RUNS
    lambda_bursts = [c for c in cells if (c["target"], c["scenario"]) == ("local-lambda", "burst")]
    assert sorted(c["profile"] for c in lambda_bursts) == ["quick", "smoke"]


@pytest.mark.parametrize(
    ("path", "index"),
    [(README, i) for i in range(len(blocks(README, "python")))]
    + [(SCHEMA, i) for i in range(len(blocks(SCHEMA, "python")))],
    ids=lambda value: value.name if isinstance(value, Path) else str(value),
)
def test_every_python_block_runs(repo: Copy, path: Path, index: int):
    script = repo.root / f"block-{path.stem}-{index}.py"
    script.write_text(blocks(path, "python")[index])
    done = repo.sh(f".venv/bin/python {script.name}")
    assert done.returncode == 0, done.stderr[-3000:]


# --------------------------------------------------------------------------- commands


CHECKS: dict[str, Callable[[subprocess.CompletedProcess, Copy], None]] = {
    ".venv/bin/nlp-bench summary": lambda done, _: _has(done, "warm_steady", "quick", "smoke"),
    ".venv/bin/nlp-bench summary --profile quick": lambda done, _: _only_quick(done),
    SQL_QUERY: lambda done, _: _has(done, "profile", "quick", "smoke"),
    ".venv/bin/python -m nlp_bench_pipeline.loadgen scenarios": lambda done, _: _has(
        done, "Scenarios in the built-in catalog", "warm_steady: "
    ),
    ".venv/bin/nlp-bench export --what run_summary,requests --format csv --out data/exports": (
        lambda _, copy: _exported(copy)
    ),
}


def _has(done: subprocess.CompletedProcess, *texts: str) -> None:
    assert all(text in done.stdout for text in texts), done.stdout[-2000:]


def _only_quick(done: subprocess.CompletedProcess) -> None:
    _has(done, "local-lambda", "quick")
    assert "smoke" not in done.stdout, done.stdout[-2000:]


def _exported(copy: Copy) -> None:
    assert (copy.root / "data" / "exports" / "run_summary.csv").stat().st_size > 0
    assert (copy.root / "data" / "exports" / "requests.csv").stat().st_size > 0


@pytest.mark.parametrize("command", sorted(RUN))
def test_a_readme_command_runs_as_written(repo: Copy, command: str):
    done = repo.sh(command)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    if check := CHECKS.get(command):
        check(done, repo)


def test_the_service_block_waits_for_readyz_and_predicts(repo: Copy):
    [block] = [b for b in blocks(README, "bash") if SERVICE_BLOCK in shell_commands(b)]
    done = repo.sh("set -e\n" + block, timeout_s=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert '"predictions"' in done.stdout
    assert '"label"' in done.stdout
    with pytest.raises(httpx.TransportError):  # `kill %1` stopped it
        httpx.get(f"http://127.0.0.1:{repo.ports[8000]}/readyz", timeout=2)


class Server:
    """A README command that serves until Ctrl-C; its output read line by line."""

    def __init__(self, copy: Copy, command: str) -> None:
        self.process = subprocess.Popen(
            ["bash", "-c", f"exec {copy.localise(command)}"], cwd=copy.root, env=copy.env,
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, prefix: str) -> str:
        deadline = time.monotonic() + SERVER_READY_S
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "\n".join(self.lines[-40:])
                continue
            self.lines.append(line)
            if line.startswith(prefix):
                return line
        pytest.fail(f"no {prefix!r} line:\n" + "\n".join(self.lines[-40:]))

    def interrupt(self) -> int:
        """Ctrl-C, as the README says; the lines printed up to the exit are kept."""
        self.process.send_signal(signal.SIGINT)
        code = self.process.wait(timeout=60)
        time.sleep(0.2)  # the reader thread's last lines
        while not self._queue.empty():
            self.lines.append(self._queue.get())
        return code

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def serve(repo: Copy) -> Iterator[Callable[[str], Server]]:
    servers: list[Server] = []

    def start(command: str) -> Server:
        servers.append(Server(repo, command))
        return servers[-1]

    yield start
    for server in servers:
        server.kill()


def test_the_local_lambda_serves_says_ready_and_stops_on_ctrl_c(repo: Copy, serve):
    server = serve(LOCAL_LAMBDA)
    ready = server.wait_for("ready: POST ")
    [endpoint] = re.findall(r"http://\S+/predict", ready)
    response = httpx.post(endpoint, json={"text": "a gripping, beautiful film"}, timeout=60)
    assert response.status_code == 200, response.text
    assert server.interrupt() == 0
    assert server.lines[-1] == "stopped; every runtime process is gone"
    # the verification request's invoke and this one, as CloudWatch shows them
    assert sum("REPORT RequestId: " in line for line in server.lines) == 2


def test_the_load_generator_runs_against_the_local_kubernetes(repo: Copy, serve):
    server = serve(LOCAL_K8S)
    server.wait_for("ready: ")
    done = repo.sh(LOADGEN_RUN, timeout_s=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "every request, from send" in done.stdout
    assert "errors by class" not in done.stdout  # nothing failed
    assert server.interrupt() == 0
    assert any(" Ready " in line for line in server.lines)


def test_make_clean_leaves_no_data_and_the_whole_module_kept_its_budget(repo: Copy):
    done = repo.sh(LAST)
    assert done.returncode == 0, done.stderr
    assert not (repo.root / "data").exists()
    assert not (repo.root / ".dagster_home").exists()
    assert (ROOT / ".venv" / "bin" / "python").exists()  # only the copy's link went
    elapsed = time.monotonic() - repo.started
    assert elapsed < BUDGET_S, f"the README took {elapsed:.0f} s (budget {BUDGET_S:.0f} s)"
