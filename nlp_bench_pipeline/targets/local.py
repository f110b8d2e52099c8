"""``LocalTarget``: what both local platforms share, so neither writes it again.

A local platform is a set of servers on a background event loop (``BackgroundLoop``) and child
processes tagged with one owner id (``NLP_BENCH_OWNER``). This base owns the event and sample
logs, the lock, the loop, the owner id, and the teardown that stops the platform, closes the
loop and kills whatever still carries the owner tag. Subclasses say how to start a platform and
whether a changed spec can be applied in place, and how its events read as the platform's own
log lines (``console_lines``): every deployment keeps them in ``events.log`` beside its process
logs, under the pipeline as under the standalone commands.

Retention of ``events()`` and ``samples()``: a *fresh* deployment (nothing deployed before it,
or a spec that cannot be applied in place) starts empty logs; in-place updates, teardown and
the time after it keep them, so a caller reads a deployment's whole record until the next fresh
one. ``since`` narrows a read to a window.
"""

from __future__ import annotations

import logging
import threading
import uuid
from abc import ABC, abstractmethod
from datetime import datetime
from pathlib import Path
from typing import Protocol

from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.processes import kill_owned
from nlp_bench_pipeline.core.records import PlatformEvent, ResourceSample, TargetName
from nlp_bench_pipeline.targets.background import BackgroundLoop
from nlp_bench_pipeline.targets.base import DeployedContext
from nlp_bench_pipeline.targets.console import Formatter, PlatformConsole
from nlp_bench_pipeline.targets.events import EventLog, SampleLog

log = logging.getLogger(__name__)


class RunningPlatform(Protocol):
    """The live pieces of one local deployment, as the base stops them."""

    stop_timeout_s: float

    async def close(self) -> None:
        """Stop servers and processes (on the platform's event loop)."""
        ...

    def release(self) -> None:
        """Free what outlives the loop (cgroups), after every process is gone."""
        ...


class LocalTarget(DeployedContext, ABC):
    """One local platform; ``work_dir`` holds a folder of process logs per deployment."""

    name: TargetName
    console_lines: Formatter  # how an event reads in the platform's own log (events.log)

    def __init__(self, *, work_dir: Path) -> None:
        self.work_dir = Path(work_dir)
        self._events = EventLog(self.name)
        self._samples = SampleLog()
        self._console = PlatformConsole(self.console_lines, to_terminal=False)
        self._lock = threading.RLock()
        self._loop: BackgroundLoop | None = None
        self._platform: RunningPlatform | None = None
        self._deployment: Deployment | None = None
        self._owner: str | None = None

    @property
    def deployment(self) -> Deployment | None:
        """The live deployment, if any."""
        return self._deployment

    def deploy(self, spec: DeploymentSpec) -> Deployment:
        """Deploy; the same spec again returns the live deployment (idempotent).

        A changed spec is applied in place where the platform can (``_update``), otherwise the
        live deployment is torn down and a fresh one started.
        """
        if spec.target != self.name:
            raise ValueError(f"{self.name} cannot deploy a spec for {spec.target!r}")
        self._validate(spec)
        with self._lock:
            if self._deployment is not None:
                if self._deployment.spec == spec:
                    return self._deployment
                updated = self._update(spec)
                if updated is not None:
                    self._deployment = updated
                    return updated
                self._stop()
            return self._start_fresh(spec)

    def teardown(self) -> None:
        """Stop the platform and kill anything left carrying the owner tag."""
        with self._lock:
            self._stop()

    def events(self, since: datetime | None = None) -> list[PlatformEvent]:
        return self._events.since(since)

    def samples(self, since: datetime | None = None) -> list[ResourceSample]:
        return self._samples.since(since)

    # -- what a platform supplies -----------------------------------------------------------

    def _validate(self, spec: DeploymentSpec) -> None:
        """Reject a spec this platform cannot run, before anything starts."""

    @abstractmethod
    def _launch(
        self, spec: DeploymentSpec, owner: str, loop: BackgroundLoop
    ) -> tuple[RunningPlatform, Deployment]:
        """Start a platform for ``spec`` on ``loop``; on failure undo what it started itself."""

    def _update(self, spec: DeploymentSpec) -> Deployment | None:
        """Apply ``spec`` to the live deployment in place, or None when it needs a fresh one."""
        return None

    def _live(self) -> tuple[RunningPlatform, BackgroundLoop]:
        if self._platform is None or self._loop is None:
            raise RuntimeError(f"{self.name}: nothing is deployed")
        return self._platform, self._loop

    # -- the shared lifecycle ---------------------------------------------------------------

    def _start_fresh(self, spec: DeploymentSpec) -> Deployment:
        owner = f"{self.name}-{uuid.uuid4().hex[:12]}"
        self._events = EventLog(self.name)
        self._samples = SampleLog()
        self._console = PlatformConsole(self.console_lines, to_terminal=False)
        self._events.subscribe(self._console)
        loop = BackgroundLoop(owner)
        try:
            platform, deployment = self._launch(spec, owner, loop)
        except BaseException:
            loop.close()
            kill_owned(owner)
            self._console.close()
            raise
        self._console.attach_file(Path(deployment.details["log_dir"]))
        self._loop, self._platform, self._owner = loop, platform, owner
        self._deployment = deployment
        return deployment

    def _stop(self) -> None:
        platform, loop, owner = self._platform, self._loop, self._owner
        self._platform = self._loop = self._owner = self._deployment = None
        if platform is None or loop is None or owner is None:
            return
        try:
            loop.run(platform.close(), timeout=platform.stop_timeout_s)
        except Exception:
            log.exception("%s %s: clean shutdown failed; killing what is left", self.name, owner)
        finally:
            loop.close()
            if leftovers := kill_owned(owner):
                log.warning("%s %s: killed %d leftover processes", self.name, owner, leftovers)
            platform.release()
            self._console.close()
