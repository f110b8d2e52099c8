"""How much of the host's CPU went to processes outside the run while it ran.

On a local target the platform, the load generator and the harness share the host's cores, and
the host-limited rule already marks what the host's own limits did to a run (a lowered
concurrency limit, a wait for an init slot). It cannot see *another* process on the host — a
second benchmark, a test suite, a browser — taking cores the platform was measured on; its
figures then describe the laptop, not the platform. This meter says how much that was.

The rule: the host's busy CPU time over the run (``/proc/stat`` through psutil: everything but
idle and I/O wait), less the CPU time of this process and all its descendants (the local
platform's environments or pods, Locust, this harness), is *foreign*. A descendant that exited
during the run is counted through its parent's reaped-children times; foreign is never less than
what the other processes alive throughout the run used. The hypervisor's steal time is foreign
too (another guest had the core) and is reported apart. ``foreign_share`` is
foreign plus steal CPU over the host's capacity in the run (seconds × CPUs).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

TOP_FOREIGN = 3  # the busiest foreign processes, named in the record
FOREIGN_LOAD_BOUND = 0.10  # of the host's CPU over a run: more, and its figures are the host's


@dataclass(frozen=True)
class HostLoad:
    """What the meter measured over one block (kept in ``benchmark_runs.host.host_load``)."""

    seconds: float
    cpus: int
    host_busy_cpu_s: float
    own_cpu_s: float
    foreign_cpu_s: float
    steal_cpu_s: float
    foreign_share: float
    top_foreign: list[dict[str, object]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class _Snapshot:
    at: float
    busy_s: float
    steal_s: float
    own_s: float
    others: dict[tuple[int, float], tuple[str, float]]  # (pid, created) -> (name, cpu seconds)


class HostLoadMeter:
    """``with HostLoadMeter() as meter: ...`` then ``meter.result``."""

    def __init__(self, root_pid: int | None = None, top: int = TOP_FOREIGN) -> None:
        self.root_pid = root_pid or os.getpid()
        self.top = top
        self.result: HostLoad | None = None
        self._start: _Snapshot | None = None

    def __enter__(self) -> HostLoadMeter:
        self._start = _snapshot(self.root_pid)
        return self

    def __exit__(self, *_: object) -> None:
        assert self._start is not None
        self.result = _difference(self._start, _snapshot(self.root_pid), self.top)


def _snapshot(root_pid: int) -> _Snapshot:
    times = psutil.cpu_times()
    idle = times.idle + getattr(times, "iowait", 0.0)
    steal = getattr(times, "steal", 0.0)
    guest = getattr(times, "guest", 0.0) + getattr(times, "guest_nice", 0.0)  # in user already
    busy = sum(times) - idle - steal - guest
    own_pids = {root_pid} | {p.pid for p in _descendants(root_pid)}
    own, others = 0.0, {}
    for proc in psutil.process_iter(["pid", "name", "create_time", "cpu_times"]):
        cpu = proc.info["cpu_times"]
        if cpu is None:
            continue
        if proc.info["pid"] in own_pids:
            own += cpu.user + cpu.system + cpu.children_user + cpu.children_system
        else:
            key = (proc.info["pid"], proc.info["create_time"] or 0.0)
            others[key] = (proc.info["name"] or "?", cpu.user + cpu.system)
    return _Snapshot(time.monotonic(), busy, steal, own, others)


def _descendants(pid: int) -> Iterator[psutil.Process]:
    with contextlib.suppress(psutil.Error):
        yield from psutil.Process(pid).children(recursive=True)


def _difference(start: _Snapshot, end: _Snapshot, top: int) -> HostLoad:
    seconds = max(end.at - start.at, 1e-9)
    cpus = psutil.cpu_count() or 1
    busy = max(end.busy_s - start.busy_s, 0.0)
    own = max(end.own_s - start.own_s, 0.0)
    steal = max(end.steal_s - start.steal_s, 0.0)
    grew = [
        {"pid": key[0], "name": name, "cpu_s": round(cpu - start.others[key][1], 3)}
        for key, (name, cpu) in end.others.items()
        if key in start.others and cpu - start.others[key][1] > 0
    ]
    grew.sort(key=lambda p: p["cpu_s"], reverse=True)  # type: ignore[arg-type, return-value]
    # Never less than what the other processes alive throughout were seen to use: a process's
    # own times include time the hypervisor stole, so busy - own can come out below it.
    foreign = max(busy - own, sum(p["cpu_s"] for p in grew))  # type: ignore[misc]
    return HostLoad(
        seconds=round(seconds, 3),
        cpus=cpus,
        host_busy_cpu_s=round(busy, 3),
        own_cpu_s=round(own, 3),
        foreign_cpu_s=round(foreign, 3),
        steal_cpu_s=round(steal, 3),
        foreign_share=round(min((foreign + steal) / (seconds * cpus), 1.0), 4),  # ticks round
        top_foreign=grew[:top],
    )


def busy(load: Mapping[str, Any], bound: float = FOREIGN_LOAD_BOUND) -> bool:
    """Whether other processes took more than ``bound`` of the host's CPU (quiet_host's rule)."""
    return load["foreign_share"] > bound


def describe(load: Mapping[str, Any]) -> str:
    """One line for a person: how much went to other processes, and which were busiest."""
    top = ", ".join(f"{p['name']} {p['cpu_s']:.1f} s" for p in load.get("top_foreign", []))
    return (
        f"{load['foreign_share']:.0%} of the host's CPU went to other processes "
        f"({load['foreign_cpu_s']:.1f} s, steal {load['steal_cpu_s']:.1f} s, over "
        f"{load['seconds']:.0f} s × {load['cpus']} CPUs" + (f"; busiest: {top})" if top else ")")
    )
