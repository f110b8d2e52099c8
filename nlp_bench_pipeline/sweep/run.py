"""The memory-size sweep end to end: each size checked against what the platform can run, then
measured (``invocations.py``) and summarised (``results.py``).

Plain Python: the target, the deployment spec every size starts from, the capacity and the
price catalog come in as parameters, so the Dagster asset, ``nlp-bench sweep`` and the tests run
the same sweep. A size that cannot run is recorded with the reason and never extrapolated; a
size whose deployment fails is recorded as failed and the sweep goes on to the next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import LAMBDA_STYLE_TARGETS, utcnow
from nlp_bench_pipeline.costs.catalog import PriceCatalog
from nlp_bench_pipeline.sweep.capacity import Capacity, Refusal
from nlp_bench_pipeline.sweep.invocations import Progress, SizeSamples, measure_size
from nlp_bench_pipeline.sweep.plan import SweepPlan
from nlp_bench_pipeline.sweep.results import SizeResult, SweepResult
from nlp_bench_pipeline.targets.base import Target


def run_sweep(
    plan: SweepPlan,
    target: Target,
    spec: DeploymentSpec,
    capacity: Capacity,
    catalog: PriceCatalog,
    *,
    sweep_id: str,
    profile: str,
    progress: Progress = print,
) -> SweepResult:
    """Every size of ``plan`` on ``target``, each a copy of ``spec`` at that memory size."""
    if target.name not in LAMBDA_STYLE_TARGETS or spec.target != target.name:
        raise ValueError(f"a memory sweep runs on a Lambda-style target, not {spec.target}")
    started = utcnow()
    sizes = []
    for memory_mb in plan.memory_sizes_mb:
        refusal = capacity.refusal(memory_mb)
        if refusal is not None:
            progress(f"{memory_mb} MB: {refusal.status}: {refusal.reason}")
            sizes.append(SizeResult(memory_mb, refusal.status, refusal.reason))
            continue
        sizes.append(
            _measure(plan, target, spec.model_copy(update={"memory_mb": memory_mb}), progress)
        )
    return SweepResult(
        sweep_id=sweep_id,
        target=target.name,
        profile=profile,
        model=spec.model,
        started_at=started,
        finished_at=utcnow(),
        sizes=tuple(sizes),
        catalog=catalog,
        weight=plan.balance_weight,
        detail={**capacity.describe(), "plan": plan.model_dump(mode="json")},
    )


def _measure(
    plan: SweepPlan, target: Target, spec: DeploymentSpec, progress: Progress
) -> SizeResult:
    try:
        measured = measure_size(
            target,
            spec,
            warm_invocations=plan.warm_invocations,
            cold_invocations=plan.cold_invocations,
            progress=progress,
        )
    except Exception as exc:  # one size's failure is that size's row; the sweep goes on
        refusal = account_refusal(exc)
        if refusal is not None:
            return SizeResult(spec.memory_mb, refusal.status, refusal.reason)
        reason = f"the deployment failed: {type(exc).__name__}: {exc}"
        progress(f"{spec.memory_mb} MB: {reason}")
        return SizeResult(spec.memory_mb, "failed", reason)
    if not any(s.ok for s in measured.samples):
        errors = sorted({s.error or "no response" for s in measured.samples})
        return SizeResult(
            spec.memory_mb, "failed", "no invocation succeeded: " + "; ".join(errors), measured
        )
    return SizeResult(spec.memory_mb, "run", _what_happened(measured), measured)


def _what_happened(measured: SizeSamples) -> str | None:
    """What Lambda did that a reader of the figures should know (None: nothing unusual)."""
    notes = []
    if measured.init_retries:
        notes.append(
            f"init passed the 10 s limit {measured.init_retries} time(s); Lambda retried it "
            "inside the invoke, so the retried init is in that invocation's Duration"
        )
    if measured.extra_environments:
        notes.append(
            f"{measured.extra_environments} more environment(s) started by retried requests"
        )
    failed = [s for s in measured.samples if not s.ok]
    if failed:
        notes.append(f"{len(failed)} of {len(measured.samples)} invocations failed")
    return "; ".join(notes) or None


def account_refusal(exc: BaseException) -> Refusal | None:
    """AWS's refusal of a memory size the account may not use (a botocore ``ClientError``)."""
    response: Any = getattr(exc, "response", None)
    error: Mapping[str, Any] = response.get("Error", {}) if isinstance(response, Mapping) else {}
    message = str(error.get("Message", ""))
    if error.get("Code") == "InvalidParameterValueException" and "MemorySize" in message:
        return Refusal("not run (quota)", f"AWS refused the memory size: {message}")
    return None
