"""Lambda's platform log lines (REPORT, INIT_START, INIT_REPORT) as the pipeline's events.

Lambda writes one REPORT per invoke into the environment's log stream, in the function's log
format: *Text*, a tab-separated line

    REPORT RequestId: 3f9c…	Duration: 27.55 ms	Billed Duration: 28 ms	Memory Size: 1024 MB
    Max Memory Used: 472 MB	Init Duration: 1234.56 ms

(Init Duration on cold starts only; ``Status`` and ``Error Type`` on failures), or *JSON*, a
``platform.report`` record with the same figures under ``record.metrics``. Both become the same
``PlatformEvent`` kinds the local Lambda emits: ``report`` for every REPORT, ``cold_start`` (with
``init_ms``) when Init Duration is present, ``init_start`` for INIT_START, ``timeout`` for a
function or init that ran out of time, ``crash`` for a runtime that exited. The log stream is
the execution environment, and the service's ``x-nlp-bench-environment-id`` header names the same
stream (``AWS_LAMBDA_LOG_STREAM_NAME``), so requests and events join on it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from nlp_bench_pipeline.core.records import PlatformEvent

TARGET = "aws-lambda"
SOURCE = "cloudwatch-logs"
LogFormat = Literal["Text", "JSON"]
_TEXT_FIELD = re.compile(r"^(?P<name>[A-Za-z][A-Za-z ]*?):\s*(?P<value>.*?)\s*$")
_NUMBER = re.compile(r"^(?P<number>[0-9]+(?:\.[0-9]+)?)")
_TASK_TIMEOUT = re.compile(r"Task timed out after (?P<seconds>[0-9.]+) seconds")
# The runtime ended: the invoke's REPORT says so with this error type.
_CRASH_ERROR_TYPES = {"Runtime.ExitError"}


@dataclass(frozen=True)
class Report:
    """One invoke's REPORT, in either log format."""

    request_id: str
    duration_ms: float
    billed_ms: float | None
    memory_mb: float
    max_memory_mb: float | None
    init_ms: float | None
    status: str
    error_type: str | None
    log_format: LogFormat


@dataclass(frozen=True)
class InitStart:
    """An execution environment began its init (``init_type`` only in the JSON format)."""

    init_type: str | None
    runtime_version: str | None


@dataclass(frozen=True)
class InitTimeout:
    """An init ran past its limit (INIT_REPORT with ``Status: timeout``)."""

    init_ms: float | None


@dataclass(frozen=True)
class TaskTimeout:
    """The function ran past its timeout (the runtime's ``Task timed out`` line)."""

    request_id: str | None
    seconds: float


LogRecord = Report | InitStart | InitTimeout | TaskTimeout


def parse_message(message: str) -> LogRecord | None:
    """The platform record in one CloudWatch log event, or None for anything else.

    The format is recognised per line (a JSON object or text), so a function whose format was
    changed mid-run still parses.
    """
    text = message.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        return _parse_json(parsed) if isinstance(parsed, dict) else None
    first = text.split("\n", 1)[0]
    if first.startswith("REPORT "):
        return _parse_text_report(first)
    if first.startswith("INIT_START"):
        fields = _text_fields(first.removeprefix("INIT_START"))
        return InitStart(init_type=None, runtime_version=fields.get("Runtime Version"))
    if first.startswith("INIT_REPORT"):
        fields = _text_fields(first.removeprefix("INIT_REPORT"))
        if fields.get("Status") == "timeout":
            return InitTimeout(init_ms=_ms(fields.get("Init Duration")))
        return None
    timeout = _TASK_TIMEOUT.search(first)
    if timeout:
        request_id = next((part for part in first.split() if _looks_like_request_id(part)), None)
        return TaskTimeout(request_id=request_id, seconds=float(timeout["seconds"]))
    return None


def to_events(record: LogRecord, *, at: datetime, log_stream: str) -> list[PlatformEvent]:
    """The pipeline's events for one platform record logged at ``at`` in ``log_stream``."""
    source = {"source": SOURCE}
    if isinstance(record, Report):
        return _report_events(record, at=at, log_stream=log_stream)
    if isinstance(record, InitStart):
        detail = {
            **source,
            "init_type": record.init_type,
            "runtime_version": record.runtime_version,
        }
        return [_event("init_start", at, log_stream, detail=detail)]
    if isinstance(record, InitTimeout):
        detail = {**source, "scope": "init", "phase": "init"}
        return [_event("timeout", at, log_stream, init_ms=record.init_ms, detail=detail)]
    detail = {
        **source,
        "scope": "function",
        "phase": "invoke",
        "request_id": record.request_id,
        "message": f"Task timed out after {record.seconds:.2f} seconds",
    }
    return [_event("timeout", at, log_stream, duration_ms=record.seconds * 1000.0, detail=detail)]


