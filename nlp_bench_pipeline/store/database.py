"""The one access layer to the DuckDB metric store: every query of the pipeline lives here.

Connections are short: opened for one ingestion or one query and closed at once, because DuckDB
lets one process hold a file for writing and nobody else in while it does. Between runs an analyst
can open the file with the duckdb CLI or Python; a connection that finds the file locked waits and
retries for a while rather than failing on the first try, and past that raises
:class:`StoreLocked`, which names the file and the process holding it. Every write connection
first brings the schema up to date (``migrations.py``), so any file — fresh or old — is usable.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample
from nlp_bench_pipeline.core.runs import RunRecord
from nlp_bench_pipeline.store.ingest import IngestReport, load_run
from nlp_bench_pipeline.store.migrations import latest_version, migrate, schema_version

LOCK_RETRY_S = 0.2
# DuckDB's lock error: 'Could not set lock on file "…": Conflicting lock is held in <exe> (PID n)'
LOCK_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
SCENARIO_SUMMARY_SQL = "SELECT * FROM scenario_summary ORDER BY target, scenario, profile"
EXPORTABLE = frozenset(
    {
        "benchmark_runs",
        "requests",
        "platform_events",
        "resource_samples",
        "run_summary",
        "cold_start_stats",
        "run_errors",
        "latest_runs",
        "scenario_summary",
        "run_checks",
        "refused_runs",
        "cost_estimates",
        "cost_breakeven",
        "memory_sweep",
        "simulation_results",
        "simulation_validation",
    }
)


class CheckVerdict(NamedTuple):
    """One check's verdict on a run, as ``run_checks`` keeps it."""

    check_name: str
    blocking: bool
    passed: bool
    description: str


class StoreError(RuntimeError):
    """The store refused an operation; the message says why."""


class StoreLocked(StoreError, duckdb.IOException):
    """The file stayed locked by another process for the whole wait.

    Also a ``duckdb.IOException``, what the store raised here before, so callers that caught
    that still do.
    """

    def __init__(self, path: Path, holder: str, waited_s: float) -> None:
        self.path, self.holder, self.waited_s = path, holder, waited_s
        super().__init__(f"{path} is locked by {holder} (waited {waited_s:g} s)")


def lock_holder(error: duckdb.Error) -> str:
    """Who holds the file, from DuckDB's lock error: ``PID 123 (python3.11)``."""
    found = LOCK_HOLDER.search(str(error))
    if found is None:
        return "another process"
    return f"PID {found['pid']} ({Path(found['program']).name})"


def json_object(value: Any) -> dict[str, Any]:
    """A JSON column's object as a dict: DuckDB hands JSON over as text (None: empty)."""
    return json.loads(value) if isinstance(value, str) else dict(value or {})


