"""Lambda's per-invoke REPORT record: what CloudWatch shows and what the invoke is billed for."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from nlp_bench_pipeline.targets.local_lambda.invocation import request_ids

if TYPE_CHECKING:  # pragma: no cover
    from nlp_bench_pipeline.targets.events import EventLog
    from nlp_bench_pipeline.targets.local_lambda.environment import ExecutionEnvironment
    from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation

ReportStatus = Literal["success", "error", "timeout"]


@dataclass(frozen=True)
class ReportRecord:
    """One invoke's REPORT line, with the figures kept as numbers.

    ``init_duration_ms`` is set on cold starts only; an init that Lambda retried inside the invoke
    is part of ``duration_ms`` instead, as AWS reports it. Since August 2025 Lambda bills the init
    of on-demand environments, so Billed Duration covers Init Duration plus Duration. A SnapStart
    environment's first invoke has no Init Duration (its init ran when the snapshot was taken)
    but Restore Duration and Billed Restore Duration, which AWS bills apart from Billed Duration.
    """

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    billed_restore_duration_ms: int | None = None
    status: ReportStatus = "success"
    error_type: str | None = None

    @property
    def billed_ms(self) -> int:
        """Rounded up to the next 1 ms, never below 1 ms."""
        return max(1, math.ceil(self.duration_ms + (self.init_duration_ms or 0.0) - 1e-9))

    @property
    def over_memory(self) -> bool:
        """Used more than its memory size: real Lambda would have stopped it (OutOfMemory)."""
        return (self.max_memory_used_mb or 0) > self.memory_size_mb

    @property
    def line(self) -> str:
        """As CloudWatch prints it: tab-separated, Status and Error Type only on failures."""
        fields = [
            f"REPORT RequestId: {self.request_id}",
            f"Duration: {self.duration_ms:.2f} ms",
            f"Billed Duration: {self.billed_ms} ms",
            f"Memory Size: {self.memory_size_mb} MB",
            f"Max Memory Used: {self.max_memory_used_mb or 0} MB",
        ]
        if self.init_duration_ms is not None:
            fields.append(f"Init Duration: {self.init_duration_ms:.2f} ms")
        if self.restore_duration_ms is not None:
            fields.append(f"Restore Duration: {self.restore_duration_ms:.2f} ms")
            fields.append(f"Billed Restore Duration: {self.billed_restore_duration_ms} ms")
        if self.status != "success":
            fields.append(f"Status: {self.status}")
        if self.error_type:
            fields.append(f"Error Type: {self.error_type}")
        return "\t".join(fields)


def peak_rss_mb(pid: int) -> int | None:
    """The process's peak resident set (VmHWM) in whole MB, rounded up as Lambda reports it.

    One raw read: this runs once per invoke, on the path of the next request.
    """
    try:
        fd = os.open(f"/proc/{pid}/status", os.O_RDONLY)
        try:
            status = os.read(fd, 16384)
        finally:
            os.close(fd)
        start = status.index(b"VmHWM:") + len(b"VmHWM:")
        return math.ceil(int(status[start : status.index(b"kB", start)]) / 1024)
    except (OSError, ValueError):
        return None


def record_report(
    events: EventLog,
    env: ExecutionEnvironment,
    invocation: Invocation,
    *,
    memory_size_mb: int,
    duration_ms: float,
    status: ReportStatus,
    error_type: str | None,
) -> ReportRecord:
    """Write one invoke's REPORT record as a platform event (with the line CloudWatch shows)."""
    pid = env.runtime.pid if env.runtime else None
    peak = peak_rss_mb(pid) if pid is not None else None
    env.max_memory_mb = max(peak or 0, env.max_memory_mb or 0) or None
    restore = invocation.restore
    record = ReportRecord(
        request_id=invocation.request_id,
        duration_ms=duration_ms,
        memory_size_mb=memory_size_mb,
        max_memory_used_mb=env.max_memory_mb,
        init_duration_ms=invocation.init_ms,
        restore_duration_ms=None if restore is None else restore.restore_ms,
        billed_restore_duration_ms=None if restore is None else restore.billed_restore_ms,
        status=status,
        error_type=error_type,
    )
    events.record(
        "report",
        env.environment_id,
        duration_ms=record.duration_ms,
        billed_ms=record.billed_ms,
        memory_mb=record.memory_size_mb,
        max_memory_mb=record.max_memory_used_mb,
        init_ms=record.init_duration_ms,
        detail={
            "status": status,
            "error_type": error_type,
            "over_memory": record.over_memory,
            "line": record.line,
            **({} if restore is None else restore.detail()),
            **request_ids(invocation),
        },
    )
    return record
