"""EKS clusters sized for a traffic, and their usage records.

A cluster that must hold a request rate at the SLO needs enough pods, each run below the rate it
sustains at the SLO (the utilisation target leaves the queueing headroom the tail needs), and
enough nodes to schedule those pods on what each node leaves to pods — allocatable CPU and
memory less the per-node DaemonSets, not the instance's vCPUs. An Application Load Balancer in
front is billed by the hour and by LCUs, each hour on the largest of its four dimensions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from nlp_bench_pipeline.costs.catalog import InstanceType, PriceCatalog
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION, EksUsage

BYTES_PER_GB = 1024**3


@dataclass(frozen=True)
class EksSizing:
    """How many pods and nodes of one type hold ``peak_rps`` at the utilisation target."""

    node_type: str
    peak_rps: float
    pod_capacity_rps: float
    utilisation: float
    pods: int
    pods_per_node: int
    nodes: int


@dataclass(frozen=True)
class AlbTraffic:
    """What an ALB's LCUs are counted from, per request.

    Defaults are assumptions: one request per connection (clients that do not keep connections
    alive, the dearest case for new connections), a connection open for 1 s, a 600-byte request
    and 300-byte response (one review text in JSON, headers included), one listener rule.
    """

    request_bytes: float = 600
    response_bytes: float = 300
    requests_per_connection: float = 1.0
    connection_s: float = 1.0
    rules: int = 1


def pods_per_node(
    node: InstanceType, pod_cpu_m: float, pod_memory_mib: float, catalog: PriceCatalog
) -> int:
    """Pods of this request that fit on one node beside the per-node DaemonSets."""
    cpu = node.allocatable_cpu_m - catalog.fact("eks.daemonset_cpu_request_m")
    pods = node.max_pods - catalog.fact("eks.daemonset_pods")
    return max(
        0,
        min(
            math.floor(cpu / pod_cpu_m),
            math.floor(node.allocatable_memory_mib / pod_memory_mib),
            int(pods),
        ),
    )


def size_eks_cluster(
    peak_rps: float,
    *,
    pod_capacity_rps: float,
    node_type: str,
    pod_cpu_m: float,
    pod_memory_mib: float,
    utilisation: float,
    catalog: PriceCatalog,
    region: str = DEFAULT_REGION,
    min_pods: int = 2,
    min_nodes: int = 2,
) -> EksSizing:
    """Pods and nodes for ``peak_rps``: each pod at ``utilisation`` of its SLO capacity.

    ``min_pods`` and ``min_nodes`` (default 2 each: a second replica and a second node, so one
    failure or drain does not take the service down) floor the cluster at low traffic.
    """
    if pod_capacity_rps <= 0 or not 0 < utilisation <= 1:
        raise ValueError(
            f"pod capacity {pod_capacity_rps} req/s and utilisation {utilisation} must be > 0 "
            "(utilisation at most 1)"
        )
    node = catalog.instance(node_type, region)
    per_node = pods_per_node(node, pod_cpu_m, pod_memory_mib, catalog)
    if per_node == 0:
        raise ValueError(
            f"a pod requesting {pod_cpu_m:g}m CPU and {pod_memory_mib:g} MiB does not fit on "
            f"{node_type} (allocatable {node.allocatable_cpu_m:g}m, "
            f"{node.allocatable_memory_mib:g} MiB, less the DaemonSets)"
        )
    # The tolerance keeps 10.000000001 pods (float noise) from becoming 11.
    pods = max(min_pods, math.ceil(peak_rps / (pod_capacity_rps * utilisation) - 1e-9))
    nodes = max(min_nodes, math.ceil(pods / per_node))
    return EksSizing(node_type, peak_rps, pod_capacity_rps, utilisation, pods, per_node, nodes)


def alb_lcus(rps: float, traffic: AlbTraffic, catalog: PriceCatalog) -> float:
    """LCUs an ALB bills per hour at ``rps``: the largest of its four dimensions."""
    new_connections = rps / traffic.requests_per_connection
    processed_gb_per_hour = rps * (traffic.request_bytes + traffic.response_bytes) * 3600
    billable_rules = max(0, traffic.rules - catalog.fact("elb.alb.free_rules"))
    return max(
        new_connections / catalog.fact("elb.alb.lcu.new_connections_per_s"),
        new_connections * traffic.connection_s / catalog.fact("elb.alb.lcu.active_connections"),
        processed_gb_per_hour / BYTES_PER_GB / catalog.fact("elb.alb.lcu.processed_gb_per_hour"),
        rps * billable_rules / catalog.fact("elb.alb.lcu.rule_evaluations_per_s"),
    )


def eks_usage(
    *,
    node_type: str,
    nodes: int,
    hours: float,
    catalog: PriceCatalog,
    load_balancer: bool = False,
    mean_rps: float = 0.0,
    traffic: AlbTraffic | None = None,
    nat_gateways: int = 0,
    node_volume_gb: float | None = None,
    ecr_gb_months: float = 0.0,
    extended_support: bool = False,
    region: str = DEFAULT_REGION,
    notes: Iterable[str] = (),
) -> EksUsage:
    """Usage of a cluster of ``nodes`` for ``hours``, serving ``mean_rps`` through an ALB.

    Every LCU dimension grows with the request rate, so the month's LCU-hours are the mean
    rate's LCUs × hours, whatever the traffic's shape. Data out to the internet is the
    responses' bytes; NAT gateways carry only the nodes' own egress (image pulls), taken as
    nothing here — inference traffic enters and leaves through the load balancer.
    """
    traffic = traffic or AlbTraffic()
    volume_gb = catalog.fact("eks.node_volume_gb") if node_volume_gb is None else node_volume_gb
    month_hours = catalog.fact("month.hours")
    requests = mean_rps * hours * 3600
    return EksUsage(
        node_type=node_type,
        node_hours=nodes * hours,
        cluster_hours=hours,
        load_balancer_hours=hours if load_balancer else 0.0,
        lcu_hours=alb_lcus(mean_rps, traffic, catalog) * hours if load_balancer else 0.0,
        ebs_gb_months=nodes * volume_gb * hours / month_hours,
        nat_gateway_hours=nat_gateways * hours,
        data_out_gb=requests * traffic.response_bytes / BYTES_PER_GB,
        ecr_gb_months=ecr_gb_months,
        region=region,
        extended_support=extended_support,
        notes=tuple(notes),
    )
