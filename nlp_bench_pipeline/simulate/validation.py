"""Does the simulator reproduce the local runs? Each run replayed with its own settings.

For every complete local run: its arrival schedule (every scheduled request's ``intended_at``,
warm-up included, with the phase labels) goes through the platform model with the local
target's own settings — read from the run's deployment details (concurrency limit, init slots,
scale-out, idle eviction, timeouts; pods' CPU, replicas, HPA knobs, pods per node, node-add
delay) — and the distributions calibrated from that run alone. The measure phase is then
compared with the run:

- p50 and p99 of latency over every request of the phase, failures ranked slower than any
  success (the nearest-rank rule of ``run_summary.p50_ms``/``p99_ms``), must agree within 15 % or
  within the run's bootstrap 95 % interval of that percentile, whichever is wider; where the
  run's percentile lands on a failure, the simulated one must too;
- cold starts (requests that waited on an init, as ``run_summary.cold_starts``) and throttles
  (``throttle`` events of the phase's requests) within the larger of 15 % and 2.

Both sides are summarised from request rows by the same rule (``latency.nearest_rank``), so a
change to how a view presents them cannot make the comparison compare different things.

A row that fails says why it plausibly does. The replay is exact (per request); its only draws
are the work, init and pod start times, from the run's own samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.simulate.calibration import (
    MIN_REQUEST_SAMPLES,
    Calibration,
    LocalRun,
    calibrate,
    local_runs,
)
from nlp_bench_pipeline.simulate.eks_model import EksSettings, EksSimulation
from nlp_bench_pipeline.simulate.lambda_model import LambdaSettings, LambdaSimulation
from nlp_bench_pipeline.simulate.latency import nearest_rank
from nlp_bench_pipeline.simulate.outcomes import PhaseTally, RequestTally
from nlp_bench_pipeline.simulate.simulation import settings_dict
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.local_k8s.config import HpaConfig, NodeConfig

TOLERANCE = 0.15
COUNT_FLOOR = 2.0
RESAMPLES = 1000
PHASES = ("warmup", "measure")
PERCENTILES = {"p50_ms": 0.5, "p99_ms": 0.99}
COUNTS = ("cold_starts", "throttles")


@dataclass(frozen=True)
class ValidationRow:
    """One figure of one run: measured, simulated, the interval it must fall in, the verdict."""

    run_id: str
    target: str
    scenario: str
    metric: str
    measured: float | None
    simulated: float | None
    low: float | None
    high: float | None
    passed: bool
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            key: round(value, 3) if isinstance(value, float) else value
            for key, value in vars(self).items()
        }


@dataclass(frozen=True)
class RunValidation:
    """A run's rows, with the distributions and settings its replay used."""

    run_id: str
    target: str
    scenario: str
    rows: tuple[ValidationRow, ...]
    distributions: dict[str, object]
    settings: dict[str, Any]
    not_replayed: str | None = None  # why the run has no rows: nothing of it to replay with

    @property
    def passed(self) -> bool:
        return self.not_replayed is None and all(row.passed for row in self.rows)


def validate_runs(
    store: MetricStore,
    run_ids: Sequence[str] | None = None,
    *,
    seed: int = 0,
    resamples: int = RESAMPLES,
) -> list[RunValidation]:
    """Replay every complete local run (or those named) and compare; oldest run first."""
    return [_validate(store, run, seed, resamples) for run in local_runs(store, run_ids)]


def validation_table(validations: Sequence[RunValidation]) -> list[dict[str, Any]]:
    """Every row of every run, flat: what a report or asset metadata shows."""
    return [row.as_dict() for v in validations for row in v.rows]


# The quantity that sets a replay's latencies: drawn from the defaults (too few of the run's own
# requests to measure it), the replay would compare the defaults with the run, not the model.
LATENCY_QUANTITY = {"lambda": "work", "eks": "service"}


