"""Which process owns a Dagster run: run tags that name it, read back to judge it later.

A run executed by a process that then dies without unwinding (kill -9, the OOM killer, a reboot)
stays ``STARTED`` in Dagster's storage and keeps its pool slots. Tags naming the owner — pid,
host and the process's start time, so a reused pid is not mistaken for it — let whoever starts
the next benchmark tell an abandoned run from a live one (``cli/dagster_home.py``). Plain Python:
the tags are a mapping, whoever holds the Dagster instance writes them.

The owner is the process the run lives in: ``nlp-bench bench`` itself (it executes in process),
or, for a run the UI or the daemon launched, the run worker — not the short-lived step process
that Dagster's multiprocess executor starts for each step (:func:`run_owner`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Mapping

from nlp_bench_pipeline.core.processes import ProcessIdentity

OWNER_PID_TAG = "nlp-bench/owner-pid"
OWNER_HOST_TAG = "nlp-bench/owner-host"
OWNER_STARTED_TAG = "nlp-bench/owner-started"


def owner_tags(owner: ProcessIdentity) -> dict[str, str]:
    """Run tags naming the process that executes the run."""
    return {
        OWNER_PID_TAG: str(owner.pid),
        OWNER_HOST_TAG: owner.host,
        OWNER_STARTED_TAG: repr(owner.started_at),
    }


def owner_of(tags: Mapping[str, str]) -> ProcessIdentity | None:
    """The owner a run's tags name, or None for a run without (or with mangled) owner tags."""
    try:
        return ProcessIdentity(
            int(tags[OWNER_PID_TAG]), tags[OWNER_HOST_TAG], float(tags[OWNER_STARTED_TAG])
        )
    except (KeyError, ValueError):
        return None


def run_owner() -> ProcessIdentity:
    """The process that owns the run this code executes in.

    A step process of Dagster's multiprocess executor is a ``multiprocessing`` child (spawned)
    of the run worker and lives for one step only: between steps no step process exists, so
    naming one would make a healthy run look abandoned. Its parent, the run worker, lives as
    long as the run. Any other process — ``nlp-bench bench``, an in-process executor, a test —
    owns its runs itself.
    """
    parent = multiprocessing.parent_process()
    if parent is not None and parent.pid is not None:
        return ProcessIdentity.of(parent.pid)
    return ProcessIdentity.current()
