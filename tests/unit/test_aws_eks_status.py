"""Reading the cluster's status: rollout completion as kubectl decides it, the load balancer's
address, metrics-server quantities, and the bounded wait."""

from __future__ import annotations

from typing import Any

import pytest

from nlp_bench_pipeline.targets.aws_eks.observer import cpu_percent, memory_mb
from nlp_bench_pipeline.targets.aws_eks.rollout import (
    ClusterWaitError,
    Poll,
    load_balancer_address,
    rollout_state,
    wait_until,
)


def deployment(**status: Any) -> dict[str, Any]:
    """Generation 2 of a Deployment wanting 3 replicas, with ``status``."""
    return {
        "metadata": {"name": "nlp-bench-service", "generation": 2},
        "spec": {"replicas": 3},
        "status": status,
    }


@pytest.mark.parametrize(
    ("status", "done", "state"),
    [
        ({"observedGeneration": 1}, False, "waiting for the controller to see the new spec"),
        ({"observedGeneration": 2, "updatedReplicas": 1}, False, "1 of 3 replicas updated"),
        (
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 4},
            False,
            "1 old replicas pending termination",
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 2},
            False,
            "2 of 3 updated replicas available",
        ),
        (
            {"observedGeneration": 2, "updatedReplicas": 3, "replicas": 3, "availableReplicas": 3},
            True,
            "3 replicas available",
        ),
    ],
)
def test_a_rollout_is_complete_by_kubectls_rule(
    status: dict[str, Any], done: bool, state: str
) -> None:
    assert rollout_state(deployment(**status)) == (done, state)


def test_a_deployment_past_its_progress_deadline_fails_at_once() -> None:
    stuck = deployment(
        observedGeneration=2,
        conditions=[
            {
                "type": "Progressing",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "x" has timed out progressing.',
            }
        ],
    )
    with pytest.raises(ClusterWaitError, match="exceeded its progress deadline: ReplicaSet"):
        rollout_state(stuck)


def test_the_load_balancers_address_appears_in_the_ingress_status() -> None:
    ingress = {"status": {"loadBalancer": {}}}
    assert load_balancer_address(ingress) is None
    alb = "internal-k8s-nlpbench-0123456789.us-east-1.elb.amazonaws.com"
    ingress["status"]["loadBalancer"]["ingress"] = [{"hostname": alb}]
    assert load_balancer_address(ingress).url == f"http://{alb}"
    ingress["status"]["loadBalancer"]["ingress"] = [{"ip": "10.0.0.5", "ports": [{"port": 8080}]}]
    assert load_balancer_address(ingress).url == "http://10.0.0.5:8080"


@pytest.mark.parametrize(
    ("quantity", "percent"), [("250m", 25.0), ("1", 100.0), ("123456789n", 12.3456789)]
)
def test_cpu_usage_is_percent_of_one_core(quantity: str, percent: float) -> None:
    assert cpu_percent(quantity) == pytest.approx(percent)


@pytest.mark.parametrize(
    ("quantity", "mib"), [("300Mi", 300.0), ("307200Ki", 300.0), ("1Gi", 1024.0)]
)
def test_memory_usage_is_mib(quantity: str, mib: float) -> None:
    assert memory_mb(quantity) == pytest.approx(mib)


def test_a_wait_gives_up_at_its_deadline_and_says_what_it_saw() -> None:
    now = [0.0]
    poll = Poll(
        timeout_s=10,
        interval_s=2,
        clock=lambda: now[0],
        sleep=lambda s: now.__setitem__(0, now[0] + s),
    )
    with pytest.raises(ClusterWaitError, match=r"load balancer: not done after 10 s \(no address"):
        wait_until(lambda: (None, "no address"), poll, "load balancer")
    assert now[0] == 10.0


def test_a_wait_returns_the_first_value() -> None:
    answers = iter([(None, "not yet"), (None, "not yet"), ("ready", "done")])
    poll = Poll(timeout_s=10, interval_s=0, sleep=lambda _: None)
    assert wait_until(lambda: next(answers), poll, "thing") == "ready"
