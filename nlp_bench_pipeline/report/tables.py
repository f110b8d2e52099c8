"""The report's tables as plain rows: the verdict per scenario, the SLO results, provenance.

The verdict is per scenario and target over the latest complete series (every repetition):

- **SLO**: met when every repetition's ``slo_met`` holds (the corrected p99 over every request
  within the bound, docs/adr/0037);
- **p99**: the worst repetition's corrected p99 over every request, or "failed" with the failed
  share where it lands on a failed or dropped request; the successes' own p99 beside it;
- **cold starts** and **failed** (errors and drops) summed over the repetitions;
- **cost per million inferences**, where the economics stage priced it: the chosen
  configuration of the target's platform (``latest_cost_estimates``, ``chosen``) whose traffic's
  mean rate is nearest the scenario's offered rate — what this scenario's traffic would cost a
  month on AWS.

The SLO table is MLPerf's: each run VALID or INVALID by :func:`bench.verdict.judge_run`, with
every reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.bench.verdict import DEFAULT_RULE, RunVerdict, ValidityRule, judge_run
from nlp_bench_pipeline.core.records import K8S_STYLE_TARGETS, LAMBDA_STYLE_TARGETS
from nlp_bench_pipeline.store.database import json_object


@dataclass(frozen=True)
class VerdictRow:
    """One target's result in one scenario."""

    scenario: str
    target: str
    repetitions: int
    slo_met: bool | None
    slo_p99_ms: float | None
    p99_ms: float | None  # None: it lands on a failure (see failed_share)
    p99_ok_ms: float | None
    failed_share: float
    requests: int
    cold_starts: int
    cost_per_million_usd: float | None
    cost_basis: str | None


def verdict_rows(
    runs: Sequence[Mapping[str, Any]], estimates: Sequence[Mapping[str, Any]] = ()
) -> list[VerdictRow]:
    """Per scenario and target, in the runs' order (see the module docstring)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["scenario"], run["target"]), []).append(run)
    rows = []
    for (scenario, target), reps in groups.items():
        requests = sum(r["requests"] or 0 for r in reps)
        failed = sum((r["errors"] or 0) + (r["dropped"] or 0) for r in reps)
        landed_on_failure = any(r["p99_is_failure"] for r in reps)
        p99s = [r["p99_corrected_ms"] for r in reps if r["p99_corrected_ms"] is not None]
        offered = _mean([r["offered_rps"] for r in reps])
        cost = _nearest_estimate(target, offered, estimates)
        rows.append(
            VerdictRow(
                scenario=scenario,
                target=target,
                repetitions=len(reps),
                slo_met=None
                if any(r["slo_met"] is None for r in reps)
                else all(r["slo_met"] for r in reps),
                slo_p99_ms=reps[0]["slo_p99_ms"],
                p99_ms=None if landed_on_failure or not p99s else max(p99s),
                p99_ok_ms=_max([r["p99_ok_ms"] for r in reps]),
                failed_share=failed / requests if requests else 0.0,
                requests=requests,
                cold_starts=sum(r["cold_starts"] or 0 for r in reps),
                cost_per_million_usd=cost["usd_per_million_inferences"] if cost else None,
                cost_basis=_cost_basis(cost) if cost else None,
            )
        )
    return rows


def winners(rows: Sequence[VerdictRow]) -> dict[str, list[str]]:
    """Per scenario, the targets that met the SLO (an empty list: none did)."""
    met: dict[str, list[str]] = {}
    for row in rows:
        met.setdefault(row.scenario, [])
        if row.slo_met:
            met[row.scenario].append(row.target)
    return met


def platform_of(target: str) -> str | None:
    """The economics stage's platform name for a target: ``lambda`` or ``eks``."""
    if target in LAMBDA_STYLE_TARGETS or "lambda" in target:
        return "lambda"
    if target in K8S_STYLE_TARGETS or "eks" in target or "k8s" in target:
        return "eks"
    return None


def _nearest_estimate(
    target: str, offered_rps: float | None, estimates: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    platform = platform_of(target)
    chosen = [
        e
        for e in estimates
        if e["chosen"] and str(e["platform"]).lower().startswith(platform or "?")
    ]
    if not chosen or offered_rps is None:
        return None
    return min(
        chosen, key=lambda e: abs(math.log(max(e["mean_rps"], 1e-9) / max(offered_rps, 1e-9)))
    )


def _cost_basis(estimate: Mapping[str, Any]) -> str:
    return (
        f"{estimate['configuration']}, {estimate['traffic_profile']} traffic at "
        f"{estimate['mean_rps']:,.3g} req/s, {estimate['region']}"
    )


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _max(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


@dataclass(frozen=True)
class SloRow:
    """One run, MLPerf-style."""

    run: Mapping[str, Any]
    verdict: RunVerdict


def slo_rows(runs: Sequence[Mapping[str, Any]], rule: ValidityRule = DEFAULT_RULE) -> list[SloRow]:
    return [SloRow(run, judge_run(run, rule)) for run in runs]


def host_details(run: Mapping[str, Any]) -> dict[str, Any]:
    """``benchmark_runs.host`` as a mapping (DuckDB hands JSON over as text)."""
    return json_object(run.get("host"))


def run_config(run: Mapping[str, Any]) -> dict[str, Any]:
    """``benchmark_runs.config``, the resolved scenario, as a mapping."""
    return json_object(run.get("config"))
