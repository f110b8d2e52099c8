"""The standalone load generator's ``--db`` is checked before any load is sent (issue 17, 6).

Before, a read-only DuckDB path was found only after the load test: the rows stayed in Parquet
and a raw traceback named the path but not the option. Now a path that cannot take the rows is
one line naming ``--db``, exit 2, and nothing has been sent or written to the work directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.store import MetricStore


def run(tmp_path: Path, db: Path) -> list[str]:
    return [
        "run",
        "--host",
        "http://127.0.0.1:9",
        "--scenario",
        "warm_steady",
        "--profile",
        "smoke",
        "--work-dir",
        str(tmp_path / "work"),
        "--db",
        str(db),
    ]


@pytest.fixture
def no_load(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to send load, or to look for the service, fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("load was about to be sent with an unusable --db")

    monkeypatch.setattr(runner, "run_plan", refuse)
    monkeypatch.setattr(runner, "unreachable", refuse)


def a_file_in_the_way(tmp_path: Path) -> Path:
    (tmp_path / "notes.txt").write_text("not a folder")
    return tmp_path / "notes.txt" / "results" / "bench.duckdb"


def a_directory_in_its_place(tmp_path: Path) -> Path:
    (tmp_path / "bench.duckdb").mkdir()
    return tmp_path / "bench.duckdb"


def not_a_duckdb_file(tmp_path: Path) -> Path:
    (tmp_path / "bench.duckdb").write_text("a spreadsheet, once")
    return tmp_path / "bench.duckdb"


def a_read_only_folder(tmp_path: Path) -> Path:
    return Path("/sys/nlp_bench.duckdb")  # sysfs: no process may create a file there, root too


def a_folder_that_cannot_be_made(tmp_path: Path) -> Path:
    return Path("/sys/nlp-bench/bench.duckdb")


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        (a_file_in_the_way, "Not a directory"),
        (a_directory_in_its_place, "Is a directory"),
        (not_a_duckdb_file, "not a valid DuckDB database file"),
        (a_read_only_folder, "Permission denied"),
        (a_folder_that_cannot_be_made, "not permitted"),
    ],
)
def test_an_unusable_db_is_one_line_naming_it_before_any_load(
    where, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], no_load: None
) -> None:
    db = where(tmp_path)
    code = runner.main(run(tmp_path, db))
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert code == runner.EXIT_USAGE
    assert line.startswith(f"{runner.PROG} run: error: --db {db}: cannot be written (")
    assert reason in line
    assert captured.out == ""
    assert not (tmp_path / "work").exists()  # no run directory: nothing was started


def test_a_db_whose_folder_is_missing_is_made_and_ready_before_the_run(tmp_path: Path) -> None:
    db = tmp_path / "new" / "results" / "bench.duckdb"
    assert runner.db_problem(db) is None
    assert MetricStore(db).schema_version() > 0  # opened for writing, the schema in place
    assert runner.db_problem(db) is None  # and an existing store is as good
