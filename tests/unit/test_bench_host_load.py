"""The host-load meter tells this run's own CPU from other processes', and the check judges it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.checks import host_quiet
from nlp_bench_pipeline.bench.host_load import HostLoadMeter
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.store_rows import record, row, write_rows

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass\n"


def _burn_here(seconds: float) -> None:
    """A child of this process burns ``seconds`` of CPU and is reaped: the run's own work."""
    subprocess.run([sys.executable, "-c", BURN.format(seconds=seconds)], check=True)


def _burn_elsewhere(seconds: float, tmp_path: Path) -> int:
    """A process that is no descendant of this one (its parent shell exits at once)."""
    pid_file = tmp_path / "burner.pid"
    script = tmp_path / "burn.py"
    script.write_text(BURN.format(seconds=seconds))
    subprocess.run(
        ["sh", "-c", f'"{sys.executable}" "{script}" & echo $! > "{pid_file}"'], check=True
    )
    return int(pid_file.read_text())


def _wait_gone(pid: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_reaped_child_s_cpu_is_the_run_s_own() -> None:
    with HostLoadMeter() as meter:
        _burn_here(0.6)
    load = meter.result
    assert load is not None
    assert load.own_cpu_s >= 0.5
    assert load.host_busy_cpu_s >= 0.5


def test_a_process_outside_the_tree_is_foreign_and_named(tmp_path: Path) -> None:
    with HostLoadMeter(top=1000) as meter:
        pid = _burn_elsewhere(0.8, tmp_path)
        time.sleep(0.6)  # it burns, still alive at the end of the block
    _wait_gone(pid)
    load = meter.result
    assert load is not None
    assert load.foreign_cpu_s >= 0.3
    assert load.own_cpu_s < load.foreign_cpu_s
    assert pid not in {p["pid"] for p in load.top_foreign}  # born inside the block: no baseline
    assert 0 < load.foreign_share <= 1


def test_a_foreign_process_running_before_the_block_is_named_with_its_cpu(tmp_path) -> None:
    pid = _burn_elsewhere(3.0, tmp_path)
    time.sleep(0.1)
    with HostLoadMeter(top=1000) as meter:  # every other process: a test machine is busy
        time.sleep(1.0)
    _wait_gone(pid)
    top = {p["pid"]: p for p in meter.result.top_foreign}
    assert pid in top
    assert top[pid]["cpu_s"] >= 0.1


# --- the check, on stored runs ----------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "bench.duckdb")


def _ingest(store: MetricStore, tmp_path: Path, run_id: str, **changes) -> str:
    rows = [row(i) for i in range(10)]
    path = write_rows(tmp_path / f"{run_id}.parquet", rows)
    store.ingest_run(record(run_id, rows, **changes), request_files=[path])
    return run_id


def _load(share: float) -> dict:
    return {
        "seconds": 60.0,
        "cpus": 2,
        "host_busy_cpu_s": 100.0,
        "own_cpu_s": 100.0 - share * 120,
        "foreign_cpu_s": share * 120,
        "steal_cpu_s": 0.0,
        "foreign_share": share,
        "top_foreign": [{"pid": 42, "name": "pytest", "cpu_s": share * 120}],
    }


def test_a_quiet_host_passes(store, tmp_path) -> None:
    run = _ingest(store, tmp_path, "quiet", host={"host_load": _load(0.02)})
    outcome = host_quiet(store, [run])
    assert outcome.passed, outcome.description
    assert outcome.metadata["worst_foreign_share"] == 0.02


def test_a_busy_host_fails_naming_the_run_the_share_and_the_busiest_process(store, tmp_path):
    quiet = _ingest(store, tmp_path, "quiet", host={"host_load": _load(0.02)})
    busy = _ingest(store, tmp_path, "busy", repetition=1, host={"host_load": _load(0.35)})
    outcome = host_quiet(store, [quiet, busy])
    assert not outcome.passed
    assert "busy: 35% of the host's CPU went to other processes" in outcome.description
    assert "pytest 42.0 s" in outcome.description
    assert "quiet:" not in outcome.description


def test_cloud_targets_and_runs_without_a_meter_are_not_judged(store, tmp_path) -> None:
    cloud = _ingest(store, tmp_path, "cloud", target="aws-lambda", host={"host_load": _load(0.5)})
    older = _ingest(store, tmp_path, "older", repetition=1)
    outcome = host_quiet(store, [cloud, older])
    assert outcome.passed
    assert outcome.description.startswith("not judged")


def test_no_run_at_all_fails(store) -> None:
    assert not host_quiet(store, ["absent"]).passed