def _validate(store: MetricStore, run: LocalRun, seed: int, resamples: int) -> RunValidation:
    calibration = calibrate(store, run.platform, run_ids=[run.run_id])
    settings: LambdaSettings | EksSettings = (
        lambda_settings(run) if run.platform == "lambda" else eks_settings(run)
    )
    memory_mb = getattr(settings, "memory_mb", LAMBDA_DEFAULT_MEMORY_MB)
    if LATENCY_QUANTITY[run.platform] in calibration.used_defaults(run.platform, memory_mb):
        return RunValidation(
            run.run_id, run.target, run.scenario, (), calibration.describe(run.platform), {},
            not_replayed=f"not replayed: fewer than {MIN_REQUEST_SAMPLES} warm ok requests to "
            "measure its service time from (the defaults would be compared, not the model)",
        )  # fmt: skip
    tally = RequestTally(PHASES, exact_limit=max(1, run.offsets_s.size))
    rng = np.random.default_rng(np.random.SeedSequence([seed, run.offsets_s.size]))
    model: LambdaSimulation | EksSimulation
    if isinstance(settings, LambdaSettings):
        model = LambdaSimulation(settings, calibration.lambda_timing(memory_mb), rng, tally)
    else:
        # the run's own service times, at the CPU they were measured on: no scaling
        timing = calibration.eks_timing(
            calibration.pod_service_cores, parallelism=settings.parallelism
        )
        model = EksSimulation(settings, timing, rng, tally)
    labels = run.measure.astype(np.int8)  # index into PHASES
    if run.offsets_s.size:
        model.feed(run.offsets_s, labels)
    model.finish(float(run.offsets_s[-1]) if run.offsets_s.size else 0.0)
    rows = _compare(run, tally.phases["measure"], calibration, resamples, seed)
    return RunValidation(
        run.run_id,
        run.target,
        run.scenario,
        rows,
        calibration.describe(run.platform, memory_mb),
        settings_dict(settings),
    )


def lambda_settings(run: LocalRun) -> LambdaSettings:
    """The local Lambda's effective settings, from the run's deployment details."""
    details = _details(run)
    limits, config = details.get("limits", {}), details.get("config", {})
    defaults = LambdaSettings()
    provisioned = int(config.get("provisioned_concurrency", 0))
    warmed = bool((run.host.get("warming") or {}).get("environment_id"))  # type: ignore[union-attr]
    return LambdaSettings(
        memory_mb=int(run.events.get("memory_mb") or defaults.memory_mb),
        concurrency_limit=int(limits.get("concurrency_limit", defaults.concurrency_limit)),
        scale_out_limit=int(config.get("scale_out_limit", defaults.scale_out_limit)),
        scale_out_window_s=float(config.get("scale_out_window_s", defaults.scale_out_window_s)),
        idle_eviction_s=float(limits.get("idle_eviction_s", defaults.idle_eviction_s)),
        provisioned_concurrency=provisioned,
        max_concurrent_inits=limits.get("max_concurrent_inits"),
        integration_timeout_s=float(
            limits.get("integration_timeout_s", defaults.integration_timeout_s)
        ),
        init_timeout_s=float(limits.get("init_timeout_s", defaults.init_timeout_s)),
        gateway_rate_limit_rps=config.get(
            "gateway_rate_limit_rps", defaults.gateway_rate_limit_rps
        ),
        gateway_burst=int(config.get("gateway_burst", defaults.gateway_burst)),
        warm_at_start=1 if warmed and provisioned == 0 else 0,
        gateway=details.get("api", "http"),
    )


def eks_settings(run: LocalRun) -> EksSettings:
    """The local Kubernetes' effective settings, from the run's deployment details."""
    details = _details(run)
    config = details.get("config", {})
    replicas, cpu, nodes = (
        details.get("replicas", {}),
        details.get("cpu", {}),
        details.get("nodes", {}),
    )
    node_config = NodeConfig.model_validate(config.get("nodes", {}))
    if nodes.get("pods_per_node"):
        node_config = node_config.model_copy(update={"pods_per_node": int(nodes["pods_per_node"])})
    warmed = bool(run.host.get("warming"))
    first_ready = run.events.get("first_ready_s")
    request = float(cpu.get("request", 1.0))
    return EksSettings(
        node_type="local-k8s node",
        cpu_request=request,
        busy_cpu_cores=float(cpu.get("threads") or cpu.get("limit") or request),
        min_replicas=int(replicas.get("min", 1)),
        max_replicas=int(replicas.get("max", 1)),
        initial_ready_at_s=0.0 if warmed or first_ready is None else max(0.0, first_ready),
        hpa=HpaConfig.model_validate(config.get("hpa", {})),
        nodes=node_config,
        upstream_timeout_s=float(config.get("service", {}).get("upstream_timeout_s", 60.0)),
        sample_interval_s=float(config.get("sample_interval_s", 1.0)),
        scale_down_unneeded_s=None,  # local-k8s never removes a node
    )


def _details(run: LocalRun) -> dict[str, Any]:
    deployment = run.host.get("deployment")
    return deployment if isinstance(deployment, dict) else {}