def event_time(timestamp_ms: int) -> datetime:
    """A CloudWatch Logs timestamp (epoch milliseconds) as an aware UTC datetime."""
    return datetime.fromtimestamp(timestamp_ms / 1000.0, tz=UTC)


# --------------------------------------------------------------------------- the two formats


def _parse_text_report(line: str) -> Report | None:
    fields = _text_fields(line.removeprefix("REPORT"))
    request_id = fields.get("RequestId")
    duration = _ms(fields.get("Duration"))
    if not request_id or duration is None:
        return None
    init_ms = _ms(fields.get("Init Duration"))
    return Report(
        request_id=request_id,
        duration_ms=duration,
        billed_ms=_ms(fields.get("Billed Duration")),
        memory_mb=_ms(fields.get("Memory Size")) or 0.0,
        max_memory_mb=_ms(fields.get("Max Memory Used")),
        init_ms=init_ms,
        status=fields.get("Status", "success"),
        error_type=fields.get("Error Type"),
        log_format="Text",
    )


def _parse_json(parsed: dict[str, Any]) -> LogRecord | None:
    kind = parsed.get("type")
    record = parsed.get("record")
    if not isinstance(record, dict):
        return None
    if kind == "platform.report":
        metrics = record.get("metrics") or {}
        duration = _number(metrics.get("durationMs"))
        if not record.get("requestId") or duration is None:
            return None
        init_ms = _number(metrics.get("initDurationMs"))
        return Report(
            request_id=str(record["requestId"]),
            duration_ms=duration,
            billed_ms=_number(metrics.get("billedDurationMs")),
            memory_mb=_number(metrics.get("memorySizeMB")) or 0.0,
            max_memory_mb=_number(metrics.get("maxMemoryUsedMB")),
            init_ms=init_ms,
            status=str(record.get("status", "success")),
            error_type=record.get("errorType"),
            log_format="JSON",
        )
    if kind == "platform.initStart":
        return InitStart(
            init_type=record.get("initializationType"), runtime_version=record.get("runtimeVersion")
        )
    if kind == "platform.initReport" and record.get("status") == "timeout":
        return InitTimeout(init_ms=_number((record.get("metrics") or {}).get("durationMs")))
    return None


def _report_events(report: Report, *, at: datetime, log_stream: str) -> list[PlatformEvent]:
    detail: dict[str, Any] = {
        "source": SOURCE,
        "request_id": report.request_id,
        "status": report.status,
        "error_type": report.error_type,
        "log_format": report.log_format,
        "over_memory": (report.max_memory_mb or 0) > report.memory_mb > 0,
    }
    events = []
    if report.init_ms is not None:
        # Lambda logs the REPORT when the invoke ends; the init ended when the invoke began.
        init_end = at - timedelta(milliseconds=report.duration_ms)
        cold = {"source": SOURCE, "request_id": report.request_id, "init_type": "on-demand"}
        events.append(
            _event("cold_start", init_end, log_stream, init_ms=report.init_ms, detail=cold)
        )
    events.append(
        _event(
            "report",
            at,
            log_stream,
            duration_ms=report.duration_ms,
            billed_ms=report.billed_ms,
            memory_mb=report.memory_mb,
            max_memory_mb=report.max_memory_mb,
            init_ms=report.init_ms,
            detail=detail,
        )
    )
    if report.status == "timeout":
        timeout = {"source": SOURCE, "scope": "function", "phase": "invoke"}
        events.append(
            _event(
                "timeout",
                at,
                log_stream,
                duration_ms=report.duration_ms,
                detail={**timeout, "request_id": report.request_id},
            )
        )
    elif report.error_type in _CRASH_ERROR_TYPES:
        crash = {"source": SOURCE, "request_id": report.request_id, "error_type": report.error_type}
        events.append(_event("crash", at, log_stream, detail=crash))
    return events


def _event(kind: Any, at: datetime, environment_id: str, **fields: Any) -> PlatformEvent:
    return PlatformEvent(at=at, target=TARGET, kind=kind, environment_id=environment_id, **fields)


def _text_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in text.split("\t"):
        match = _TEXT_FIELD.match(part.strip())
        if match:
            fields[match["name"].strip()] = match["value"]
    return fields


def _ms(value: str | None) -> float | None:
    """``27.55 ms`` or ``1024 MB`` → the number."""
    if value is None:
        return None
    match = _NUMBER.match(value.strip())
    return float(match["number"]) if match else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _looks_like_request_id(text: str) -> bool:
    return bool(re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", text))
