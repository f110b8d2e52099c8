"""The function's platform metrics from CloudWatch: REPORT lines from Logs, counters from Metrics.

CloudWatch lags. A REPORT line reaches ``FilterLogEvents`` seconds to minutes after the invoke,
and the ``AWS/Lambda`` metrics a minute or more after it; a benchmark that read them at once
would under-count its invocations. So :func:`collect_reports` polls until the number of REPORT
lines reaches the number of invocations expected (the caller's count, or CloudWatch's own
``Invocations``), or stops growing for ``settle_s``, or ``max_wait_s`` has passed — and says how
many never arrived (SeBS re-runs ~10 % extra for the same reason; we count instead).

Metrics: ``Invocations``, ``Errors``, ``Throttles`` and ``ConcurrentExecutions`` per minute, and
``Duration`` (average, p50, p99, maximum) over the whole window. Throttles become ``throttle``
events (one per throttled invoke, at the minute CloudWatch counted it in: the store counts
events), the rest a summary for the deployment's details.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field

from nlp_bench_pipeline.core.records import PlatformEvent, utcnow
from nlp_bench_pipeline.targets.aws_lambda.reports import (
    TARGET,
    Report,
    event_time,
    parse_message,
    to_events,
)

METRICS_NAMESPACE = "AWS/Lambda"
PERIOD_S = 60
StopCause = Literal["expected", "settled", "deadline"]


class ReportWait(BaseModel):
    """How long to wait for CloudWatch Logs to deliver the REPORT lines of a run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_wait_s: float = Field(300.0, ge=0, description="never wait longer than this")
    settle_s: float = Field(60.0, ge=0, description="stop when the count is this long unchanged")
    poll_s: float = Field(10.0, gt=0, description="between reads")


@dataclass(frozen=True)
class LogCollection:
    """What a wait for the REPORT lines ended with."""

    events: list[PlatformEvent]
    reports: int
    expected: int | None
    waited_s: float
    stopped_by: StopCause

    @property
    def missing(self) -> int | None:
        """REPORT lines that never arrived (None when nobody knew how many to expect)."""
        return None if self.expected is None else max(0, self.expected - self.reports)

    def details(self) -> dict[str, Any]:
        return {
            "reports": self.reports,
            "expected_invocations": self.expected,
            "missing_reports": self.missing,
            "waited_s": round(self.waited_s, 3),
            "stopped_by": self.stopped_by,
        }


@dataclass
class FunctionLogs:
    """The platform records of one log group, read incrementally and kept once per log event."""

    client: Any  # boto3 CloudWatch Logs
    log_group: str
    _events: dict[str, list[PlatformEvent]] = field(default_factory=dict)
    _reports: set[str] = field(default_factory=set)

    def read(self, start: datetime, end: datetime) -> list[PlatformEvent]:
        """Read ``[start, end]`` and return every event found so far, oldest first."""
        paginator = self.client.get_paginator("filter_log_events")
        pages = paginator.paginate(
            logGroupName=self.log_group,
            startTime=_epoch_ms(start),
            endTime=_epoch_ms(end),
        )
        try:
            for page in pages:
                for entry in page.get("events", []):
                    self._add(entry)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                raise  # no log group yet: nothing has been invoked
        return self.events()

    def events(self) -> list[PlatformEvent]:
        found = [event for events in self._events.values() for event in events]
        return sorted(found, key=lambda e: e.at)

    @property
    def report_count(self) -> int:
        return len(self._reports)

    def _add(self, entry: dict[str, Any]) -> None:
        key = f"{entry['logStreamName']}/{entry['eventId']}"
        if key in self._events:
            return
        record = parse_message(entry.get("message", ""))
        if record is None:
            self._events[key] = []
            return
        if isinstance(record, Report):
            if record.request_id in self._reports:  # a REPORT delivered twice counts once
                self._events[key] = []
                return
            self._reports.add(record.request_id)
        at = event_time(int(entry["timestamp"]))
        self._events[key] = to_events(record, at=at, log_stream=entry["logStreamName"])


def collect_reports(
    logs: FunctionLogs,
    *,
    start: datetime,
    expected: Callable[[], int | None],
    wait: ReportWait,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = utcnow,
) -> LogCollection:
    """Poll the logs until the REPORT count reaches ``expected()`` or settles (bounded)."""
    began = clock()
    last_count, last_change = -1, began
    while True:
        logs.read(start, now() + timedelta(minutes=1))
        count, wanted = logs.report_count, expected()
        if count != last_count:
            last_count, last_change = count, clock()
        stopped: StopCause | None = None
        if wanted is not None and count >= wanted:
            stopped = "expected"
        elif clock() - last_change >= wait.settle_s:
            stopped = "settled"
        elif clock() - began >= wait.max_wait_s:
            stopped = "deadline"
        if stopped is not None:
            return LogCollection(logs.events(), count, wanted, clock() - began, stopped)
        sleep(min(wait.poll_s, max(0.0, wait.max_wait_s - (clock() - began))))


