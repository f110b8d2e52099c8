"""Recovering a Dagster home after a killed ``nlp-bench bench`` (issue 17, finding 1).

Runs are written straight into a test instance as a killed ``bench`` leaves them: ``STARTED``,
holding the ``nlp_bench_platform`` pool's one slot, tagged with an owner process. Only the runs
whose owner is gone are failed and freed; a live owner's run, another host's run and an untagged
run are left alone.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml

from nlp_bench_pipeline.cli.dagster_home import INSTANCE_TEMPLATE, recover_abandoned_runs
from nlp_bench_pipeline.core.processes import ProcessIdentity
from nlp_bench_pipeline.core.run_owners import owner_of, owner_tags

POOL = "nlp_bench_platform"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.event_log_storage.set_concurrency_slots(POOL, 1)
        yield instance


def dead_owner() -> ProcessIdentity:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    started = psutil.Process(process.pid).create_time()
    process.wait()
    return ProcessIdentity(process.pid, ProcessIdentity.current().host, started)


def holding_run(instance: dg.DagsterInstance, tags: dict[str, str]) -> str:
    """A STARTED run that holds the pool's slot, as a killed ``bench`` leaves one."""
    run_id = str(uuid.uuid4())
    instance.add_run(
        dg.DagsterRun(
            job_name="benchmark_cell", run_id=run_id, status=dg.DagsterRunStatus.STARTED, tags=tags
        )
    )
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, run_id, "load_test_run")
    assert claim.is_claimed
    return run_id


def status(instance: dg.DagsterInstance, run_id: str) -> dg.DagsterRunStatus:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return run.status


def holders(instance: dg.DagsterInstance) -> set[str]:
    return instance.event_log_storage.get_concurrency_info(POOL).active_run_ids


def test_a_run_whose_owner_died_is_failed_and_its_slot_freed(instance: dg.DagsterInstance) -> None:
    run_id = holding_run(instance, owner_tags(dead_owner()))
    lines = recover_abandoned_runs(instance)
    assert status(instance, run_id) == dg.DagsterRunStatus.FAILURE
    assert holders(instance) == set()
    assert len(lines) == 1
    assert run_id in lines[0]
    # The next run can take the slot at once.
    claim = instance.event_log_storage.claim_concurrency_slot(POOL, "next-run", "load_test_run")
    assert claim.is_claimed


def test_a_live_owners_run_is_never_touched(instance: dg.DagsterInstance) -> None:
    run_id = holding_run(instance, owner_tags(ProcessIdentity.current()))
    assert recover_abandoned_runs(instance) == []
    assert status(instance, run_id) == dg.DagsterRunStatus.STARTED
    assert holders(instance) == {run_id}


def test_a_pid_reused_by_another_process_counts_as_a_dead_owner(
    instance: dg.DagsterInstance,
) -> None:
    me = ProcessIdentity.current()
    run_id = holding_run(instance, owner_tags(ProcessIdentity(me.pid, me.host, me.started_at - 60)))
    recover_abandoned_runs(instance)
    assert status(instance, run_id) == dg.DagsterRunStatus.FAILURE


def test_runs_of_another_host_or_without_owner_tags_are_left_alone(
    instance: dg.DagsterInstance,
) -> None:
    dead = dead_owner()
    elsewhere = holding_run(
        instance, owner_tags(ProcessIdentity(dead.pid, f"{dead.host}-other", dead.started_at))
    )
    assert recover_abandoned_runs(instance) == []
    assert status(instance, elsewhere) == dg.DagsterRunStatus.STARTED
    instance.event_log_storage.free_concurrency_slots_for_run(elsewhere)
    untagged = holding_run(instance, {})
    assert recover_abandoned_runs(instance) == []
    assert status(instance, untagged) == dg.DagsterRunStatus.STARTED


def test_a_finished_run_that_still_holds_a_slot_is_freed(instance: dg.DagsterInstance) -> None:
    run_id = holding_run(instance, {})
    run = instance.get_run_by_id(run_id)
    assert run is not None
    instance.report_run_failed(run)  # as the daemon or a person would: the slot stays taken
    assert holders(instance) == {run_id}
    [line] = recover_abandoned_runs(instance)
    assert run_id in line
    assert holders(instance) == set()


def test_owner_tags_round_trip_and_mangled_tags_name_no_owner() -> None:
    me = ProcessIdentity.current()
    assert owner_of(owner_tags(me)) == me
    assert owner_of({}) is None
    assert owner_of({**owner_tags(me), "nlp-bench/owner-pid": "x"}) is None


def test_the_instance_template_turns_on_run_monitoring_and_frees_slots_after_a_run(
    tmp_path: Path,
) -> None:
    config = yaml.safe_load(INSTANCE_TEMPLATE.read_text())
    monitoring = config["run_monitoring"]
    assert monitoring["enabled"] is True
    assert monitoring["free_slots_after_run_end_seconds"] > 0
    assert monitoring["max_runtime_seconds"] >= 2 * 3600  # longer than the longest cell
    (tmp_path / "dagster.yaml").write_text(INSTANCE_TEMPLATE.read_text())
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_monitoring_enabled
