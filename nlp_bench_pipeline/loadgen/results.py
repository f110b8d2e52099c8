"""The rows a Locust process records, the Parquet file it writes, and the run's summary counts.

Every scheduled request ends as exactly one row with one outcome: ``ok``, ``http_error``,
``timeout``, ``connection_error``, or ``dropped`` (never sent because the in-flight bound was full).
Rows live in preallocated arrays indexed by the request's position in the process's share, so the
send path stores a few numbers and allocates nothing; the table is built once, at the end.
Times are ``time.time()`` epoch seconds (float64): the store turns them into timestamps and
millisecond durations.
"""

from __future__ import annotations

import json
import os
import platform
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER
from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen.repetition import (
    LOCUST_STATS_FILE,
    REQUESTS_GLOB,
    RepetitionPlan,
    progress_file,
)
from nlp_bench_pipeline.loadgen.schedule import PHASES

OUTCOMES = ("ok", "http_error", "timeout", "connection_error", "dropped")
DROPPED_ERROR = "inflight_limit"  # the error class of a dropped row
UNFINISHED_ERROR = "unfinished_at_drain"  # still in flight when the process had to stop
_TIMEOUT_NAMES = frozenset({"Timeout", "TimeoutError", "timeout", "ConnectTimeout"})
# API Gateway's request id (HTTP API, REST API): on its own errors too, so a request the function
# never answered can still be matched with the platform's events.
GATEWAY_REQUEST_ID_HEADERS = ("apigw-requestid", "x-amzn-requestid")

REQUEST_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("worker", pa.int16(), nullable=False),
        pa.field("phase", pa.string(), nullable=False),
        pa.field("intended_s", pa.float64(), nullable=False),
        pa.field("sent_s", pa.float64()),
        pa.field("unblocked_s", pa.float64()),  # dropped rows: when the pool next had room
        pa.field("done_s", pa.float64()),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("status_code", pa.int16()),
        pa.field("error", pa.string()),
        pa.field("environment_id", pa.string()),
        pa.field("gateway_request_id", pa.string()),
        pa.field("cold_start_header", pa.bool_()),
        pa.field("server_ms", pa.float64()),
        pa.field("input_tokens", pa.int32()),
        pa.field("model_digest", pa.dictionary(pa.int32(), pa.string())),
        pa.field("queue_ms", pa.float64()),
        pa.field("inference_ms", pa.float64()),
        pa.field("payload_tokens", pa.int32(), nullable=False),
    ]
)


def classify(status_code: int, error: BaseException | None) -> tuple[str, str | None]:
    """(outcome, error class) of a request that was sent.

    A non-2xx status is an ``http_error`` ('HTTP 503') whatever exception the client wrapped it
    in; otherwise the exception, if any, decides timeout vs connection error (a 2xx whose body
    could not be read is not ok).
    """
    if status_code and not 200 <= status_code < 300:
        return "http_error", f"HTTP {status_code}"
    if error is None:
        if status_code:
            return "ok", None
        return "connection_error", "NoResponse"
    name = type(error).__name__
    if name in _TIMEOUT_NAMES or isinstance(error, TimeoutError):
        return "timeout", name
    return "connection_error", name


@dataclass(frozen=True)
class BodyFacts:
    """What a /predict body says about its own serving: time, tokens, and the model served."""

    server_ms: float | None = None
    input_tokens: int | None = None
    model_digest: str | None = None
    queue_ms: float | None = None
    inference_ms: float | None = None


