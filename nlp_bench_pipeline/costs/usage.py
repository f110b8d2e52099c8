"""What a platform consumed over a period: the quantities a bill is computed from.

Measured runs, the memory-size sweep and the scale simulator all reduce to these records; the
cost model (``model.py``) prices them against the catalog. Keeping usage apart from price means
a simulated day and a measured run are billed by the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Literal

Architecture = Literal["x86", "arm"]
GatewayKind = Literal["none", "http", "rest"]
DEFAULT_REGION = "us-east-1"


def _require_non_negative(record: object) -> None:
    """Every quantity is a count or an amount: negative or NaN is a caller's bug, said early."""
    for field in fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        number = isinstance(value, float | int) and not isinstance(value, bool)
        if number and (math.isnan(value) or value < 0):
            raise ValueError(f"{type(record).__name__}.{field.name} is {value}")


@dataclass(frozen=True)
class LambdaUsage:
    """Lambda (and its API Gateway) usage over one period, normally a month.

    ``invocations`` counts every invocation, on-demand and provisioned: each pays the request
    fee. ``billed_gb_s`` is Billed Duration × memory of the on-demand invokes, Init Duration
    included (since August 2025 the INIT phase is inside Billed Duration); ``init_gb_s`` is the
    part of it that was INIT, carried only so a breakdown can show it — it is never added again.
    ``provisioned_*`` cover provisioned concurrency: capacity kept warm, and duration executed on
    it (billed at the provisioned duration rate, its inits not billed as duration);
    ``provisioned_invocations`` is the part of ``invocations`` those environments served.
    ``notes`` carry the assumptions the usage was built on into the priced breakdown.
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
    region: str = DEFAULT_REGION
    ecr_gb_months: float = 0.0
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_non_negative(self)
        if self.init_gb_s > self.billed_gb_s * (1 + 1e-9):
            raise ValueError(
                f"init_gb_s {self.init_gb_s} exceeds billed_gb_s {self.billed_gb_s}: Init Duration "
                "is part of Billed Duration"
            )
        if self.provisioned_invocations > self.invocations * (1 + 1e-9):
            raise ValueError(
                f"provisioned_invocations {self.provisioned_invocations} exceeds invocations "
                f"{self.invocations}: they are a part of them"
            )


@dataclass(frozen=True)
class EksUsage:
    """EKS usage over one period: the cluster, its worker nodes and what fronts them.

    ``node_hours`` are hours of ``node_type`` summed over nodes (3 nodes for a 730-hour month:
    2,190); ``ebs_gb_months`` the nodes' root volumes; ``lcu_hours`` the load balancer's capacity
    units summed over its hours (each hour billed on its largest dimension).
    """

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
    region: str = DEFAULT_REGION
    extended_support: bool = False
    notes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_non_negative(self)
