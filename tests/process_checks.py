"""Whether a process a test started has ended: gone, or a zombie (it no longer runs; whoever
adopted it has yet to reap it). The kill and death-signal tests wait on these."""

from __future__ import annotations

from collections.abc import Iterable

import psutil


def ended(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def all_ended(processes: Iterable[psutil.Process]) -> bool:
    return all(ended(proc) for proc in processes)
