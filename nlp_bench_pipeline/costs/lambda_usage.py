"""Lambda usage records built from what a user knows: per-invocation figures, or REPORT records.

Lambda bills Billed Duration × memory, which the REPORT record of each invoke states; client
latency (network, gateway, queueing in the load generator) is never billed, so nothing here
reads it. Two ways in:

- ``lambda_usage``: N invocations a month of a stated duration, optionally some cold starts
  (each adds its Init Duration to the invoke's Billed Duration) and provisioned concurrency;
- ``lambda_usage_from_reports``: the REPORT records of a measured run, scaled to N invocations a
  month with the run's own mix of warm, cold and provisioned invokes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.costs.usage import DEFAULT_REGION, Architecture, GatewayKind, LambdaUsage

BYTES_PER_GB = 1024**3
REPORT_FIELDS = ("billed_ms", "duration_ms", "memory_mb")


def gb_seconds(milliseconds: float, memory_mb: float) -> float:
    """GB-seconds of ``milliseconds`` at ``memory_mb`` (Lambda counts 1 GB as 1,024 MB)."""
    return milliseconds / 1000 * memory_mb / 1024


def billed_ms(duration_ms: float) -> int:
    """Billed Duration: rounded up to the next millisecond, never below 1 ms."""
    return max(1, math.ceil(duration_ms - 1e-9))


def lambda_log_gb(
    catalog: PriceCatalog, invocations: float, cold_starts: float, app_bytes_per_invoke: float = 0
) -> float:
    """GB that every invoke's START, END and REPORT lines (and the app's own) send to CloudWatch.

    A cold start's REPORT line carries one more field (Init Duration). Each line is one log
    event; see the catalog's ``cloudwatch.log_event_overhead_bytes`` for the per-event bytes.
    """
    lines = sum(
        catalog.fact(f"lambda.log.{name}_line_bytes") for name in ("start", "end", "report")
    )
    per_invoke = lines + 3 * catalog.fact("cloudwatch.log_event_overhead_bytes")
    init_field = catalog.fact("lambda.log.init_field_bytes")
    total = invocations * (per_invoke + app_bytes_per_invoke) + cold_starts * init_field
    return total / BYTES_PER_GB


def provisioned_invocations(
    invocations: float,
    provisioned_concurrency: int,
    hours: float,
    duration_ms: float,
    peak_to_mean: float = 1.0,
) -> float:
    """How many of ``invocations`` in ``hours`` run on ``provisioned_concurrency`` environments.

    At a steady rate (``peak_to_mean`` 1) they serve up to what they can back to back at
    ``duration_ms`` (``environments × hours × 3,600,000 ms / duration``); real bursts spill over
    sooner, so this is the least on-demand share a traffic of that mean can have. For a traffic
    whose peak is ``peak_to_mean`` × its mean, the share they serve at the peak — N over the
    peak's concurrency — is taken for the whole period: off-peak they serve at least that share
    (each moment's ``min(concurrency, N) ≥ concurrency × N / peak``), so this is the most
    on-demand share a traffic with that peak can have.
    """
    if peak_to_mean < 1:
        raise ValueError(f"peak_to_mean {peak_to_mean:g}: a traffic's peak is at least its mean")
    if not provisioned_concurrency:
        return 0.0
    servable = provisioned_concurrency * hours * 3_600_000 / duration_ms / peak_to_mean
    return min(float(invocations), servable)


def lambda_usage(
    *,
    invocations: float,
    memory_mb: int,
    duration_ms: float,
    catalog: PriceCatalog,
    cold_starts: float = 0,
    init_ms: float = 0.0,
    provisioned_concurrency: int = 0,
    hours: float | None = None,
    peak_to_mean: float = 1.0,
    architecture: Architecture = "x86",
    gateway: GatewayKind = "none",
    gateway_requests: float | None = None,
    free_tier: bool = False,
    log_lines: bool = False,
    app_log_bytes_per_invoke: float = 0,
    response_bytes: float = 0,
    ecr_gb_months: float = 0,
    region: str = DEFAULT_REGION,
    notes: Iterable[str] = (),
) -> LambdaUsage:
    """Usage for ``invocations`` a month, each billed ``duration_ms`` (never client latency).

    ``duration_ms`` is the mean Billed Duration of a warm invocation (a REPORT's Duration rounded
    up to the millisecond; ``billed_ms`` rounds one). ``cold_starts`` of the invocations also ran
    an INIT of ``init_ms``, billed inside their Billed Duration.
    With ``provisioned_concurrency`` environments enabled for ``hours`` (default: the month),
    invocations run on them up to the share ``provisioned_invocations`` gives; the rest spill
    over to on-demand environments, where the cold starts happen.
    """
    hours = catalog.fact("month.hours") if hours is None else hours
    notes = list(notes)
    capacity_gb_s = 0.0
    provisioned = provisioned_invocations(
        invocations, provisioned_concurrency, hours, duration_ms, peak_to_mean
    )
    if provisioned_concurrency:
        capacity_gb_s = provisioned_concurrency * gb_seconds(hours * 3_600_000, memory_mb)
        if provisioned < invocations:
            at_peak = f" at the peak ({peak_to_mean:g}× the mean)" if peak_to_mean != 1 else ""
            notes.append(
                f"{invocations - provisioned:,.0f} invocations exceed what "
                f"{provisioned_concurrency} provisioned environments serve back to back in "
                f"{hours:g} h{at_peak}: billed on demand"
            )
    on_demand = invocations - provisioned
    if cold_starts > on_demand * (1 + 1e-9):
        raise ValueError(
            f"{cold_starts:g} cold starts but only {on_demand:g} on-demand invocations: "
            "provisioned environments initialise before traffic and bill no init as duration"
        )
    return LambdaUsage(
        invocations=invocations,
        memory_mb=memory_mb,
        billed_gb_s=gb_seconds(on_demand * duration_ms + cold_starts * init_ms, memory_mb),
        init_gb_s=gb_seconds(cold_starts * init_ms, memory_mb),
        provisioned_capacity_gb_s=capacity_gb_s,
        provisioned_duration_gb_s=gb_seconds(provisioned * duration_ms, memory_mb),
        provisioned_invocations=provisioned,
        architecture=architecture,
        gateway=gateway,
        gateway_requests=gateway_requests,
        log_ingest_gb=(
            lambda_log_gb(catalog, invocations, cold_starts, app_log_bytes_per_invoke)
            if log_lines
            else 0.0
        ),
        data_out_gb=invocations * response_bytes / BYTES_PER_GB,
        free_tier=free_tier,
        region=region,
        ecr_gb_months=ecr_gb_months,
        notes=tuple(notes),
    )


def lambda_usage_from_reports(
    reports: Iterable[Mapping[str, Any]],
    invocations: float,
    catalog: PriceCatalog,
    *,
    provisioned_concurrency: int = 0,
    hours: float | None = None,
    architecture: Architecture = "x86",
    measured_architecture: Architecture = "x86",
    gateway: GatewayKind = "none",
    free_tier: bool = False,
    app_log_bytes_per_invoke: float = 0,
    response_bytes: float = 0,
    ecr_gb_months: float = 0,
    region: str = DEFAULT_REGION,
) -> LambdaUsage:
    """Usage for ``invocations`` a month with the measured run's mix of invokes.

    Each report is a mapping with ``billed_ms``, ``duration_ms``, ``init_ms`` (None on a warm
    invoke), ``memory_mb`` and optionally ``provisioned`` (the invoke ran on a provisioned
    environment). Billed Duration and memory come from the reports; the month repeats the run's
    proportions: its cold starts (Init Duration inside Billed Duration, shown as ``init``), its
    warm invokes, and its provisioned ones, billed at the provisioned duration rate without
    their init. Log ingestion counts each invoke's START, END and REPORT lines.
    """
    rows = [_report(r) for r in reports]
    if not rows:
        raise ValueError("no REPORT records to build usage from")
    memory_sizes = sorted({r["memory_mb"] for r in rows})
    if len(memory_sizes) > 1:
        raise ValueError(f"the reports mix memory sizes {memory_sizes}: price one size at a time")
    memory_mb = int(memory_sizes[0])
    provisioned = [r for r in rows if r["provisioned"]]
    on_demand = [r for r in rows if not r["provisioned"]]
    if provisioned and not provisioned_concurrency:
        raise ValueError(
            "the reports include invokes on provisioned environments: give provisioned_concurrency"
        )
    scale = invocations / len(rows)
    cold = [r for r in on_demand if r["init_ms"]]
    notes = [f"scaled from {len(rows):,} REPORT records to {invocations:,.0f} invocations"]
    if architecture != measured_architecture:
        notes.append(
            f"{architecture} durations reused from {measured_architecture} runs "
            f"(no {architecture} run measured)"
        )
    hours = catalog.fact("month.hours") if hours is None else hours
    return LambdaUsage(
        invocations=invocations,
        memory_mb=memory_mb,
        billed_gb_s=scale * gb_seconds(sum(r["billed_ms"] for r in on_demand), memory_mb),
        init_gb_s=scale * gb_seconds(sum(r["init_ms"] for r in cold), memory_mb),
        provisioned_capacity_gb_s=provisioned_concurrency
        * gb_seconds(hours * 3_600_000, memory_mb),
        # A provisioned environment's init ran before traffic: not billed as duration.
        provisioned_duration_gb_s=scale
        * gb_seconds(sum(billed_ms(r["duration_ms"]) for r in provisioned), memory_mb),
        provisioned_invocations=scale * len(provisioned),
        architecture=architecture,
        gateway=gateway,
        log_ingest_gb=lambda_log_gb(
            catalog, invocations, scale * len(cold), app_log_bytes_per_invoke
        ),
        data_out_gb=invocations * response_bytes / BYTES_PER_GB,
        free_tier=free_tier,
        region=region,
        ecr_gb_months=ecr_gb_months,
        notes=tuple(notes),
    )


def _report(record: Mapping[str, Any]) -> dict[str, Any]:
    missing = [name for name in REPORT_FIELDS if record.get(name) is None]
    if missing:
        raise ValueError(f"a REPORT record lacks {', '.join(missing)}: {dict(record)}")
    return {
        "billed_ms": float(record["billed_ms"]),
        "duration_ms": float(record["duration_ms"]),
        "init_ms": float(record.get("init_ms") or 0.0),
        "memory_mb": float(record["memory_mb"]),
        "provisioned": bool(record.get("provisioned", False)),
    }
