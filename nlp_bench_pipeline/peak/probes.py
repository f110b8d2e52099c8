"""A probe on a real platform: one ordinary run of the ``peak`` scenario through the cell machinery.

Each probe is a repetition of its own series (``<invocation>-<size>-<policy>-pNN``) run by
``bench.cell.run_cell``: a fresh deploy, the time to first success, the warming its policy asks
for (``bench.warming``, recorded in ``benchmark_runs.host.warming``, never rows), the load
generator, and ingestion — so every request of a probe is in ``requests`` and ``run_summary``
covers it like any other run. The verdict is ``bench.verdict.judge_run`` on that run's row,
judged at the search's bound by the store (``store.peak.probe_rows``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.bench.cell import CellFailed, Launcher, run_cell
from nlp_bench_pipeline.bench.verdict import RunVerdict, ValidityRule, judge_run
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.peak.plan import PeakPlan, Policy
from nlp_bench_pipeline.peak.search import ProbeFailed, ProbeOutcome, Step
from nlp_bench_pipeline.store.database import MetricStore, json_object
from nlp_bench_pipeline.store.peak import probe_rows
from nlp_bench_pipeline.targets.base import Target

Progress = Callable[[str], None]
# run_summary columns a probe keeps beside its verdict (and peak_probes stores).
FIGURES = (
    "requests",
    "measure_s",
    "p99_corrected_ms",
    "p99_is_failure",
    "failed_share",
    "cold_starts",
    "host_limited_share",
    "send_lateness_p99_ms",
    "throughput_rps",
)


@dataclass
class MeasuredProbes:
    """Probes of one (target, size, policy) at the plan's bound; ``outcomes`` keeps them."""

    target: Target
    store: MetricStore
    plan: PeakPlan
    policy: Policy
    spec: DeploymentSpec
    series_prefix: str
    launch: Launcher
    provenance: Provenance
    work_dir: Path
    mode: str = "http"
    progress: Progress = print
    outcomes: list[ProbeOutcome] = field(default_factory=list)

    def __call__(self, rate_rps: float, step: Step) -> ProbeOutcome:
        """Run one probe at ``rate_rps``; :class:`ProbeFailed` when its run could not be made."""
        number = len(self.outcomes)
        scenario = self.plan.probe_scenario(rate_rps, self.policy)
        (repetition,) = RepetitionPlan.resolve(
            scenario,
            series_id=f"{self.series_prefix}-p{number:02d}",
            target=self.target.name,
            work_dir=self.work_dir,
            deployment=self.spec,
            provenance=self.provenance,
            slo_p99_ms=self.plan.slo_ms,
            mode=self.mode,
        )
        self.progress(
            f"probe {number + 1} ({step}): {rate_rps:.3g} req/s for {repetition.measure_s:g} s "
            f"({self.policy})"
        )
        try:
            run_cell(
                [repetition], self.target, self.store, launch=self.launch, progress=self.progress
            )
        except CellFailed as exc:
            raise ProbeFailed(str(exc)) from exc
        row = probe_rows(self.store, [repetition.run_id], self.plan.slo_ms)[repetition.run_id]
        outcome = outcome_of(row, rate_rps, step, self.plan.rule())
        self.progress(
            f"probe {number + 1}: {outcome.verdict.verdict}: {outcome.verdict.describe()}"
        )
        self.outcomes.append(outcome)
        return outcome

    def judged_at(self, bound_ms: float) -> list[ProbeOutcome]:
        """The same probes judged against another bound (same runs, same rule)."""
        rows = probe_rows(self.store, [o.run_id for o in self.outcomes if o.run_id], bound_ms)
        return [
            outcome_of(rows[o.run_id], o.rate_rps, o.step, self.plan.rule())
            for o in self.outcomes
            if o.run_id in rows
        ]


def outcome_of(
    row: Mapping[str, Any], rate_rps: float, step: Step, rule: ValidityRule
) -> ProbeOutcome:
    """A probe's outcome from its ``probe_rows`` row: ``judge_run``'s verdict, and an incomplete
    run (rows missing, counts disagreeing) is INVALID whatever its figures."""
    verdict = judge_run(row, rule)
    if row.get("status") != "complete":
        verdict = RunVerdict(
            verdict="INVALID",
            reasons=[
                f"the run is {row.get('status')}, not complete (rows and counts disagree)",
                *([] if verdict.valid else verdict.reasons),
            ],
        )
    figures = {name: row.get(name) for name in FIGURES}
    host = json_object(row.get("host"))
    figures["warming"] = host.get("warming")
    figures["deployment"] = host.get("deployment")
    return ProbeOutcome(
        rate_rps=rate_rps, verdict=verdict, step=step, run_id=row["run_id"], figures=figures
    )
