"""The Kubernetes model: queues, round robin, the HPA's rules, pod start, nodes, scale-down."""

from __future__ import annotations

import numpy as np
import pytest

from nlp_bench_pipeline.simulate.distributions import Distribution
from nlp_bench_pipeline.simulate.eks_model import EksSettings, EksSimulation, EksTiming
from nlp_bench_pipeline.simulate.outcomes import RequestTally
from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig, NodeConfig


def const(ms: float) -> Distribution:
    return Distribution.constant(ms, "test")


POD_START_MS, POD_READY_MS = 1000.0, 2000.0  # scheduled -> started -> ready: 3 s


def model(service_ms=100.0, **knobs) -> tuple[EksSimulation, RequestTally]:
    knobs.setdefault("nodes", NodeConfig(pods_per_node=10, max_nodes=5, add_delay_s=60.0))
    knobs.setdefault("min_replicas", 1)
    knobs.setdefault("max_replicas", 1)
    timing = EksTiming(const(service_ms), 0.0, const(POD_START_MS), const(POD_READY_MS))
    tally = RequestTally(exact_limit=10**9)
    return EksSimulation(EksSettings(**knobs), timing, np.random.default_rng(0), tally), tally


def latencies(tally: RequestTally) -> list[float]:
    return tally.phases["all"].recorder.values().tolist()


def every(step_s: float, until_s: float, start_s: float = 0.0) -> np.ndarray:
    return np.arange(start_s, until_s, step_s)


def test_a_pod_serves_one_request_at_a_time_in_arrival_order():
    sim, tally = model()
    sim.feed(np.array([0.0, 0.0, 0.0, 1.0]))
    sim.finish(10)
    assert latencies(tally) == pytest.approx([100.0, 200.0, 300.0, 100.0])


def test_the_service_sends_each_request_to_the_next_ready_pod_in_turn():
    sim, tally = model(min_replicas=3, max_replicas=3)
    sim.feed(np.zeros(6))
    sim.finish(10)
    assert latencies(tally) == pytest.approx([100.0, 100.0, 100.0, 200.0, 200.0, 200.0])


def test_a_pod_with_two_slots_serves_two_at_once():
    sim, tally = model(parallelism=2)
    sim.feed(np.zeros(4))
    sim.finish(10)
    assert latencies(tally) == pytest.approx([100.0, 100.0, 200.0, 200.0])


def test_without_a_ready_pod_the_front_answers_503():
    sim, tally = model(initial_ready_at_s=5.0)
    sim.feed(np.array([1.0, 4.9, 5.1]))
    sim.finish(10)
    phase = tally.phases["all"]
    assert phase.outcomes["no_endpoint"] == 2
    assert phase.ok == 1


def test_past_the_upstream_timeout_the_client_gets_504_and_the_pod_works_on():
    sim, tally = model(upstream_timeout_s=0.25)
    sim.feed(np.array([0.0, 0.0, 0.0, 0.26]))
    sim.finish(10)
    phase = tally.phases["all"]
    assert phase.outcomes["gateway_timeout"] == 1  # the third: 300 ms
    # the pod finished the third anyway (until 0.3 s): the fourth waited for it
    assert sorted(latencies(tally)) == pytest.approx([100.0, 140.0, 200.0])


def test_hpa_scales_to_ceil_current_times_metric_over_target():
    # one pod kept 100 % busy against a 50 % CPU target: at the first sync (15 s), 2 pods
    sim, _ = model(max_replicas=10, hpa=HpaConfig(metric="cpu", target=50))
    sim.feed(every(0.05, 15.0))  # 20 req/s of 100 ms: twice what the pod can do
    sim.advance(15.0)
    assert sim.replicas == 2


def test_hpa_changes_nothing_within_the_tolerance():
    # 85 % busy against 80 %: |85/80 - 1| = 0.0625 <= 0.1
    sim, _ = model(service_ms=85.0, max_replicas=10, hpa=HpaConfig(metric="cpu", target=80))
    sim.feed(every(0.1, 60.0))
    sim.advance(60.0)
    assert sim.replicas == 1
    assert sim.totals.scale_outs == 0