def _compare(
    run: LocalRun, phase: PhaseTally, calibration: Calibration, resamples: int, seed: int
) -> tuple[ValidationRow, ...]:
    rng = np.random.default_rng(seed)
    measured_latency = np.sort(run.ok_latency_ms)
    rows = []
    for metric in (*PERCENTILES, *COUNTS):
        if metric in PERCENTILES:
            q = PERCENTILES[metric]
            measured = ranked(measured_latency, run.failed, q)
            simulated = phase.recorder.quantile(q, failures_last=True)
            low, high = percentile_bound(measured_latency, run.failed, q, resamples, rng)
            if measured is None:
                passed = simulated is None
            else:
                passed = simulated is not None and low <= simulated <= high  # type: ignore[operator]
        else:
            measured = run.counts[metric]
            simulated = float(
                phase.cold_starts if metric == "cold_starts" else phase.outcomes["throttled"]
            )
            low, high = count_bound(measured)
            passed = low <= simulated <= high
        reason = None if passed else _reason(run, metric, measured, simulated, high, calibration)
        rows.append(
            ValidationRow(
                run.run_id,
                run.target,
                run.scenario,
                metric,
                measured,
                simulated,
                low,
                high,
                passed,
                reason,
            )
        )
    return tuple(rows)


def ranked(ok_sorted: np.ndarray, failed: int, q: float) -> float | None:
    """The nearest-rank percentile over successes and ``failed`` failures ranked last."""
    rank = nearest_rank(ok_sorted.size + failed, q)
    return float(ok_sorted[rank - 1]) if rank <= ok_sorted.size else None


def percentile_bound(
    ok_sorted: np.ndarray, failed: int, q: float, resamples: int, rng: np.random.Generator
) -> tuple[float | None, float | None]:
    """±15 % of the measured percentile or its bootstrap 95 % interval, whichever is wider;
    ``high`` is infinite when resampling can land the percentile on a failure."""
    measured = ranked(ok_sorted, failed, q)
    if measured is None:
        return None, None
    values = np.concatenate([ok_sorted, np.full(failed, np.inf)])
    rank = nearest_rank(values.size, q)
    estimates = np.empty(resamples)
    for start in range(0, resamples, 100):  # 100 resamples at a time keeps memory small
        count = min(100, resamples - start)
        draws = values[rng.integers(0, values.size, (count, values.size))]
        estimates[start : start + count] = np.partition(draws, rank - 1, axis=1)[:, rank - 1]
    low, high = np.quantile(estimates, [0.025, 0.975], method="inverted_cdf")
    return min(measured * (1 - TOLERANCE), float(low)), max(measured * (1 + TOLERANCE), float(high))


def count_bound(measured: float | None) -> tuple[float | None, float | None]:
    """±max(15 %, 2) of a measured count."""
    if measured is None:
        return None, None
    margin = max(TOLERANCE * measured, COUNT_FLOOR)
    return max(0.0, measured - margin), measured + margin


def _reason(
    run: LocalRun,
    metric: str,
    measured: float | None,
    simulated: float | None,
    high: float | None,
    calibration: Calibration,
) -> str:
    if measured is None or simulated is None:
        side = "run" if measured is None else "simulation"
        return (
            f"{metric} lands on a failed request in the {side} only: "
            f"{run.failed} of the run's measure-phase requests failed"
        )
    higher = simulated > (high or 0.0)
    events = run.events
    if metric in PERCENTILES:
        if higher:
            cause = (
                "more requests waited on cold starts or queues in the model than in the run"
                if run.platform == "lambda"
                else "the pods queued more in the model: its service times are the run's, "
                "drawn independently of how loaded a pod was"
            )
        else:
            cause = (
                "the run's latency carries what the model leaves out: environments and pods "
                "sharing the host's cores (work is drawn independently of load), a cold "
                "request's slower first inference, the load generator's own delay"
            )
        return f"simulated {'slower' if higher else 'faster'} than measured: {cause}"
    if metric == "cold_starts":
        if higher:
            return (
                "the model started more environments: it reuses one only after its invoke ends, "
                "the pool hands the next invoke over as soon as the response is posted"
            )
        return (
            f"the run started more environments than the rules need: {events.get('crashes', 0)} "
            f"crashes and {events.get('init_timeouts', 0)} init timeouts retire environments, "
            "which the model does not"
        )
    return (
        "throttles depend on exactly when environments free up: the run's inits "
        f"({calibration.init.describe()['median_ms']} ms median here) and work are drawn anew"
    )
