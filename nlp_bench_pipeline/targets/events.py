"""Thread-safe, append-only logs of platform events and resource samples.

They outlive the platform: ``events()`` and ``samples()`` still answer after teardown.

An event log can also tell someone as each event is recorded: :meth:`EventLog.subscribe`, or
:func:`subscribed` around code that creates a platform (a fresh deployment starts a fresh log),
so the emulators' standalone commands print what the platform does (``targets/console.py``)
while the pipeline's logs stay silent.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
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
Subscriber = Callable[[PlatformEvent], None]
log = logging.getLogger(__name__)
# Subscribers every EventLog created in this context gets (see ``subscribed``).
_SUBSCRIBERS: contextvars.ContextVar[tuple[Subscriber, ...]] = contextvars.ContextVar(
    "event_subscribers", default=()
)


@contextlib.contextmanager
def subscribed(subscriber: Subscriber) -> Iterator[None]:
    """Every event log created inside (in this thread's context) calls ``subscriber``.

    A platform creates its log as it deploys, so this is how a command hears a deployment's
    events from the first one on.
    """
    token = _SUBSCRIBERS.set((*_SUBSCRIBERS.get(), subscriber))
    try:
        yield
    finally:
        _SUBSCRIBERS.reset(token)


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
        self._subscribers: list[Subscriber] = list(_SUBSCRIBERS.get())

    def subscribe(self, subscriber: Subscriber) -> None:
        """Call ``subscriber`` with each event recorded from now on, in the recording thread.

        It must be quick (it runs on the platform's event loop); an exception it raises is
        logged and never reaches the platform.
        """
        self._subscribers.append(subscriber)

    def append(self, record: PlatformEvent) -> PlatformEvent:
        super().append(record)
        for subscriber in self._subscribers:
            try:
                subscriber(record)
            except Exception:
                log.exception("an event subscriber failed on %s", record.kind)
        return record

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
