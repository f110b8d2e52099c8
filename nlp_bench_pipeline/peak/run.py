"""One search invocation on one target: every size and policy, every bound, the projections.

For each size (``capacity.sizes_for``) and policy the measured search runs its probes
(``probes.MeasuredProbes``) at the plan's bound; the other bounds (MLPerf's 130 ms by default)
are judged on the same probes by the same rule (``search.bracket``), since their own search
would need rates a laptop cannot afford (and at 130 ms none passes here: see docs/peak.md). Each
search then gets its projection (``projection.SimulatedProbes``), calibrated from its probes.
Sizes the host cannot run are rows with status "not run (host)", never run. Everything is
written in one transaction under the invocation's id (``store.peak``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.bench.cell import Launcher
from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS, utcnow
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.peak.capacity import (
    Size,
    capacity_figures,
    configured_vcpus,
    host_refusal,
    sizes_for,
    spec_for,
)
from nlp_bench_pipeline.peak.plan import PeakPlan, Policy
from nlp_bench_pipeline.peak.probes import FIGURES, MeasuredProbes
from nlp_bench_pipeline.peak.projection import SimulatedProbes, calibration_runs
from nlp_bench_pipeline.peak.search import ProbeOutcome, SearchResult, bracket, find_peak
from nlp_bench_pipeline.simulate.calibration import CalibrationError, calibrate
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.peak import write_searches
from nlp_bench_pipeline.targets.base import Target

Progress = Callable[[str], None]


@dataclass(frozen=True)
class PeakRequest:
    """What one invocation searches, and what it records the runs with."""

    bench: BenchmarkPlan
    plan: PeakPlan
    invocation_id: str
    provenance: Provenance
    work_dir: Path
    catalog: PriceCatalog | None = None  # None: no projection


@dataclass
class PeakOutcome:
    """The rows written: one per search (measured and simulated, every bound), and the probes."""

    invocation_id: str
    searches: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: dict[str, Any], result: SearchResult | None, policy: Policy) -> None:
        self.searches.append(row)
        for number, probe in enumerate(result.probes if result else []):
            self.probes.append(
                probe_row(self.invocation_id, row["search_id"], number, probe, policy)
            )


def run_peak(
    targets: Sequence[Target],
    store: MetricStore,
    request: PeakRequest,
    *,
    launch: Launcher,
    progress: Progress = print,
) -> PeakOutcome:
    """Every size × policy of ``request`` on each of ``targets``, one after another.

    The invocation's rows are stored after each target (replacing what was stored of it so
    far), so a target that fails later does not lose the searches already made.
    """
    outcome = PeakOutcome(request.invocation_id)
    for target in targets:
        for size in sizes_for(target.name, request.bench, request.plan):
            refusal = host_refusal(target.name, size)
            for policy in request.plan.policies:
                tag = f"{target.name} {size.label} {policy}"
                if refusal:
                    progress(f"{tag}: not run (host): {refusal}")
                    row = _not_run_row(target.name, size, policy, request, refusal)
                    outcome.add(row, None, policy)
                    continue
                progress(f"{tag}: searching for the peak rate, p99 <= {request.plan.slo_ms:g} ms")
                _search(target, store, request, size, policy, outcome, launch, progress)
        write_searches(store, request.invocation_id, outcome.searches, outcome.probes)
    return outcome


def _search(
    target: Target,
    store: MetricStore,
    request: PeakRequest,
    size: Size,
    policy: Policy,
    outcome: PeakOutcome,
    launch: Launcher,
    progress: Progress,
) -> None:
    plan = request.plan
    measured = MeasuredProbes(
        target=target,
        store=store,
        plan=plan,
        policy=policy,
        spec=spec_for(request.bench, target.name, size, policy),
        series_prefix=f"{request.invocation_id}-{size.slug}-{policy}",
        launch=launch,
        provenance=request.provenance,
        work_dir=request.work_dir,
        mode=request.bench.load_mode if target.name == "aws-lambda" else "http",
        progress=lambda line: progress(f"{target.name} {size.label} {policy}: {line}"),
    )
    bounds = plan.search_bounds()
    result = find_peak(measured, bounds)
    progress(f"{target.name} {size.label} {policy}: {result.status}: {result.reason}")
    deployment = next((o.figures.get("deployment") for o in measured.outcomes), None)
    for bound in plan.bounds:
        judged = (
            result
            if bound == plan.slo_ms or result.status == "failed"
            else bracket(
                measured.judged_at(bound),
                bounds,
                note=f"judged on the rates the {plan.slo_ms:g} ms search chose",
            )
        )
        common = _common(target.name, size, policy, request, bound, judged)
        capacity = capacity_figures(
            target.name, size, deployment, judged.peak_rps, judged.probes, _bounding(judged)
        )
        outcome.add(
            {
                **common,
                "method": "measured",
                **capacity,
                "run_ids": _run_ids(judged.probes),
                "search_id": _search_id(request, target.name, size, policy, bound, "measured"),
                "detail": {"plan": plan.model_dump(mode="json"), "deployment": _limits(deployment)},
            },
            judged,
            policy,
        )
        if request.catalog is not None and measured.outcomes:
            row, projected = _projection(
                store, target.name, size, policy, request, bound, measured.outcomes, deployment
            )
            outcome.add(row, projected, policy)


def _projection(
    store: MetricStore,
    target: str,
    size: Size,
    policy: Policy,
    request: PeakRequest,
    bound: float,
    measured: Sequence[ProbeOutcome],
    deployment: dict[str, Any] | None,
) -> tuple[dict[str, Any], SearchResult | None]:
    """The simulated search's row (and its result), or a 'failed' row saying why not."""
    platform = "lambda" if target in LAMBDA_STYLE_TARGETS else "eks"
    runs = calibration_runs(measured)
    search_id = _search_id(request, target, size, policy, bound, "simulated")
    configured = configured_vcpus(target, size, deployment or {})
    try:
        calibration = calibrate(store, platform, run_ids=runs)
    except CalibrationError as exc:
        result = None
        row = {"status": "failed", "reason": f"the simulator could not calibrate: {exc}"}
        detail: dict[str, Any] = {}
    else:
        probes = SimulatedProbes(
            target=target,
            size=size,
            policy=policy,
            calibration=calibration,
            catalog=request.catalog,  # type: ignore[arg-type]
            concurrency_limit=((deployment or {}).get("limits") or {}).get("concurrency_limit"),
            min_replicas=request.bench.min_replicas,
            bound_ms=bound,
            rule=request.plan.rule(),
            seed=request.plan.template().seed + request.plan.seed_offset,
        )
        result = find_peak(probes, request.plan.search_bounds())
        row = {
            "status": result.status,
            "reason": "AWS's rules, this configuration, service "
            f"times calibrated from the measured probes: {result.reason}",
        }
        detail = {
            "rules": "aws",
            "settings": probes.last_settings,
            "calibration": calibration.describe(
                platform, size.memory_mb or LAMBDA_DEFAULT_MEMORY_MB
            ),
        }
    common = _common(target, size, policy, request, bound, result)
    peak = result.peak_rps if result else None
    return {
        **common,
        **row,
        "search_id": search_id,
        "method": "simulated",
        "configured_vcpus": configured,
        "host_cores": None,
        "vcpus": configured,
        "per_vcpu_rps": peak / configured if peak is not None and configured else None,
        "host_limited": False,
        "host_limited_reasons": [],
        "bounding_host_limited_share": None,
        "run_ids": runs,
        "detail": detail,
    }, result


