"""EKS sizing: pods from per-pod capacity, nodes from allocatable CPU, ALB LCUs."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.costs.catalog import InstanceType, load_catalog
from nlp_bench_pipeline.costs.eks_sizing import (
    AlbTraffic,
    alb_lcus,
    eks_usage,
    pods_per_node,
    size_eks_cluster,
)

CATALOG = load_catalog()


def node(instance_type: str) -> InstanceType:
    return CATALOG.instance(instance_type, "us-east-1")


def test_pods_fit_on_allocatable_cpu_less_the_daemonsets_not_on_vcpus() -> None:
    # c7i.xlarge: 3,920m allocatable − 125m DaemonSets = 3,795m: three 1-core pods, not four.
    assert pods_per_node(node("c7i.xlarge"), 1000, 1024, CATALOG) == 3
    assert pods_per_node(node("c7i.2xlarge"), 1000, 1024, CATALOG) == 7
    assert pods_per_node(node("c7i.xlarge"), 500, 512, CATALOG) == 7


def test_memory_can_be_what_limits_pods_per_node() -> None:
    # 7,199 MiB allocatable on an xlarge: two 3 GiB pods, though CPU would fit more.
    assert pods_per_node(node("c7g.xlarge"), 250, 3072, CATALOG) == 2


def test_cluster_is_sized_for_the_peak_at_the_utilisation_target() -> None:
    # 100 req/s on pods sustaining 10 req/s, run at 70 %: ceil(100 / 7) = 15 pods, 3 a node.
    sizing = size_eks_cluster(
        100,
        pod_capacity_rps=10,
        node_type="c7i.xlarge",
        pod_cpu_m=1000,
        pod_memory_mib=2048,
        utilisation=0.7,
        catalog=CATALOG,
    )
    assert (sizing.pods, sizing.pods_per_node, sizing.nodes) == (15, 3, 5)


def test_low_traffic_keeps_the_minimum_pods_and_nodes() -> None:
    sizing = size_eks_cluster(
        0.01,
        pod_capacity_rps=10,
        node_type="c7i.2xlarge",
        pod_cpu_m=1000,
        pod_memory_mib=2048,
        utilisation=0.5,
        catalog=CATALOG,
    )
    assert (sizing.pods, sizing.nodes) == (2, 2)


def test_exact_capacity_does_not_round_up_to_another_pod() -> None:
    sizing = size_eks_cluster(
        30,
        pod_capacity_rps=10,
        node_type="c7i.xlarge",
        pod_cpu_m=1000,
        pod_memory_mib=1024,
        utilisation=0.6,
        catalog=CATALOG,
        min_pods=1,
    )
    assert sizing.pods == 5


def test_a_pod_larger_than_the_node_is_refused_with_the_node_figures() -> None:
    with pytest.raises(ValueError, match=r"does not fit on c7i\.large \(allocatable 1930m"):
        size_eks_cluster(
            1,
            pod_capacity_rps=10,
            node_type="c7i.large",
            pod_cpu_m=2000,
            pod_memory_mib=1024,
            utilisation=0.6,
            catalog=CATALOG,
        )


def test_new_connections_dominate_lcus_without_keep_alive() -> None:
    assert alb_lcus(100, AlbTraffic(), CATALOG) == pytest.approx(100 / 25)


def test_processed_bytes_dominate_lcus_with_keep_alive_and_large_bodies() -> None:
    traffic = AlbTraffic(request_bytes=100_000, response_bytes=0, requests_per_connection=1000)
    assert alb_lcus(100, traffic, CATALOG) == pytest.approx(100 * 100_000 * 3600 / 1024**3)


def test_long_connections_make_active_connections_the_dimension() -> None:
    traffic = AlbTraffic(requests_per_connection=1, connection_s=600)
    assert alb_lcus(100, traffic, CATALOG) == pytest.approx(100 * 600 / 3000)


def test_rules_beyond_the_free_ten_count_as_evaluations() -> None:
    traffic = AlbTraffic(requests_per_connection=1e6, request_bytes=0, response_bytes=0, rules=60)
    assert alb_lcus(100, traffic, CATALOG) == pytest.approx(100 * 50 / 1000)


def test_usage_of_a_month_bills_nodes_volumes_and_load_balancer_hours() -> None:
    usage = eks_usage(
        node_type="c7g.xlarge",
        nodes=4,
        hours=730,
        catalog=CATALOG,
        load_balancer=True,
        mean_rps=50,
        nat_gateways=1,
    )
    assert usage.node_hours == 2920
    assert usage.ebs_gb_months == pytest.approx(80)
    assert usage.lcu_hours == pytest.approx(2 * 730)
    assert usage.nat_gateway_hours == 730
    assert usage.data_out_gb == pytest.approx(50 * 730 * 3600 * 300 / 1024**3)