def parse_body(body: bytes | None) -> BodyFacts:
    """``timing.server_ms``, ``timing.input_tokens`` and ``model.digest``, when present."""
    if not body:
        return BodyFacts()
    try:
        parsed = json.loads(body)
        timing = parsed.get("timing") or {}
        model = parsed.get("model") or {}
    except (ValueError, AttributeError):
        return BodyFacts()
    tokens = timing.get("input_tokens")
    digest = model.get("digest") if isinstance(model, dict) else None
    return BodyFacts(
        server_ms=_number(timing.get("server_ms")),
        input_tokens=int(tokens) if isinstance(tokens, int) else None,
        model_digest=digest if isinstance(digest, str) else None,
        queue_ms=_number(timing.get("queue_ms")),
        inference_ms=_number(timing.get("inference_ms")),
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def parse_timing(body: bytes | None) -> tuple[float | None, int | None]:
    """``timing.server_ms`` and ``timing.input_tokens`` of a /predict body, when it has them."""
    facts = parse_body(body)
    return facts.server_ms, facts.input_tokens


def parse_cold_start(value: str | None) -> bool | None:
    """The ``x-nlp-bench-cold-start`` header: '1' / '0', absent on responses the app never saw."""
    if value is None:
        return None
    return value.strip() == "1"


class RequestLog:
    """The rows of one Locust process's share of the schedule."""

    def __init__(
        self,
        *,
        worker: int,
        seq: np.ndarray,
        intended_s: np.ndarray,
        phases: np.ndarray,
        payload_tokens: np.ndarray,
    ) -> None:
        n = len(seq)
        self.worker = worker
        self.seq = np.asarray(seq, dtype=np.int64)
        self.intended_s = np.asarray(intended_s, dtype=np.float64)
        self.phases = np.asarray(phases, dtype=np.int8)
        self.payload_tokens = np.asarray(payload_tokens, dtype=np.int32)
        self.sent_s = np.full(n, np.nan)
        self.unblocked_s = np.full(n, np.nan)
        self._waiting_for_slot: list[int] = []
        self.done_s = np.full(n, np.nan)
        self.outcome = np.full(n, -1, dtype=np.int8)  # index into OUTCOMES; -1 = not ended yet
        self.status_code = np.zeros(n, dtype=np.int16)  # 0 = no HTTP status
        self.server_ms = np.full(n, np.nan)
        self.input_tokens = np.full(n, -1, dtype=np.int32)
        self.model_digest: list[str | None] = [None] * n
        self.queue_ms = np.full(n, np.nan)
        self.inference_ms = np.full(n, np.nan)
        self.cold_start = np.full(n, -1, dtype=np.int8)  # -1 = no header
        self.error: list[str | None] = [None] * n
        self.environment_id: list[str | None] = [None] * n
        self.gateway_request_id: list[str | None] = [None] * n

    def __len__(self) -> int:
        return len(self.seq)

    def dropped(self, pos: int) -> None:
        """Not sent: the in-flight pool was full. Its lateness runs until a slot frees up."""
        self.outcome[pos] = OUTCOMES.index("dropped")
        self.error[pos] = DROPPED_ERROR
        self._waiting_for_slot.append(pos)

    def slot_freed(self, at: float) -> None:
        """A request left the pool: the drops since the last free slot stop being late here.

        This is how long the generator could not send each dropped request — the lateness it
        would have had at least, had it been queued — so send lateness shows a saturated pool
        instead of hiding it behind on-time sends (docs/adr/0032).
        """
        if self._waiting_for_slot:
            self.unblocked_s[self._waiting_for_slot] = at
            self._waiting_for_slot.clear()

    def sent(self, pos: int, at: float) -> None:
        self.sent_s[pos] = at

    def completed(
        self,
        pos: int,
        *,
        at: float,
        status_code: int,
        error: BaseException | None,
        header: Callable[[str], str | None],
        body: bytes | None,
    ) -> None:
        """Record a finished request: outcome, benchmark headers, and the body's timing."""
        self.done_s[pos] = at
        outcome, error_class = classify(status_code, error)
        self.outcome[pos] = OUTCOMES.index(outcome)
        self.status_code[pos] = status_code
        self.error[pos] = error_class
        self.environment_id[pos] = header(ENVIRONMENT_HEADER)
        self.gateway_request_id[pos] = next(
            (v for v in map(header, GATEWAY_REQUEST_ID_HEADERS) if v is not None), None
        )
        cold = parse_cold_start(header(COLD_START_HEADER))
        self.cold_start[pos] = -1 if cold is None else int(cold)
        if outcome == "ok":
            facts = parse_body(body)
            self.server_ms[pos] = np.nan if facts.server_ms is None else facts.server_ms
            self.input_tokens[pos] = -1 if facts.input_tokens is None else facts.input_tokens
            self.model_digest[pos] = facts.model_digest
            self.queue_ms[pos] = np.nan if facts.queue_ms is None else facts.queue_ms
            self.inference_ms[pos] = np.nan if facts.inference_ms is None else facts.inference_ms

    def failed(self, pos: int, *, at: float, error: BaseException) -> None:
        """A request whose sending raised before any response: a connection-level failure."""
        self.completed(pos, at=at, status_code=0, error=error, header=lambda _: None, body=None)

    def close_unfinished(self) -> int:
        """Rows still open when the process must stop become timeouts; returns how many."""
        open_rows = np.flatnonzero(self.outcome < 0)
        for pos in open_rows:
            self.outcome[pos] = OUTCOMES.index("timeout")
            self.error[pos] = UNFINISHED_ERROR
        return len(open_rows)

    def counts(self) -> dict[str, int]:
        """Rows so far by outcome, plus how many were sent."""
        ended = np.bincount(self.outcome[self.outcome >= 0], minlength=len(OUTCOMES))
        counts = {name: int(ended[i]) for i, name in enumerate(OUTCOMES)}
        counts["sent"] = int(np.count_nonzero(~np.isnan(self.sent_s)))
        return counts

    def to_table(self) -> pa.Table:
        if np.any(self.outcome < 0):
            raise RuntimeError("close_unfinished() first: some rows have no outcome")
        sent = ~np.isnan(self.sent_s)
        columns = {
            "seq": pa.array(self.seq),
            "worker": pa.array(np.full(len(self), self.worker, dtype=np.int16)),
            "phase": pa.array(np.array(PHASES, dtype=object)[self.phases], pa.string()),
            "intended_s": pa.array(self.intended_s),
            "sent_s": pa.array(self.sent_s, mask=~sent),
            "unblocked_s": pa.array(self.unblocked_s, mask=np.isnan(self.unblocked_s)),
            "done_s": pa.array(self.done_s, mask=np.isnan(self.done_s)),
            "outcome": pa.array(np.array(OUTCOMES, dtype=object)[self.outcome], pa.string()),
            "status_code": pa.array(self.status_code, mask=self.status_code == 0),
            "error": pa.array(self.error, pa.string()),
            "environment_id": pa.array(self.environment_id, pa.string()),
            "gateway_request_id": pa.array(self.gateway_request_id, pa.string()),
            "cold_start_header": pa.array(self.cold_start == 1, mask=self.cold_start < 0),
            "server_ms": pa.array(self.server_ms, mask=np.isnan(self.server_ms)),
            "input_tokens": pa.array(self.input_tokens, mask=self.input_tokens < 0),
            "model_digest": pa.array(self.model_digest, pa.string()).dictionary_encode(),
            "queue_ms": pa.array(self.queue_ms, mask=np.isnan(self.queue_ms)),
            "inference_ms": pa.array(self.inference_ms, mask=np.isnan(self.inference_ms)),
            "payload_tokens": pa.array(self.payload_tokens),
        }
        return pa.Table.from_pydict(columns, schema=REQUEST_SCHEMA)

    def write(self, path: Path) -> Path:
        """Write the Parquet file atomically (temp file + rename): readers never see half a file."""
        tmp = path.with_name(path.name + ".tmp")
        pq.write_table(self.to_table(), tmp, compression="zstd")
        os.replace(tmp, path)
        return path


def read_locust_stats(run_dir: Path) -> dict[str, int] | None:
    """Locust's totals as the locustfile saved them from Locust's own stats at quit."""
    try:
        return json.loads((run_dir / LOCUST_STATS_FILE).read_text())
    except (OSError, ValueError):
        return None


def summarise(
    plan: RepetitionPlan, *, started_at: datetime, finished_at: datetime, rows_expected_here: bool
) -> RunSummary:
    """Count the run's rows by outcome and check them against the schedule and Locust.

    ``rows_expected_here`` is False when workers on other machines keep their files: consistency
    is then unknown (None) rather than failed.
    """
    files = sorted(plan.run_dir.glob(REQUESTS_GLOB))
    table = (
        pa.concat_tables([pq.read_table(f, schema=REQUEST_SCHEMA) for f in files])
        if files
        else REQUEST_SCHEMA.empty_table()
    )
    by_outcome = _outcome_counts(table)
    schedule = plan.schedule()
    stats = read_locust_stats(plan.run_dir)
    locust_requests = stats["requests"] if stats else None
    if len(files) == plan.workers or rows_expected_here:
        problems = _problems(
            table, scheduled=len(schedule), dropped=by_outcome["dropped"], locust=locust_requests
        )
        consistent: bool | None = not problems
    else:
        problems = [f"rows stay with the workers: {len(files)} of {plan.workers} files here"]
        consistent = None
    return RunSummary(
        run_id=plan.run_id,
        series_id=plan.series_id,
        scenario=plan.scenario.name,
        profile=plan.scenario.profile,
        repetition=plan.repetition,
        seed=plan.scenario.seed,
        host=plan.target_host,
        workers=plan.workers,
        started_at=started_at,
        finished_at=finished_at,
        scheduled=len(schedule),
        scheduled_measure=schedule.count("measure"),
        rows=table.num_rows,
        sent=table.num_rows - by_outcome["dropped"],
        ok=by_outcome["ok"],
        errors=table.num_rows - by_outcome["ok"] - by_outcome["dropped"],
        dropped=by_outcome["dropped"],
        locust_requests=locust_requests,
        locust_failures=stats["failures"] if stats else None,
        workers_reported=len(files),
        consistent=consistent,
        problems=problems,
        run_dir=str(plan.run_dir),
        files=[str(f) for f in files],
        config=plan.scenario.model_dump(mode="json"),
        generator_host=_generator_host(),
        generator_tally=dict(
            progress_counts([progress_file(plan.run_dir, i) for i in range(plan.workers)])
        ),
        served_model_digests=_served_digests(table),
    )


def _served_digests(table: pa.Table) -> list[str]:
    """The model digests the successful responses named (normally exactly one)."""
    if "model_digest" not in table.column_names or table.num_rows == 0:
        return []
    ok = table.filter(pc.equal(table["outcome"], "ok"))
    digests = pc.unique(ok["model_digest"].cast(pa.string())).to_pylist()
    return sorted(d for d in digests if d)


def _generator_host() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _outcome_counts(table: pa.Table) -> dict[str, int]:
    counts = {name: 0 for name in OUTCOMES}
    for entry in pc.value_counts(table["outcome"]).to_pylist():
        counts[entry["values"]] = entry["counts"]
    return counts


def _problems(table: pa.Table, *, scheduled: int, dropped: int, locust: int | None) -> list[str]:
    """Every way the rows disagree with the schedule or with Locust's count."""
    problems = []
    rows = table.num_rows
    if rows != scheduled:
        problems.append(f"{rows} rows for {scheduled} scheduled requests")
    distinct = pc.count_distinct(table["seq"]).as_py() if rows else 0
    if distinct != rows:
        problems.append(f"{rows - distinct} duplicate seq numbers")
    if locust is None:
        problems.append("Locust's request count is missing (locust-stats.json)")
    elif locust + dropped != rows:
        problems.append(f"Locust counted {locust} requests + {dropped} dropped != {rows} rows")
    return problems


def progress_counts(files: list[Path]) -> Mapping[str, int]:
    """Sum the progress files the Locust processes rewrite while running."""
    total: dict[str, int] = {}
    for path in files:
        try:
            counts = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        for key, value in counts.items():
            if isinstance(value, int):
                total[key] = total.get(key, 0) + value
    return total
