"""The Deployment controller's rolling update arithmetic and its choice of pods to delete."""

from __future__ import annotations

from nlp_bench_pipeline.core.deployments import ResourceQuantity
from nlp_bench_pipeline.targets.local_k8s.config import RolloutConfig
from nlp_bench_pipeline.targets.local_k8s.controller import (
    RolloutPlan,
    deletion_order,
    plan_rollout,
)
from nlp_bench_pipeline.targets.local_k8s.pods import Pod, PodTemplate

SURGE_ONE = RolloutConfig(max_surge=1, max_unavailable=0)


def step(replicas: int, new: tuple[int, int], old: tuple[int, int]) -> RolloutPlan:
    return plan_rollout(
        replicas, SURGE_ONE, new_total=new[0], new_ready=new[1], old_total=old[0], old_ready=old[1]
    )


def test_scaling_without_a_rollout_adds_or_removes_the_difference() -> None:
    assert step(3, new=(1, 1), old=(0, 0)) == RolloutPlan(create=2, delete_old=0, delete_new=0)
    assert step(1, new=(3, 3), old=(0, 0)) == RolloutPlan(create=0, delete_old=0, delete_new=2)


def test_rollout_surges_one_pod_and_never_drops_below_replicas_ready() -> None:
    new_total = new_ready = 0
    old_total = old_ready = 2
    for _ in range(10):
        plan = step(2, new=(new_total, new_ready), old=(old_total, old_ready))
        assert new_total + old_total + plan.create - plan.delete_old <= 3
        assert new_ready + old_ready - plan.delete_old >= 2
        old_total -= plan.delete_old
        old_ready -= plan.delete_old
        new_total += plan.create
        new_ready = new_total  # the new pods turn ready before the next step
    assert (new_total, old_total) == (2, 0)


def test_old_pods_that_are_not_ready_go_at_once() -> None:
    assert step(2, new=(0, 0), old=(2, 0)).delete_old == 2


def test_no_old_pod_goes_before_a_new_one_is_ready() -> None:
    assert step(2, new=(1, 0), old=(2, 2)) == RolloutPlan(create=0, delete_old=0, delete_new=0)


def template() -> PodTemplate:
    cpu = ResourceQuantity(request=1.0, limit=1.0)
    return PodTemplate("app:app", "tiny", None, (), cpu, ResourceQuantity(request=512))


def test_deletion_takes_unscheduled_then_unready_then_newest_first() -> None:
    ready_old = Pod("ready-old", template(), 1, created_at=1.0, node="n", ready=True)
    ready_new = Pod("ready-new", template(), 2, created_at=2.0, node="n", ready=True)
    starting = Pod("starting", template(), 3, created_at=0.5, node="n")
    pending = Pod("pending", template(), 4, created_at=0.1)
    order = deletion_order([ready_old, ready_new, starting, pending])
    assert [p.name for p in order] == ["pending", "starting", "ready-new", "ready-old"]


def test_template_change_is_a_new_revision() -> None:
    changed = PodTemplate("app:app", "synthetic", None, (), template().cpu, template().memory)
    assert changed.revision != template().revision
    assert template().revision == template().revision
