"""Hand-made runs for store tests: request rows in the runner's Parquet schema, and their record."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from nlp_bench_pipeline.core.runs import RunRecord
from nlp_bench_pipeline.loadgen.results import DROPPED_ERROR, REQUEST_SCHEMA

T0 = 1_800_000_000.0  # epoch seconds of the first intended send


def row(
    seq: int,
    *,
    latency_ms: float = 10.0,
    lateness_ms: float = 1.0,
    outcome: str = "ok",
    status: int | None = 200,
    phase: str = "measure",
    cold: bool | None = False,
    environment_id: str | None = "env-a",
    at_s: float | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """One request, intended ``at_s`` after T0 (default 10 ms per seq); dropped ones never sent."""
    intended = T0 + (seq * 0.01 if at_s is None else at_s)
    sent = None if outcome == "dropped" else intended + lateness_ms / 1000
    return {
        "seq": seq,
        "worker": 0,
        "phase": phase,
        "intended_s": intended,
        "sent_s": sent,
        "unblocked_s": intended + lateness_ms / 1000 if outcome == "dropped" else None,
        "done_s": None if sent is None else sent + latency_ms / 1000,
        "outcome": outcome,
        "status_code": None if outcome == "dropped" else status,
        "error": changes.pop("error", _default_error(outcome, status)),
        "environment_id": environment_id,
        "gateway_request_id": changes.pop("gateway_request_id", None),
        "cold_start_header": cold,
        "server_ms": latency_ms / 2 if outcome == "ok" else None,
        "input_tokens": 20 if outcome == "ok" else None,
        "payload_tokens": 20,
        **changes,
    }


def write_rows(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA), path)
    return path


def record(run_id: str, rows: list[dict[str, Any]], **changes: Any) -> RunRecord:
    fields: dict[str, Any] = {
        "run_id": run_id,
        "series_id": "series-1",
        "target": "local-k8s",
        "scenario": "warm_steady",
        "repetition": 0,
        "repetitions": 1,
        "profile": "quick",
        "started_at": datetime.fromtimestamp(T0 - 1, UTC),
        "finished_at": datetime.fromtimestamp(T0 + 60, UTC),
        "status": "complete",
        "scheduled": len(rows),
        "locust_requests": sum(r["outcome"] != "dropped" for r in rows),
        "dropped": sum(r["outcome"] == "dropped" for r in rows),
        "config": {"seed": 1},
        **changes,
    }
    return RunRecord(**fields)


def _default_error(outcome: str, status: int | None) -> str | None:
    return {"ok": None, "dropped": DROPPED_ERROR}.get(outcome, f"HTTP {status}")