class MetricStore:
    """The metric store file: connections, migrations, ingestion, and the pipeline's queries."""

    def __init__(
        self,
        path: Path | str,
        *,
        lock_timeout_s: float = 60.0,
        on_lock_wait: Callable[[str], None] | None = None,
    ) -> None:
        """``on_lock_wait`` is told the holder (:func:`lock_holder`) when an open starts to wait,
        so a command a person runs can say why it is quiet."""
        self.path = Path(path)
        self.lock_timeout_s = lock_timeout_s
        self.on_lock_wait = on_lock_wait

    @contextlib.contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection in UTC; a write connection has the latest schema."""
        if read_only and not self._current():
            self.migrate()
        conn = self._open(read_only)
        try:
            conn.execute("SET TimeZone = 'UTC'")
            if not read_only:
                migrate(conn)
                # migrate() reads the version with fetchone(), leaving that result open, and
                # DuckDB 2 refuses the relation API (conn.sql) while one is: finish it.
                conn.complete()
            yield conn
        finally:
            conn.close()

    def migrate(self, target: int | None = None) -> list[int]:
        """Create or upgrade the schema (to ``target``, default latest); returns versions run."""
        conn = self._open(read_only=False)
        try:
            return migrate(conn, target)
        finally:
            conn.close()

    def schema_version(self) -> int:
        if not self.path.exists():
            return 0
        conn = self._open(read_only=True)
        try:
            return schema_version(conn)
        finally:
            conn.close()

    def _current(self) -> bool:
        return self.path.exists() and self.schema_version() >= latest_version()

    def _open(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting while another process holds its lock."""
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        waiting = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise
                if time.monotonic() > deadline:
                    raise StoreLocked(self.path, lock_holder(exc), self.lock_timeout_s) from exc
                if not waiting and self.on_lock_wait is not None:
                    self.on_lock_wait(lock_holder(exc))
                waiting = True
                time.sleep(LOCK_RETRY_S)

    # ------------------------------------------------------------------------------ queries

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] | None = None) -> pa.Table:
        """Run a read-only query and return an Arrow table."""
        with self.connect(read_only=True) as conn:
            return conn.sql(sql, params=params or []).to_arrow_table()

    def has_run(self, run_id: str) -> bool:
        """Whether ``benchmark_runs`` holds ``run_id`` (in any status)."""
        found = self.query("SELECT count(*) AS n FROM benchmark_runs WHERE run_id = ?", [run_id])
        return bool(found.column("n")[0].as_py())

    def summary_rows(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """``run_summary`` rows for these runs, in the order given."""
        rows = self.query(
            "SELECT * FROM run_summary WHERE list_contains(?, run_id)", [list(run_ids)]
        ).to_pylist()
        by_id = {row["run_id"]: row for row in rows}
        return [by_id[run_id] for run_id in run_ids if run_id in by_id]

    def run_hosts(self, run_ids: Sequence[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Per run: its target and ``benchmark_runs.host`` (the deployment, warming, host load)."""
        rows = self.query(
            "SELECT run_id, target, host FROM benchmark_runs WHERE list_contains(?, run_id)",
            [list(run_ids)],
        ).to_pylist()
        return {row["run_id"]: (row["target"], json_object(row["host"])) for row in rows}

    def errors_by_class(self, run_id: str) -> list[dict[str, Any]]:
        """``run_errors`` rows of one run, most frequent first."""
        return self.query(
            "SELECT * FROM run_errors WHERE run_id = ? ORDER BY requests DESC, error", [run_id]
        ).to_pylist()

    def latest_complete_runs(self, target: str, scenario: str, profile: str) -> list[str]:
        """Run ids of the latest series in which every repetition completed, by repetition."""
        table = self.query(
            "SELECT run_id FROM latest_runs JOIN benchmark_runs USING (run_id)"
            " WHERE target = ? AND scenario = ? AND profile = ? ORDER BY repetition",
            [target, scenario, profile],
        )
        return table.column("run_id").to_pylist()

    def latest_series(self, target: str, scenario: str) -> list[str]:
        """Run ids of the most recent series (all its repetitions) of a cell, by repetition.

        Unlike the ``latest_runs`` view (the latest *complete* series, what summaries show),
        this is the newest attempt whatever its status: the one the checks must judge.
        """
        table = self.query(
            """
            SELECT run_id FROM benchmark_runs
            WHERE series_id = (
                SELECT series_id FROM benchmark_runs WHERE target = ? AND scenario = ?
                ORDER BY started_at DESC LIMIT 1)
              AND target = ? AND scenario = ?
            ORDER BY repetition
            """,
            [target, scenario, target, scenario],
        )
        return table.column("run_id").to_pylist()

    def row_accounting(self, run_ids: Sequence[str]) -> list[dict[str, Any]]:
        """Per run: status, scheduled, Locust's count, the generator's tally, and the rows:
        how many, how many distinct ``seq``, how many sent, and how many of each outcome."""
        return self.query(
            """
            SELECT b.run_id, b.status, b.scheduled, b.locust_requests, b.dropped,
                   b.generator_tally,
                   count(r.seq) AS rows, count(DISTINCT r.seq) AS distinct_seq,
                   count(r.sent_at) AS sent,
                   count(*) FILTER (WHERE r.outcome = 'ok') AS ok,
                   count(*) FILTER (WHERE r.outcome = 'http_error') AS http_error,
                   count(*) FILTER (WHERE r.outcome = 'timeout') AS timeout,
                   count(*) FILTER (WHERE r.outcome = 'connection_error') AS connection_error,
                   count(*) FILTER (WHERE r.outcome = 'dropped') AS dropped_rows
            FROM benchmark_runs b LEFT JOIN requests r USING (run_id)
            WHERE list_contains(?, b.run_id)
            GROUP BY ALL ORDER BY b.run_id
            """,
            [list(run_ids)],
        ).to_pylist()

    def latest_summary_rows(self, profile: str | None = None) -> list[dict[str, Any]]:
        """``run_summary`` rows of the latest complete series of every cell (of ``profile``)."""
        if not self.path.exists():
            return []
        return self.query(
            "SELECT s.* FROM run_summary s JOIN latest_runs USING (run_id)"
            " WHERE ? IS NULL OR s.profile = ? ORDER BY s.target, s.scenario, s.repetition",
            [profile, profile],
        ).to_pylist()

    def record_checks(self, run_ids: Sequence[str], outcomes: Sequence[CheckVerdict]) -> None:
        """Store each check's verdict on each of ``run_ids`` (a re-check replaces the last)."""
        rows = [(run_id, *verdict) for run_id in run_ids for verdict in outcomes]
        if not rows:
            return
        with self.connect() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                conn.executemany(
                    "INSERT OR REPLACE INTO run_checks"
                    " (run_id, check_name, blocking, passed, description, checked_at)"
                    " VALUES (?, ?, ?, ?, ?, current_timestamp)",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def refused_runs(self) -> list[dict[str, Any]]:
        """Runs a blocking check refused (the summaries leave them out), newest first."""
        if not self.path.exists():
            return []
        return self.query("SELECT * FROM refused_runs").to_pylist()

    def scenario_summary(self) -> list[dict[str, Any]]:
        """Mean and 95 % interval over the repetitions of each latest complete series."""
        return self.query(SCENARIO_SUMMARY_SQL).to_pylist()

    def export(self, relation: str, path: Path, *, run_ids: Sequence[str] | None = None) -> Path:
        """Write a table or view (optionally only some runs) to ``.csv`` or ``.parquet``."""
        if relation not in EXPORTABLE:
            raise StoreError(f"cannot export {relation!r}; choose one of {sorted(EXPORTABLE)}")
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".parquet"):
            raise StoreError(f"export to .csv or .parquet, not {path}")
        if run_ids is not None and relation == "scenario_summary":
            raise StoreError("scenario_summary has one row per series, not per run: no run_ids")
        sql = f"SELECT * FROM {relation}"  # noqa: S608 - relation is from the allowlist above
        table = (
            self.query(sql + " WHERE list_contains(?, run_id)", [list(run_ids)])
            if run_ids is not None
            else self.query(sql)
        )
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".csv":
            pacsv.write_csv(table, path)
        else:
            pq.write_table(table, path)
        return Path(path)

    # ------------------------------------------------------------------------------ writes

    def ingest_run(
        self,
        run: RunRecord,
        *,
        request_files: Sequence[Path | str],
        events: Sequence[PlatformEvent] = (),
        samples: Sequence[ResourceSample] = (),
    ) -> IngestReport:
        """Load a run's Parquet files with the target's events and samples, in one transaction."""
        with self.connect() as conn:
            return load_run(conn, run, request_files=request_files, events=events, samples=samples)
