"""``nlp-bench sql``: it opens the store through ``MetricStore``, one connection per query, waits
while another process holds the file, and says in one line who held it past the wait (issue 14).

The holder is a real second process with a write connection, as a bench storing a run has.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from nlp_bench_pipeline.cli import build_parser, main, results
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore, StoreLocked

pytestmark = pytest.mark.slow  # starts a process that holds the file

HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("held", flush=True)
time.sleep(float(sys.argv[2])) if len(sys.argv) > 2 else sys.stdin.read()
conn.close()
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated store with one table of our own, named by ``NLP_BENCH_DB``."""
    path = tmp_path / "data" / "nlp_bench.duckdb"
    with MetricStore(path).connect() as conn:
        conn.execute("CREATE TABLE notes AS SELECT 42 AS answer")
    monkeypatch.setenv("NLP_BENCH_DB", str(path))
    get_pipeline_settings.cache_clear()
    yield path
    get_pipeline_settings.cache_clear()


@contextmanager
def held(path: Path, seconds: float | None = None) -> Iterator[subprocess.Popen]:
    """Another process holding ``path`` for writing: for ``seconds``, or until the block ends."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), *([] if seconds is None else [str(seconds)])],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "held\n"
        yield holder
    finally:
        if holder.stdin is not None:
            holder.stdin.close()
        holder.wait(timeout=30)


def holder_name(holder: subprocess.Popen) -> str:
    return f"PID {holder.pid} ({Path(sys.executable).resolve().name})"


def prompt_with(
    monkeypatch: pytest.MonkeyPatch, *lines: str, between: Callable[[], None] | None = None
) -> None:
    """The prompt reads ``lines``, then Ctrl-D; ``between`` runs before each line after the
    first, while the prompt waits for a person to type."""
    fed = list(lines)

    def fake_input(_prompt: str) -> str:
        if not fed:
            raise EOFError
        if len(fed) < len(lines) and between is not None:
            between()
        return fed.pop(0)

    monkeypatch.setattr("builtins.input", fake_input)


def test_a_query_waits_while_a_bench_holds_the_file_and_says_so_once(db: Path, capsys):
    with held(db, seconds=1.5) as holder:
        code = main(["sql", "SELECT answer FROM notes"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "42" in captured.out
    [waiting] = captured.err.strip().splitlines()
    assert waiting == (
        f"nlp-bench sql: {db} is held by {holder_name(holder)} (a bench storing a run, or "
        f"another open session); waiting up to {results.LOCK_WAIT_S:g} s for it, Ctrl-C to stop"
    )


@pytest.mark.parametrize("write", [False, True], ids=["read-only", "write"])
def test_a_file_locked_past_the_wait_is_one_line_naming_it_and_what_to_do(
    db: Path, write: bool, capsys, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(results, "LOCK_WAIT_S", 0.5)
    with held(db) as holder:
        code = main(["sql", *(["--write"] if write else []), "SELECT answer FROM notes"])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err
    lines = captured.err.strip().splitlines()
    assert lines[-1] == (
        f"nlp-bench sql: error: {db} stayed locked by {holder_name(holder)} for 0.5 s: run the "
        "query again once that process is done with the file (a bench holds it while it stores "
        "a run), or close the other session that has it open"
    )
    assert all(line.startswith(f"nlp-bench sql: {db} is held by ") for line in lines[:-1])


def test_the_store_raises_store_locked_naming_the_holder_still_an_io_exception(db: Path):
    told: list[str] = []
    store = MetricStore(db, lock_timeout_s=0.3, on_lock_wait=told.append)
    with held(db) as holder, pytest.raises(StoreLocked) as raised:
        store.query("SELECT 1")
    assert isinstance(raised.value, duckdb.IOException)  # what callers caught before
    assert (raised.value.path, raised.value.holder) == (db, holder_name(holder))
    assert str(raised.value) == f"{db} is locked by {holder_name(holder)} (waited 0.3 s)"
    assert told == [holder_name(holder)]


def test_the_prompt_lets_a_bench_write_between_statements(db: Path, capsys, monkeypatch):
    def a_bench_writes() -> None:  # fails if the prompt still held the file
        with duckdb.connect(str(db)) as conn:
            conn.execute("INSERT INTO notes VALUES (43)")

    prompt_with(
        monkeypatch, "SELECT 1;", "SELECT max(answer) AS top FROM notes;", between=a_bench_writes
    )
    assert main(["sql"]) == 0
    captured = capsys.readouterr()
    assert "43" in captured.out
    assert captured.err.splitlines()[0] == (
        f"{db} (read-only; opened for each statement, so a bench can store its runs in "
        "between); end each statement with ';', Ctrl-C drops it, Ctrl-D leaves"
    )


def test_the_prompt_says_read_write_with_write_and_its_statements_change_the_file(
    db: Path, capsys, monkeypatch
):
    prompt_with(monkeypatch, "INSERT INTO notes VALUES (7);")
    assert main(["sql", "--write"]) == 0
    assert (
        capsys.readouterr()
        .err.splitlines()[0]
        .startswith(f"{db} (read-write: statements may change it; opened for each statement")
    )
    assert MetricStore(db).query("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 2}]


def test_a_read_only_prompt_refuses_a_change_in_one_line_and_goes_on(db: Path, capsys, monkeypatch):
    prompt_with(monkeypatch, "INSERT INTO notes VALUES (7);", "SELECT 'still here' AS s;")
    assert main(["sql"]) == 0
    captured = capsys.readouterr()
    [refused] = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert "read-only" in refused
    assert "still here" in captured.out
    assert MetricStore(db).query("SELECT count(*) AS n FROM notes").to_pylist() == [{"n": 1}]


def test_the_help_says_read_only_unless_write(capsys):
    for argv in (["--help"], ["sql", "--help"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    help_text = " ".join(capsys.readouterr().out.split())
    assert "sql query the metric store (read-only unless --write); without a query" in help_text
    assert (
        "--write open the file for writing, so statements may change it (default: read-only)"
        in (help_text)
    )