# --------------------------------------------------------------------------- metrics


@dataclass(frozen=True)
class MetricQuery:
    name: str
    stat: str
    whole_window: bool = False

    @property
    def query_id(self) -> str:
        return f"{self.name}_{self.stat}".lower().replace(".", "_")


PER_MINUTE = (
    MetricQuery("Invocations", "Sum"),
    MetricQuery("Errors", "Sum"),
    MetricQuery("Throttles", "Sum"),
    MetricQuery("ConcurrentExecutions", "Maximum"),
)
OVER_WINDOW = (
    MetricQuery("Duration", "Average", whole_window=True),
    MetricQuery("Duration", "p50", whole_window=True),
    MetricQuery("Duration", "p99", whole_window=True),
    MetricQuery("Duration", "Maximum", whole_window=True),
)


@dataclass(frozen=True)
class MetricSeries:
    """Datapoints per query id, oldest first, and the window they cover."""

    points: dict[str, list[tuple[datetime, float]]]
    start: datetime
    end: datetime

    def total(self, query: MetricQuery) -> float | None:
        values = [v for _, v in self.points.get(query.query_id, [])]
        return sum(values) if values else None

    def peak(self, query: MetricQuery) -> float | None:
        values = [v for _, v in self.points.get(query.query_id, [])]
        return max(values) if values else None


@dataclass
class FunctionMetrics:
    """The ``AWS/Lambda`` metrics of one function."""

    client: Any  # boto3 CloudWatch
    function_name: str

    def fetch(self, start: datetime, end: datetime) -> MetricSeries:
        """Whole minutes around ``[start, end]``: CloudWatch keeps Lambda's metrics per minute."""
        start = start.replace(second=0, microsecond=0)
        window_s = max(PERIOD_S, math.ceil((end - start).total_seconds() / PERIOD_S) * PERIOD_S)
        end = start + timedelta(seconds=window_s)
        queries = [self._query(q, window_s if q.whole_window else PERIOD_S) for q in PER_MINUTE]
        queries += [self._query(q, window_s) for q in OVER_WINDOW]
        points: dict[str, list[tuple[datetime, float]]] = {}
        paginator = self.client.get_paginator("get_metric_data")
        for page in paginator.paginate(
            MetricDataQueries=queries, StartTime=start, EndTime=end, ScanBy="TimestampAscending"
        ):
            for result in page["MetricDataResults"]:
                series = points.setdefault(result["Id"], [])
                series += zip(result["Timestamps"], result["Values"], strict=True)
        return MetricSeries({k: sorted(v) for k, v in points.items()}, start, end)

    def invocations(self, start: datetime, end: datetime) -> int | None:
        total = self.fetch(start, end).total(PER_MINUTE[0])
        return None if total is None else int(total)

    def _query(self, query: MetricQuery, period_s: int) -> dict[str, Any]:
        return {
            "Id": query.query_id,
            "MetricStat": {
                "Metric": {
                    "Namespace": METRICS_NAMESPACE,
                    "MetricName": query.name,
                    "Dimensions": [{"Name": "FunctionName", "Value": self.function_name}],
                },
                "Period": period_s,
                "Stat": query.stat,
            },
            "ReturnData": True,
        }


def metric_summary(series: MetricSeries) -> dict[str, Any]:
    """The run's CloudWatch figures, for the deployment's details (None where none came)."""
    invocations, errors, throttles, concurrency = PER_MINUTE
    average, p50, p99, maximum = OVER_WINDOW
    return {
        "source": "cloudwatch-metrics",
        "period_s": PERIOD_S,
        "invocations": series.total(invocations),
        "errors": series.total(errors),
        "throttles": series.total(throttles),
        "concurrent_executions_max": series.peak(concurrency),
        "duration_avg_ms": series.peak(average),
        "duration_p50_ms": series.peak(p50),
        "duration_p99_ms": series.peak(p99),
        "duration_max_ms": series.peak(maximum),
    }


def throttle_events(series: MetricSeries) -> list[PlatformEvent]:
    """One ``throttle`` event per throttled invoke, at the minute CloudWatch counted it in."""
    events = []
    for minute, count in series.points.get(PER_MINUTE[2].query_id, []):
        detail = {"source": "cloudwatch-metrics", "metric": "Throttles", "period_s": PERIOD_S}
        events += [
            PlatformEvent(at=minute, target=TARGET, kind="throttle", detail=detail)
            for _ in range(int(count))
        ]
    return events


def _epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
