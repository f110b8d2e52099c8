"""Thread-safe, append-only logs of platform events and resource samples.

They outlive the platform: ``events()`` and ``samples()`` still answer after teardown.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Generic, TypeVar

from nlp_bench_pipeline.core.records import (
    EventKind,
    PlatformEvent,
    ResourceSample,
    TargetName,
    utcnow,
)

Record = TypeVar("Record", PlatformEvent, ResourceSample)


class _TimeLog(Generic[Record]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Record] = []

    def append(self, record: Record) -> Record:
        with self._lock:
            self._records.append(record)
        return record

    def since(self, since: datetime | None = None) -> list[Record]:
        """Records at or after ``since`` (all when None), oldest first."""
        with self._lock:
            records = list(self._records)
        if since is not None:
            records = [r for r in records if r.at >= since]
        return sorted(records, key=lambda r: r.at)


class EventLog(_TimeLog[PlatformEvent]):
    """What a platform did, for ``Target.events()``."""

    def __init__(self, target: TargetName) -> None:
        super().__init__()
        self.target = target

    def record(
        self,
        kind: EventKind,
        environment_id: str | None = None,
        *,
        at: datetime | None = None,
        **fields: Any,
    ) -> PlatformEvent:
        """Append an event: PlatformEvent columns from ``fields``; the rest goes in ``detail``."""
        columns = set(PlatformEvent.model_fields) - {"at", "target", "kind", "environment_id"}
        detail = dict(fields.pop("detail", {}) or {})
        detail.update({k: fields.pop(k) for k in list(fields) if k not in columns})
        return self.append(
            PlatformEvent(
                at=at or utcnow(),
                target=self.target,
                kind=kind,
                environment_id=environment_id,
                detail=detail,
                **fields,
            )
        )


class SampleLog(_TimeLog[ResourceSample]):
    """CPU and memory samples, for ``Target.samples()``."""
