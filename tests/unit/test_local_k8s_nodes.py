"""Node capacity and the cluster autoscaler's node additions, with the clock passed in."""

from __future__ import annotations

from nlp_bench_pipeline.targets.local_k8s.nodes import NodePool


def pool(**overrides: float) -> NodePool:
    knobs = {"capacity": 2, "initial": 1, "max_nodes": 3, "add_delay_s": 60.0, "now": 0.0}
    return NodePool(**{**knobs, **overrides})  # type: ignore[arg-type]


def test_pods_fit_until_the_nodes_are_full() -> None:
    nodes = pool()
    assert nodes.bind("a", 0.0) is not None
    assert nodes.bind("b", 0.0) is not None
    assert nodes.bind("c", 0.0) is None


def test_scheduler_spreads_pods_over_nodes() -> None:
    nodes = pool(initial=2)
    first, second = nodes.bind("a", 0.0), nodes.bind("b", 0.0)
    assert first is not None
    assert second is not None
    assert first.name != second.name


def test_pending_pods_get_a_node_after_the_add_delay() -> None:
    nodes = pool(capacity=1)
    nodes.bind("a", 0.0)
    added = nodes.provision(1, now=5.0)
    assert [n.ready_at for n in added] == [65.0]
    assert nodes.bind("b", 64.0) is None
    assert nodes.newly_ready(64.0) == []
    assert [n.name for n in nodes.newly_ready(65.0)] == ["node-2"]
    assert nodes.bind("b", 65.0) is not None


def test_nodes_already_booting_are_counted_before_adding_more() -> None:
    nodes = pool(capacity=2, initial=1, max_nodes=5)
    nodes.bind("a", 0.0), nodes.bind("b", 0.0)
    assert len(nodes.provision(3, now=1.0)) == 2
    assert nodes.provision(3, now=2.0) == []
    assert len(nodes.provision(5, now=3.0)) == 1


def test_no_more_nodes_than_the_group_maximum() -> None:
    nodes = pool(capacity=1, initial=1, max_nodes=2)
    assert len(nodes.provision(10, now=0.0)) == 1


def test_a_freed_slot_takes_the_next_pod() -> None:
    nodes = pool(capacity=1)
    nodes.bind("a", 0.0)
    nodes.unbind("a")
    assert nodes.bind("b", 0.0) is not None


def test_next_ready_at_is_the_earliest_booting_node() -> None:
    nodes = pool(capacity=1, max_nodes=5)
    assert nodes.next_ready_at(0.0) is None
    nodes.provision(1, now=10.0)
    assert nodes.next_ready_at(11.0) == 70.0
