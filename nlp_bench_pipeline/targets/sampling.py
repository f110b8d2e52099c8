"""Periodic CPU and RSS samples of each execution environment or pod, process tree included."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

import psutil

from nlp_bench_pipeline.core.records import ResourceSample, TargetName, utcnow
from nlp_bench_pipeline.targets.events import SampleLog

log = logging.getLogger(__name__)


class ResourceSampler:
    """A daemon thread that samples every registered environment each ``interval_s``.

    CPU percent is per core (200 = two cores busy), over the interval since the last sample, summed
    over the environment's process and its children, as ``top`` and the kubelet report it.
    """

    def __init__(
        self,
        target: TargetName,
        log: SampleLog,
        interval_s: float = 1.0,
        on_sample: Callable[[ResourceSample], None] | None = None,
    ) -> None:
        self.target = target
        self.log = log
        self.interval_s = interval_s
        self.on_sample = on_sample
        self._envs: dict[str, psutil.Process] = {}
        self._cpu_seen: dict[int, psutil.Process] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, environment_id: str, pid: int) -> None:
        with self._lock, contextlib.suppress(psutil.Error):
            self._envs[environment_id] = psutil.Process(pid)

    def forget(self, environment_id: str) -> None:
        with self._lock:
            self._envs.pop(environment_id, None)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="resource-sampler", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def sample_now(self) -> list[ResourceSample]:
        """Take one sample of every environment (also what the thread does each interval)."""
        with self._lock:
            envs = dict(self._envs)
        self._forget_exited()
        taken = []
        for environment_id, proc in envs.items():
            sample = self._measure(environment_id, proc)
            if sample is not None:
                self.log.append(sample)
                taken.append(sample)
                if self.on_sample is not None:
                    self.on_sample(sample)
        return taken

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.sample_now()
            except Exception:  # one bad sample must not end sampling (and the HPA's metric)
                log.exception("resource sampling failed; trying again next interval")

    def _measure(self, environment_id: str, root: psutil.Process) -> ResourceSample | None:
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.Error:
            return None
        cpu = 0.0
        rss = 0
        for proc in procs:
            with contextlib.suppress(psutil.Error):
                # cpu_percent(None) compares with the previous call on the same Process object.
                known = self._cpu_seen.setdefault(proc.pid, proc)
                cpu += known.cpu_percent(None)
                rss += known.memory_info().rss
        return ResourceSample(
            at=utcnow(),
            target=self.target,
            environment_id=environment_id,
            cpu_pct=cpu,
            rss_mb=rss / (1024 * 1024),
        )

    def _forget_exited(self) -> None:
        """Drop the CPU baselines of processes that have exited (pids get reused)."""
        for pid, proc in list(self._cpu_seen.items()):
            if not proc.is_running():
                del self._cpu_seen[pid]
