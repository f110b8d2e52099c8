"""A cell killed mid-run is in the store as failed, not missing (issue 17).

``bench`` finds the killed Dagster run by its dead owner (``recover_abandoned_runs``) and hands
its run id here: every repetition whose ``plan.json`` the launcher wrote but whose row never
came is stored as a ``failed`` run, with no request rows (a crashed run leaves none
half-written) and its run directory named.
"""

from __future__ import annotations

import json
from pathlib import Path

from nlp_bench_pipeline.bench.cell import plan_cell, store_abandoned_repetitions
from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.store import MetricStore

PLAN = BenchmarkPlan(targets=["local-lambda"], scenarios=["warm_steady"], profile="smoke")
REASON = "abandoned: the bench running it was killed mid-cell"


def written_repetitions(work: Path, series_id: str):
    repetitions = plan_cell(
        Cell(target="local-lambda", scenario="warm_steady"), PLAN,
        series_id=series_id, provenance=Provenance(), work_dir=work,
    )  # fmt: skip
    for repetition in repetitions:
        repetition.write()
    return repetitions


def test_a_killed_cells_repetitions_are_stored_as_failed_runs_without_rows(tmp_path: Path) -> None:
    store = MetricStore(tmp_path / "bench.duckdb")
    [killed] = written_repetitions(tmp_path / "work", "dagster-run-1")
    written_repetitions(tmp_path / "work", "dagster-run-2")  # another cell's: not touched
    assert store_abandoned_repetitions(store, tmp_path / "work", "dagster-run-1", REASON) == [
        killed.run_id
    ]
    (row,) = store.query(
        "SELECT status, scheduled, host, (SELECT count(*) FROM requests) AS rows "
        "FROM benchmark_runs WHERE run_id = ?",
        [killed.run_id],
    ).to_pylist()
    assert row["status"] == "failed"
    assert row["scheduled"] == len(killed.schedule())
    assert row["rows"] == 0
    host = json.loads(row["host"])
    assert host["error"] == REASON
    assert host["run_dir"] == str(killed.run_dir)
    assert not store.has_run(f"dagster-run-2-{killed.run_id.split('-', 3)[-1]}")


def test_a_repetition_that_has_its_row_is_left_alone(tmp_path: Path) -> None:
    store = MetricStore(tmp_path / "bench.duckdb")
    [killed] = written_repetitions(tmp_path / "work", "dagster-run-1")
    store_abandoned_repetitions(store, tmp_path / "work", "dagster-run-1", REASON)
    assert store_abandoned_repetitions(store, tmp_path / "work", "dagster-run-1", REASON) == []
    assert store.has_run(killed.run_id)
