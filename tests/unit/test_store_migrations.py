"""Schema migrations: fresh files get the latest schema, old ones are upgraded, re-runs no-op."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.migrations import available_migrations, latest_version, migrate

TABLES = {"benchmark_runs", "requests", "platform_events", "resource_samples", "schema_migrations"}
VIEWS = {"run_summary", "run_errors", "latest_runs", "scenario_summary", "cold_start_stats"}


def relations(path: Path) -> dict[str, str]:
    with duckdb.connect(str(path), read_only=True) as conn:
        rows = conn.execute(
            "SELECT table_name, table_type FROM information_schema.tables"
        ).fetchall()
    return dict(rows)


def test_a_fresh_file_gets_the_latest_schema(tmp_path: Path):
    store = MetricStore(tmp_path / "fresh.duckdb")
    assert store.migrate() == [m.version for m in available_migrations()]
    found = relations(store.path)
    assert {name for name, kind in found.items() if kind == "BASE TABLE"} >= TABLES
    assert {name for name, kind in found.items() if kind == "VIEW"} >= VIEWS
    assert store.schema_version() == latest_version()


def test_running_the_migrations_again_is_a_no_op(tmp_path: Path):
    store = MetricStore(tmp_path / "again.duckdb")
    store.migrate()
    applied = store.query("SELECT version, applied_at FROM schema_migrations").to_pylist()
    assert store.migrate() == []
    assert store.query("SELECT version, applied_at FROM schema_migrations").to_pylist() == applied


def test_an_older_file_is_upgraded_and_keeps_its_data(tmp_path: Path):
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as conn:
        assert migrate(conn, target=1) == [1]
        conn.execute(
            "INSERT INTO benchmark_runs (run_id, series_id, target, scenario, repetition,"
            " repetitions, profile, started_at, status, scheduled, dropped)"
            " VALUES ('old-run', 's', 'local-k8s', 'ramp', 0, 1, 'quick', now(), 'failed', 0, 0)"
        )
    store = MetricStore(path)
    with store.connect():  # any write connection upgrades
        pass
    assert store.schema_version() == latest_version()
    assert store.summary_rows(["old-run"])[0]["requests"] == 0
    (stats,) = store.query("SELECT cold_starts, cold_start_n FROM cold_start_stats").to_pylist()
    assert stats == {"cold_starts": 0, "cold_start_n": 0}


def test_a_reader_of_a_fresh_path_finds_the_schema_ready(tmp_path: Path):
    store = MetricStore(tmp_path / "nested" / "reader.duckdb")
    assert store.scenario_summary() == []
    assert store.schema_version() == latest_version()


def test_a_file_newer_than_the_code_is_refused(tmp_path: Path):
    store = MetricStore(tmp_path / "future.duckdb")
    store.migrate()
    with duckdb.connect(str(store.path)) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")
    with pytest.raises(RuntimeError, match="newer than this code"):
        store.migrate()


def test_a_failing_migration_leaves_no_trace(tmp_path: Path, monkeypatch):
    from nlp_bench_pipeline.store import migrations

    broken = (*available_migrations(), migrations.Migration(latest_version() + 1, "bad", "NOPE;"))
    monkeypatch.setattr(migrations, "available_migrations", lambda: broken)
    store = MetricStore(tmp_path / "broken.duckdb")
    with pytest.raises(duckdb.ParserException):
        store.migrate()
    monkeypatch.undo()
    assert store.schema_version() == latest_version()
