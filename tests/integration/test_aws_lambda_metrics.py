"""The CloudWatch fetcher against moto: REPORT lines in both log formats, the lag wait, the lines
that never arrive, and the AWS/Lambda metrics."""

from __future__ import annotations

import contextlib
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_lambda.metrics import (
    FunctionLogs,
    FunctionMetrics,
    ReportWait,
    collect_reports,
    metric_summary,
    throttle_events,
)
from tests.unit.test_aws_lambda_reports import COLD_TEXT, REQUEST_ID, WARM_TEXT, json_report

pytestmark = pytest.mark.slow


@pytest.fixture
def log_group(clients: AwsClients, request: pytest.FixtureRequest) -> str:
    name = f"/aws/lambda/{request.node.name[:40]}"
    clients.client("logs").create_log_group(logGroupName=name)
    return name


def write(clients: AwsClients, group: str, stream: str, *messages: str) -> None:
    logs = clients.client("logs")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    now_ms = int(time.time() * 1000)
    events = [{"timestamp": now_ms + i, "message": m} for i, m in enumerate(messages)]
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)


def warm(n: int) -> str:
    return WARM_TEXT.replace(REQUEST_ID, f"00000000-0000-4000-8000-{n:012d}")


def quick(**overrides: Any) -> ReportWait:
    return ReportWait(**{"max_wait_s": 5.0, "settle_s": 3.0, "poll_s": 0.05, **overrides})


START = datetime.now(UTC) - timedelta(minutes=5)


def test_reports_in_text_and_json_become_report_and_cold_start_events(
    clients: AwsClients, log_group: str
) -> None:
    write(clients, log_group, "text-env", "START RequestId: x Version: 1", COLD_TEXT)
    other = "9a8b7c6d-0000-4000-8000-000000000001"
    write(clients, log_group, "json-env", json_report(other, initDurationMs=900.0))
    events = FunctionLogs(clients.client("logs"), log_group).read(START, datetime.now(UTC))
    by_kind = sorted((e.kind, e.environment_id, e.init_ms) for e in events)
    assert by_kind == [
        ("cold_start", "json-env", 900.0),
        ("cold_start", "text-env", 6200.86),
        ("report", "json-env", 900.0),
        ("report", "text-env", 6200.86),
    ]


def test_a_report_delivered_twice_counts_once(clients: AwsClients, log_group: str) -> None:
    write(clients, log_group, "env", WARM_TEXT, WARM_TEXT)
    logs = FunctionLogs(clients.client("logs"), log_group)
    logs.read(START, datetime.now(UTC))
    logs.read(START, datetime.now(UTC))
    assert logs.report_count == 1
    assert [e.kind for e in logs.events()] == ["report"]


def test_the_wait_lasts_until_late_report_lines_arrive(clients: AwsClients, log_group: str) -> None:
    write(clients, log_group, "env", *(warm(n) for n in range(3)))
    late = threading.Timer(0.6, write, (clients, log_group, "env", warm(3), warm(4)))
    late.start()
    collection = collect_reports(
        FunctionLogs(clients.client("logs"), log_group),
        start=START,
        expected=lambda: 5,
        wait=quick(),
    )
    late.join()
    assert (collection.reports, collection.missing, collection.stopped_by) == (5, 0, "expected")
    assert collection.waited_s >= 0.5


def test_report_lines_that_never_arrive_are_counted_missing(
    clients: AwsClients, log_group: str
) -> None:
    write(clients, log_group, "env", *(warm(n) for n in range(3)))
    collection = collect_reports(
        FunctionLogs(clients.client("logs"), log_group),
        start=START,
        expected=lambda: 5,
        wait=quick(settle_s=0.3),
    )
    assert (collection.reports, collection.missing, collection.stopped_by) == (3, 2, "settled")
    assert collection.details()["missing_reports"] == 2


def test_the_wait_is_bounded_even_while_lines_keep_coming(
    clients: AwsClients, log_group: str
) -> None:
    stop = threading.Event()

    def trickle() -> None:
        n = 0
        while not stop.is_set():
            write(clients, log_group, "env", warm(n))
            n += 1
            time.sleep(0.05)

    writer = threading.Thread(target=trickle)
    writer.start()
    try:
        collection = collect_reports(
            FunctionLogs(clients.client("logs"), log_group),
            start=START,
            expected=lambda: None,
            wait=quick(max_wait_s=0.8, settle_s=5.0),
        )
    finally:
        stop.set()
        writer.join()
    assert collection.stopped_by == "deadline"
    assert collection.missing is None  # nobody said how many to expect
    assert 0.8 <= collection.waited_s < 2.0


def test_a_log_group_that_does_not_exist_yet_has_no_reports(clients: AwsClients) -> None:
    logs = FunctionLogs(clients.client("logs"), "/aws/lambda/never-invoked")
    assert logs.read(START, datetime.now(UTC)) == []


def put_metric(clients: AwsClients, function: str, name: str, value: float, at: datetime) -> None:
    clients.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": name,
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Value": value,
                "Timestamp": at,
            }
        ],
    )


def test_invocations_and_throttles_come_from_the_aws_lambda_metrics(clients: AwsClients) -> None:
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    for name, value in (("Invocations", 4), ("Invocations", 3), ("Throttles", 2)):
        put_metric(clients, "metered", name, value, now)
    put_metric(clients, "metered", "ConcurrentExecutions", 5, now)
    put_metric(clients, "other-function", "Invocations", 100, now)
    metrics = FunctionMetrics(clients.client("cloudwatch"), "metered")
    start, end = now - timedelta(minutes=2), now + timedelta(minutes=2)
    assert metrics.invocations(start, end) == 7
    series = metrics.fetch(start, end)
    throttles = throttle_events(series)
    assert [e.kind for e in throttles] == ["throttle", "throttle"]
    assert throttles[0].detail["source"] == "cloudwatch-metrics"
    summary = metric_summary(series)
    assert (summary["invocations"], summary["throttles"]) == (7, 2)
    assert summary["concurrent_executions_max"] == 5
