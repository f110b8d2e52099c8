"""A writer killed mid-ingestion leaves the old run or nothing — never part of a run."""

import subprocess
import sys
from pathlib import Path

import pytest

from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import record, row, write_rows

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NEW_ROWS = 200_000  # enough that the insert spills data blocks into the file before COMMIT


def kill_writer_mid_ingestion(db: Path, run_id: str, parquet: Path) -> None:
    errors = parquet.with_suffix(".stderr")
    with errors.open("w") as stderr:
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.store_writer", str(db), run_id,
             str(NEW_ROWS), str(parquet)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True,
        )  # fmt: skip
    try:
        lines = iter(writer.stdout.readline, "")
        assert "inside" in (line.strip() for line in lines), errors.read_text()
    finally:
        writer.kill()
        writer.wait(timeout=10)
    assert writer.returncode == -9, errors.read_text()


def run_state(store: MetricStore, run_id: str) -> tuple[int, int, str | None]:
    runs = store.query(
        "SELECT config->>'$.writer' AS writer FROM benchmark_runs WHERE run_id = ?", [run_id]
    ).to_pylist()
    rows = store.query("SELECT count(*) AS n FROM requests WHERE run_id = ?", [run_id]).to_pylist()
    return len(runs), rows[0]["n"], runs[0]["writer"] if runs else None


def test_a_killed_retry_leaves_the_previous_run_whole(tmp_path: Path):
    store = MetricStore(tmp_path / "metrics.duckdb")
    old = [row(i) for i in range(50)]
    store.ingest_run(
        record("run-1", old, config={"writer": "first"}),
        request_files=[write_rows(tmp_path / "old.parquet", old)],
    )
    kill_writer_mid_ingestion(store.path, "run-1", tmp_path / "new.parquet")
    assert run_state(store, "run-1") == (1, 50, "first")
    assert store.summary_rows(["run-1"])[0]["requests"] == 50


def test_a_killed_first_ingestion_leaves_nothing_and_the_file_usable(tmp_path: Path):
    store = MetricStore(tmp_path / "metrics.duckdb")
    store.migrate()
    kill_writer_mid_ingestion(store.path, "run-2", tmp_path / "new.parquet")
    assert run_state(store, "run-2") == (0, 0, None)
    again = [row(i) for i in range(10)]
    store.ingest_run(
        record("run-2", again), request_files=[write_rows(tmp_path / "a.parquet", again)]
    )
    assert run_state(store, "run-2")[:2] == (1, 10)
