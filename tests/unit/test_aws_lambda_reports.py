"""Lambda's platform log lines, in the Text and JSON log formats, as the pipeline's events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from nlp_bench_pipeline.targets.aws_lambda.reports import (
    InitStart,
    Report,
    TaskTimeout,
    parse_message,
    to_events,
)

AT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)
STREAM = "2026/12/01/[1]0123456789abcdef0123456789abcdef"
REQUEST_ID = "3f9c6b2e-1d4a-4e8f-9b7c-0a1b2c3d4e5f"
COLD_TEXT = (
    f"REPORT RequestId: {REQUEST_ID}\tDuration: 27.55 ms\tBilled Duration: 6229 ms\t"
    "Memory Size: 2048 MB\tMax Memory Used: 472 MB\tInit Duration: 6200.86 ms\t"
)
WARM_TEXT = (
    f"REPORT RequestId: {REQUEST_ID}\tDuration: 27.55 ms\tBilled Duration: 28 ms\t"
    "Memory Size: 2048 MB\tMax Memory Used: 472 MB\t"
)


def json_report(request_id: str = REQUEST_ID, **metrics: float) -> str:
    record = {
        "requestId": request_id,
        "metrics": {
            "durationMs": 27.55,
            "billedDurationMs": 28,
            "memorySizeMB": 2048,
            "maxMemoryUsedMB": 472,
            **metrics,
        },
        "status": "success",
    }
    return json.dumps(
        {"time": "2026-12-01T12:00:00.000Z", "type": "platform.report", "record": record}
    )


@pytest.mark.parametrize("message", [COLD_TEXT, json_report(initDurationMs=6200.86)])
def test_a_cold_report_in_either_format_reads_the_same(message: str) -> None:
    report = parse_message(message)
    assert isinstance(report, Report)
    assert (report.request_id, report.duration_ms, report.memory_mb) == (REQUEST_ID, 27.55, 2048)
    assert (report.max_memory_mb, report.init_ms, report.status) == (472, 6200.86, "success")


def test_billed_duration_is_read_not_computed() -> None:
    report = parse_message(COLD_TEXT)
    assert isinstance(report, Report)
    assert report.billed_ms == 6229


def test_a_cold_report_becomes_a_cold_start_at_the_init_end_and_a_report() -> None:
    cold, report = to_events(parse_message(COLD_TEXT), at=AT, log_stream=STREAM)
    assert (cold.kind, cold.init_ms, cold.environment_id) == ("cold_start", 6200.86, STREAM)
    assert cold.at == AT - timedelta(milliseconds=27.55)
    assert cold.detail["request_id"] == REQUEST_ID
    assert (report.kind, report.billed_ms, report.max_memory_mb) == ("report", 6229, 472)
    assert report.detail["log_format"] == "Text"


@pytest.mark.parametrize("message", [WARM_TEXT, json_report()])
def test_a_warm_report_is_one_report_event_without_init(message: str) -> None:
    (event,) = to_events(parse_message(message), at=AT, log_stream=STREAM)
    assert (event.kind, event.init_ms, event.duration_ms) == ("report", None, 27.55)


def test_a_timed_out_invoke_is_a_report_and_a_function_timeout() -> None:
    line = WARM_TEXT + "Status: timeout"
    report, timeout = to_events(parse_message(line), at=AT, log_stream=STREAM)
    assert report.detail["status"] == "timeout"
    assert (timeout.kind, timeout.detail["scope"]) == ("timeout", "function")


def test_a_runtime_that_exited_is_a_crash() -> None:
    line = WARM_TEXT + "Status: error\tError Type: Runtime.ExitError"
    kinds = [e.kind for e in to_events(parse_message(line), at=AT, log_stream=STREAM)]
    assert kinds == ["report", "crash"]


def test_init_start_keeps_the_initialisation_type_where_the_json_format_gives_it() -> None:
    json_line = json.dumps(
        {
            "time": "2026-12-01T12:00:00Z",
            "type": "platform.initStart",
            "record": {"initializationType": "provisioned-concurrency", "phase": "init"},
        }
    )
    text_line = "INIT_START Runtime Version: python:3.11.v40\tRuntime Version ARN: arn:aws:lambda"
    assert parse_message(json_line) == InitStart("provisioned-concurrency", None)
    assert parse_message(text_line) == InitStart(None, "python:3.11.v40")
    (event,) = to_events(parse_message(json_line), at=AT, log_stream=STREAM)
    assert (event.kind, event.detail["init_type"]) == ("init_start", "provisioned-concurrency")


def test_an_init_past_its_limit_is_an_init_timeout() -> None:
    line = "INIT_REPORT Init Duration: 10000.21 ms\tPhase: init\tStatus: timeout"
    (event,) = to_events(parse_message(line), at=AT, log_stream=STREAM)
    assert (event.kind, event.init_ms, event.detail["scope"]) == ("timeout", 10000.21, "init")


def test_the_runtimes_task_timed_out_line_names_its_request() -> None:
    line = f"2026-12-01T12:00:30.000Z {REQUEST_ID} Task timed out after 30.00 seconds"
    assert parse_message(line) == TaskTimeout(REQUEST_ID, 30.0)


@pytest.mark.parametrize(
    "message",
    [
        f"START RequestId: {REQUEST_ID} Version: 1",
        f"END RequestId: {REQUEST_ID}",
        '{"level": "INFO", "message": "served"}',
        "{not json",
        "REPORT RequestId: \tDuration: ms",
        "INIT_REPORT Init Duration: 812.00 ms\tPhase: init\tStatus: success",
    ],
)
def test_lines_that_are_not_platform_records_are_ignored(message: str) -> None:
    assert parse_message(message) is None