def test_hpa_on_requests_in_flight():
    # 20 req/s of 100 ms on one pod: the queue grows, far over 1 in flight per pod
    sim, _ = model(max_replicas=10, hpa=HpaConfig(metric="inflight", target=1.0))
    sim.feed(every(0.05, 15.0))
    sim.advance(15.0)
    assert sim.replicas == 5  # the default policy allows +4 pods (or +100 %) per sync


def test_scale_down_waits_for_the_stabilisation_window():
    # 2 pods fully busy until the sync at 15 s (recommends 3), then no traffic: the 300 s window
    # holds the 15 s recommendation until it is older than 300 s, i.e. until the sync at 330 s
    sim, _ = model(min_replicas=1, max_replicas=5, initial_replicas=2, hpa=HpaConfig(target=80))
    sim.feed(every(0.05, 15.0))  # each pod: one 100 ms request every 100 ms
    sim.advance(315.0)
    assert sim.replicas == 3
    sim.advance(330.0)
    assert sim.replicas == 1


def test_a_new_pod_takes_traffic_once_started_and_loaded():
    sim, _ = model(max_replicas=10, hpa=HpaConfig(metric="cpu", target=50))
    sim.feed(every(0.05, 15.0))
    sim.advance(15.0)
    new = [p for p in sim.pods if not p.ready]
    assert [p.ready_at for p in new] == [15.0 + 3.0]
    sim.advance(18.0)
    assert all(p.ready for p in sim.pods)


def test_a_pod_that_fits_no_node_waits_for_a_new_node():
    nodes = NodeConfig(pods_per_node=1, max_nodes=5, add_delay_s=60.0)
    sim, _ = model(max_replicas=10, nodes=nodes, hpa=HpaConfig(metric="cpu", target=50))
    sim.feed(every(0.05, 15.0))
    sim.advance(15.0)
    pending = [p for p in sim.pods if p.node is None]
    assert len(pending) == 1
    assert len(sim.nodes.nodes) == 2  # one requested at 15 s
    sim.advance(75.0)  # Ready at 15 + 60 s; the pod is placed, then starts and loads
    assert pending[0].ready_at == 75.0 + 3.0
    assert sim.totals.nodes_added == 1


def test_an_unneeded_node_is_removed_after_ten_minutes_and_billed_until_then():
    nodes = NodeConfig(pods_per_node=1, allocatable_cpu=1.93, max_nodes=5, add_delay_s=0.0)
    sim, _ = model(min_replicas=1, max_replicas=5, initial_replicas=3, nodes=nodes)
    sim.finish(1200.0)
    # no traffic: 3 -> 1 pod at the first sync (15 s; no higher recommendation in the window);
    # the autoscaler sees two empty nodes from the next sync (30 s) and removes them 600 s on
    assert sim.replicas == 1
    assert sim.totals.nodes_removed == 2
    assert len(sim.nodes.nodes) == 1
    assert sim.totals.node_seconds == pytest.approx(1200.0 + 2 * 630.0)


def test_same_seed_same_result():
    def once(seed: int) -> list[float]:
        timing = EksTiming(
            Distribution.lognormal(100, 0.5, "t"),
            1.0,
            const(1000),
            Distribution.lognormal(5e3, 0.2, "t"),
        )
        tally = RequestTally(exact_limit=10**9)
        settings = EksSettings(min_replicas=1, max_replicas=8, nodes=NodeConfig(pods_per_node=2))
        sim = EksSimulation(settings, timing, np.random.default_rng(seed), tally)
        sim.feed(np.sort(np.random.default_rng(1).uniform(0, 120, 2000)))
        sim.finish(130)
        return latencies(tally)

    assert once(3) == once(3)
    assert once(3) != once(4)


def test_no_request_is_lost_between_control_events():
    sim, tally = model(min_replicas=1, max_replicas=6, hpa=HpaConfig(target=50))
    t = np.sort(np.random.default_rng(2).uniform(0, 200, 5000))
    for part in np.array_split(t, 9):
        sim.feed(part)
    sim.finish(300)
    phase = tally.phases["all"]
    assert phase.requests == t.size == sum(phase.outcomes.values())
    assert phase.outcomes["ok"] + phase.outcomes["gateway_timeout"] == t.size
