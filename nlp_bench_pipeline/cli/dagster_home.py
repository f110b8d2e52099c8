"""The project's Dagster home: created on first use, and kept free of runs nobody owns.

A run of ``nlp-bench bench`` executes in the command's own process. If that process dies without
unwinding — kill -9, the OOM killer, a reboot — Dagster never hears of it: the run stays
``STARTED`` and keeps the ``nlp_bench_platform`` pool's only slot, and every later run waits for
that slot for ever. So each run carries its owner's identity in its tags (pid, host, process start
time: ``core/run_owners.py``; ``bench`` sets them at launch, and the ``platforms`` resource
of a run the UI or the daemon launched sets them from inside the run), and before a new
benchmark starts, :func:`recover_abandoned_runs` marks the runs whose owner is gone as failed and
frees what they hold — never for a live owner, and never for a run of another host, which this
one cannot judge. Runs the daemon launches are also watched by Dagster's own run monitoring
(``dagster.yaml``).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from nlp_bench_pipeline.core.run_owners import owner_of, owner_tags
from nlp_bench_pipeline.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

INSTANCE_TEMPLATE = Path(__file__).with_name("dagster.yaml")
DEFAULT_HOME = PROJECT_ROOT / ".dagster_home"
# ``owner_tags`` is imported from here by cli/bench.py (kept until that import moves to core).
__all__ = ["ensure_dagster_home", "owner_tags", "recover_abandoned_runs"]


def ensure_dagster_home() -> Path:
    """``$DAGSTER_HOME`` (default ``.dagster_home``), with our ``dagster.yaml`` if it has none.

    The instance's storage is created here, once: two Dagster processes started together on an
    empty home (``make bench`` and ``make ui``) both run the schema setup, and the loser fails
    with "alembic_version has more than one head present".
    """
    home = Path(os.environ.get("DAGSTER_HOME") or DEFAULT_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_TEMPLATE, config)
    os.environ["DAGSTER_HOME"] = str(home)
    if not (home / "history").exists():
        from dagster import DagsterInstance

        with DagsterInstance.get():
            pass
    return home


def recover_abandoned_runs(
    instance: DagsterInstance, abandoned: Callable[[DagsterRun], list[str]] | None = None
) -> list[str]:
    """Fail every unfinished run whose owner process is gone and free its pool slots.

    ``abandoned`` is then called with each such run (``bench`` stores a killed cell's
    repetitions as failed runs) and its lines are added. Also frees slots still held by runs
    that have finished (a run marked failed from outside keeps its slots:
    ``report_run_failed`` does not free them). Returns one line per run dealt with, for the
    person who started the new benchmark.
    """
    from dagster import DagsterRunStatus, RunsFilter

    unfinished = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    storage = instance.event_log_storage
    lines = []
    for record in instance.get_run_records(filters=RunsFilter(statuses=unfinished)):
        run = record.dagster_run
        owner = owner_of(run.tags)
        if owner is None or owner.state() != "gone":
            continue
        instance.report_run_failed(
            run,
            f"its owner, process {owner.pid} on {owner.host}, is gone (killed or crashed): "
            "marked failed by nlp-bench bench before starting a new benchmark",
        )
        storage.free_concurrency_slots_for_run(run.run_id)
        lines.append(
            f"run {run.run_id} ({run.job_name}): its process {owner.pid} is gone; "
            "marked failed and its pool slots freed"
        )
        if abandoned is not None:
            lines += abandoned(run)
    for run_id in sorted(storage.get_concurrency_run_ids()):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            storage.free_concurrency_slots_for_run(run_id)
            lines.append(f"run {run_id}: had finished but still held a pool slot; freed")
    return lines
