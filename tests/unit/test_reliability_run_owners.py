"""Runs launched from the UI or the daemon carry their owner process too (issue 17, finding 1).

``nlp-bench bench`` tags the runs it launches; a run started anywhere else gets the same tags
from the ``platforms`` resource's setup, inside the run, so the next ``bench`` can recover it if
its process dies. The owner is the run's process, which under Dagster's multiprocess executor is
the run worker, not the step process (which lives for one step only).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from nlp_bench_pipeline.core.processes import ProcessIdentity
from nlp_bench_pipeline.core.run_owners import owner_of, owner_tags, run_owner
from nlp_bench_pipeline.defs.resources import PlatformsResource


@dg.asset
def starts_a_platform(platforms: PlatformsResource) -> None:
    """Stands for the deployment and load_test_run assets: it only needs the resource."""


def platforms(tmp_path: Path) -> dict[str, PlatformsResource]:
    return {"platforms": PlatformsResource(work_dir=str(tmp_path))}


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def owner_of_run(instance: dg.DagsterInstance, run_id: str) -> ProcessIdentity | None:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return owner_of(run.tags)


def test_a_run_launched_without_owner_tags_is_tagged_with_its_process(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    result = dg.materialize([starts_a_platform], resources=platforms(tmp_path), instance=instance)
    assert owner_of_run(instance, result.run_id) == ProcessIdentity.current()


def test_the_owner_tags_bench_launched_with_are_kept(
    instance: dg.DagsterInstance, tmp_path: Path
) -> None:
    me = ProcessIdentity.current()
    launcher = ProcessIdentity(me.pid, me.host, me.started_at - 1.0)
    result = dg.materialize(
        [starts_a_platform],
        resources=platforms(tmp_path),
        instance=instance,
        tags=owner_tags(launcher),
    )
    assert owner_of_run(instance, result.run_id) == launcher


def _report_owner(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    queue.put(run_owner())


@pytest.mark.slow
def test_a_spawned_step_process_names_the_process_that_spawned_it() -> None:
    # How Dagster's multiprocess executor starts each step (start_method "spawn").
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_report_owner, args=(queue,))
    child.start()
    try:
        assert queue.get(timeout=60) == ProcessIdentity.current()
    finally:
        child.join(timeout=30)


def owner_probe_job() -> dg.JobDefinition:
    """A job Dagster can rebuild in a step process (``dg.reconstructable``)."""
    defs = dg.Definitions(
        assets=[starts_a_platform],
        resources={"platforms": PlatformsResource(work_dir="unused")},
        jobs=[dg.define_asset_job("owner_probe", selection=[starts_a_platform])],
    )
    return defs.resolve_job_def("owner_probe")


@pytest.mark.slow
def test_under_the_multiprocess_executor_the_run_worker_owns_the_run(tmp_path: Path) -> None:
    # execute_job runs the run worker in this process and each step in a spawned child.
    with (
        dg.instance_for_test(temp_dir=str(tmp_path)) as instance,
        dg.execute_job(dg.reconstructable(owner_probe_job), instance=instance) as result,
    ):
        assert result.success
        assert owner_of_run(instance, result.run_id) == ProcessIdentity.current()
