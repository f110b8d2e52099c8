"""CPU-time quotas for local environments, where the OS lets us set them.

A Lambda environment's memory size buys a CPU share (1,769 MB = 1 vCPU); a pod has a CPU limit.
Locally the share is applied twice: as ``NLP_BENCH_THREADS`` (torch's intra-op threads, always)
and as a CFS quota when a cgroup is writable: cgroup v2 ``cpu.max`` or cgroup v1
``cpu.cfs_quota_us``. Where neither is writable only the thread count holds, and the deployment's
details say so. The child joins its cgroup itself, before ``exec``, through a shell wrapper, so
even its imports run under the quota.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nlp_bench_pipeline.core.platform_facts import LAMBDA_MB_PER_VCPU

CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 100_000
GROUP_PARENT = "nlp-bench"


@dataclass(frozen=True)
class CpuShare:
    """How much CPU an environment gets, and how that is enforced on this host."""

    cores: float
    threads: int
    enforcement: str  # "cgroup-v2 cpu.max", "cgroup-v1 cfs quota" or "threads only: <why>"
    host_cores: int

    @property
    def oversubscribed(self) -> bool:
        """The configuration asks for more cores than this host has."""
        return self.cores > self.host_cores


def available_cpus() -> int:
    """CPUs this process may run on (affinity-aware, unlike ``os.cpu_count``)."""
    return len(os.sched_getaffinity(0))


def threads_for(cores: float, host_cores: int | None = None) -> int:
    """Torch threads for a CPU share: at least one, at most the host's cores."""
    host = host_cores or available_cpus()
    return max(1, min(host, math.ceil(cores - 1e-9)))


def lambda_cores(memory_mb: int) -> float:
    """Lambda's documented proportionality: 1,769 MB buys one vCPU (up to 6 at 10,240 MB)."""
    return memory_mb / LAMBDA_MB_PER_VCPU


class CpuQuotas:
    """Creates one cgroup per environment under ``nlp-bench/<deployment>`` and removes them."""

    def __init__(self, deployment_id: str, root: Path = CGROUP_ROOT) -> None:
        self.deployment_id = _safe(deployment_id)
        self.root = root
        self._base, self._flavour = self._writable_base()
        self._groups: list[Path] = []

    @property
    def enforcement(self) -> str:
        if self._flavour == "v2":
            return "cgroup-v2 cpu.max"
        if self._flavour == "v1":
            return "cgroup-v1 cfs quota"
        return "threads only: no writable cgroup cpu controller on this host"

    def share(self, cores: float) -> CpuShare:
        host = available_cpus()
        return CpuShare(cores, threads_for(cores, host), self.enforcement, host)

    def wrap(self, environment_id: str, cores: float, command: Sequence[str]) -> list[str]:
        """``command`` run inside a fresh cgroup limited to ``cores`` (unchanged if none)."""
        if self._base is None:
            return list(command)
        group = self._base / self.deployment_id / _safe(environment_id)
        group.mkdir(parents=True, exist_ok=True)
        quota = max(1000, int(cores * PERIOD_US))
        if self._flavour == "v2":
            (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
            (group / "cpu.cfs_quota_us").write_text(str(quota))
        self._groups.append(group)
        procs = shlex.quote(str(group / "cgroup.procs"))
        return ["/bin/sh", "-c", f'echo $$ > {procs} && exec "$@"', "cgroup-wrap", *command]

    def release(self) -> None:
        """Remove the cgroups once their processes are gone (a busy cgroup stays; harmless)."""
        for group in reversed(self._groups):
            with contextlib.suppress(OSError):
                group.rmdir()
        if self._base is not None:
            with contextlib.suppress(OSError):
                (self._base / self.deployment_id).rmdir()
        self._groups.clear()

    def _writable_base(self) -> tuple[Path | None, str | None]:
        v2 = self.root
        controllers = v2 / "cgroup.controllers"
        if controllers.is_file() and "cpu" in controllers.read_text().split():
            base = v2 / GROUP_PARENT
            if _can_create(base) and _enable_cpu_controller(v2, base):
                return base, "v2"
        v1 = self.root / "cpu"
        if (v1 / "cpu.cfs_quota_us").is_file():
            base = v1 / GROUP_PARENT
            if _can_create(base):
                return base, "v1"
        return None, None


def _can_create(path: Path) -> bool:
    try:
        path.mkdir(exist_ok=True)
        probe = path / ".probe"
        probe.mkdir(exist_ok=True)
        probe.rmdir()
        return True
    except OSError:
        return False


def _enable_cpu_controller(root: Path, base: Path) -> bool:
    """cgroup v2 needs ``+cpu`` in each parent's subtree_control before children get cpu.max."""
    try:
        for parent in (root, base):
            control = parent / "cgroup.subtree_control"
            if "cpu" not in control.read_text().split():
                control.write_text("+cpu")
        return True
    except OSError:
        return False


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:100]