def _common(
    target: str,
    size: Size,
    policy: Policy,
    request: PeakRequest,
    bound: float,
    result: SearchResult | None,
) -> dict[str, Any]:
    """The columns every search row of this (target, size, policy, bound) shares."""
    rule = request.plan.rule()
    return {
        "searched_at": utcnow(),
        "target": target,
        "size": size.label,
        "memory_mb": size.memory_mb,
        "pod_cpu": size.pod_cpu,
        "replicas": size.replicas,
        "policy": policy,
        "slo_p99_ms": bound,
        "rates_chosen_for_ms": request.plan.slo_ms,
        "profile": request.plan.profile,
        "model": request.bench.model,
        "status": result.status if result else "failed",
        "peak_rps": result.peak_rps if result else None,
        "upper_rps": result.upper_rps if result else None,
        "reason": result.reason if result else "",
        "probes": len(result.probes) if result else 0,
        "min_duration_s": rule.min_duration_s,
        "min_requests": rule.min_requests,
        "tolerance": request.plan.tolerance,
    }


def _not_run_row(
    target: str, size: Size, policy: Policy, request: PeakRequest, refusal: str
) -> dict[str, Any]:
    return {
        **_common(target, size, policy, request, request.plan.slo_ms, None),
        "search_id": _search_id(request, target, size, policy, request.plan.slo_ms, "measured"),
        "method": "measured",
        "status": "not run (host)",
        "reason": refusal,
        "host_limited": True,
        "host_limited_reasons": [refusal],
        "run_ids": [],
        "detail": {"plan": request.plan.model_dump(mode="json")},
    }


def probe_row(
    invocation_id: str, search_id: str, number: int, probe: ProbeOutcome, policy: Policy
) -> dict[str, Any]:
    """One ``peak_probes`` row."""
    figures = probe.figures
    return {
        "invocation_id": invocation_id,
        "search_id": search_id,
        "probe": number,
        "step": probe.step,
        "policy": policy,
        "rate_rps": probe.rate_rps,
        "verdict": probe.verdict.verdict,
        "reason": probe.verdict.describe(),
        "run_id": probe.run_id,
        **{name: figures.get(name) for name in FIGURES},
        "warming": figures.get("warming"),
    }


def _search_id(
    request: PeakRequest, target: str, size: Size, policy: Policy, bound: float, method: str
) -> str:
    return f"{request.invocation_id}-{target}-{size.slug}-{policy}-{bound:g}ms-{method}"


def _bounding(result: SearchResult) -> ProbeOutcome | None:
    """The INVALID probe at the bracket's top: what stopped the peak."""
    return next((p for p in result.probes if p.rate_rps == result.upper_rps), None)


def _run_ids(probes: Sequence[ProbeOutcome]) -> list[str]:
    return [p.run_id for p in probes if p.run_id]


def _limits(deployment: dict[str, Any] | None) -> dict[str, Any]:
    """The parts of the deployment's details a reader of the search needs."""
    details = deployment or {}
    keys = ("limits", "replicas", "cpu", "host_limited", "notes")
    return {key: details[key] for key in keys if key in details}
