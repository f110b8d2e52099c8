"""What a platform consumed over a period: the quantities a bill is computed from.

Measured runs, the memory-size sweep and the scale simulator all reduce to these records; the
cost model (``model.py``) prices them against the catalog. Keeping usage apart from price means
a simulated day and a measured run are billed by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Architecture = Literal["x86", "arm"]
GatewayKind = Literal["none", "http", "rest"]


@dataclass(frozen=True)
class LambdaUsage:
    """Lambda (and its API Gateway) usage over one period, normally a month.

    ``billed_gb_s`` is Billed Duration × memory of on-demand invokes, Init Duration included
    (since August 2025 the INIT phase is inside Billed Duration); ``init_gb_s`` is the part of it
    that was INIT, carried only so a breakdown can show it — it is never added again.
    ``provisioned_*`` cover provisioned concurrency: capacity kept warm, and duration executed on
    it (billed at the provisioned duration rate, its inits not billed as duration).
    """

    invocations: float
    memory_mb: int
    billed_gb_s: float
    init_gb_s: float = 0.0
    provisioned_capacity_gb_s: float = 0.0
    provisioned_duration_gb_s: float = 0.0
    provisioned_invocations: float = 0.0
    architecture: Architecture = "x86"
    gateway: GatewayKind = "none"
    gateway_requests: float | None = None  # None: one gateway request per invocation
    log_ingest_gb: float = 0.0
    data_out_gb: float = 0.0
    free_tier: bool = False


@dataclass(frozen=True)
class EksUsage:
    """EKS usage over one period: the cluster, its worker nodes and what fronts them."""

    node_type: str
    node_hours: float
    cluster_hours: float
    load_balancer_hours: float = 0.0
    lcu_hours: float = 0.0
    ebs_gb_months: float = 0.0
    nat_gateway_hours: float = 0.0
    nat_processed_gb: float = 0.0
    log_ingest_gb: float = 0.0
    data_out_gb: float = 0.0
    ecr_gb_months: float = 0.0
