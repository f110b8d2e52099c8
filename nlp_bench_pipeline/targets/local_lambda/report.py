"""Lambda's per-invoke REPORT record: what CloudWatch shows and what the invoke is billed for."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Literal

ReportStatus = Literal["success", "error", "timeout"]


@dataclass(frozen=True)
class ReportRecord:
    """One invoke's REPORT line, with the figures kept as numbers.

    ``init_duration_ms`` is set on cold starts only; an init that Lambda retried inside the invoke
    is part of ``duration_ms`` instead, as AWS reports it. Since August 2025 Lambda bills the init
    of on-demand environments, so Billed Duration covers Init Duration plus Duration.
    """

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int | None
    init_duration_ms: float | None = None
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
