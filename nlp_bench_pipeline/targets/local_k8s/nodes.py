"""Worker nodes as capacity, and the cluster autoscaler that adds one when pods cannot fit.

Pure bookkeeping with the clock passed in, so the arithmetic is tested without waiting: every pod
really runs on this host, and a node only decides *when* a pod may start. A pod that fits nowhere
stays Pending; the autoscaler then asks for as many nodes as the pending pods need (counting the
free slots of nodes already booting, as Cluster Autoscaler's simulation does), each Ready after
the node-add delay. Nodes are never removed: Cluster Autoscaler's scale-down (10 min unneeded) is
longer than a benchmark run and not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Node:
    """One worker node: which pods it holds and when it is (or will be) Ready."""

    name: str
    requested_at: float
    ready_at: float
    pods: set[str] = field(default_factory=set)
    announced: bool = False

    def is_ready(self, now: float) -> bool:
        return now >= self.ready_at


class NodePool:
    """Nodes of ``capacity`` pods each, between the initial count and ``max_nodes``."""

    def __init__(
        self, *, capacity: int, initial: int, max_nodes: int, add_delay_s: float, now: float
    ) -> None:
        if capacity < 1:
            raise ValueError("a node must hold at least one pod")
        self.capacity = capacity
        self.max_nodes = max(max_nodes, initial)
        self.add_delay_s = add_delay_s
        self.nodes: list[Node] = []
        for _ in range(initial):
            self._add(now, ready_at=now).announced = True

    def bind(self, pod: str, now: float) -> Node | None:
        """Place ``pod`` on the Ready node with the most room (the scheduler spreads), if any."""
        candidates = [n for n in self.nodes if n.is_ready(now) and len(n.pods) < self.capacity]
        if not candidates:
            return None
        node = min(candidates, key=lambda n: len(n.pods))
        node.pods.add(pod)
        return node

    def unbind(self, pod: str) -> None:
        for node in self.nodes:
            node.pods.discard(pod)

    def provision(self, pending: int, now: float) -> list[Node]:
        """Request the nodes ``pending`` unschedulable pods need beyond those already booting."""
        booting_room = sum(self.capacity - len(n.pods) for n in self.nodes if not n.is_ready(now))
        wanted = math.ceil(max(0, pending - booting_room) / self.capacity)
        allowed = min(wanted, self.max_nodes - len(self.nodes))
        return [self._add(now, ready_at=now + self.add_delay_s) for _ in range(allowed)]

    def newly_ready(self, now: float) -> list[Node]:
        """Nodes that became Ready since the last call (each reported once)."""
        fresh = [n for n in self.nodes if n.is_ready(now) and not n.announced]
        for node in fresh:
            node.announced = True
        return fresh

    def next_ready_at(self, now: float) -> float | None:
        """When the next booting node becomes Ready, if one is booting."""
        booting = [n.ready_at for n in self.nodes if not n.is_ready(now)]
        return min(booting, default=None)

    def figures(self, now: float) -> dict[str, int | float]:
        return {
            "pods_per_node": self.capacity,
            "nodes": len(self.nodes),
            "nodes_ready": sum(n.is_ready(now) for n in self.nodes),
            "max_nodes": self.max_nodes,
            "add_delay_s": self.add_delay_s,
        }

    def _add(self, now: float, ready_at: float) -> Node:
        node = Node(f"node-{len(self.nodes) + 1}", requested_at=now, ready_at=ready_at)
        self.nodes.append(node)
        return node
