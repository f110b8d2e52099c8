"""The measured figures the cost model needs, read from the metric store's latest complete runs.

All the SQL of the costs package is here, so it can move into the store layer as one piece.

- Lambda: Billed Duration and memory from the REPORT records (``platform_events`` of kind
  ``report``), never client latency. Warm invokes (no Init Duration) give the per-request
  duration; cold ones the Init Duration; an invoke on a provisioned environment is recognised by
  its environment's init (``detail.init_type = 'provisioned-concurrency'``).
- Kubernetes: the pods' service time, and the capacity it implies by the rule *capacity =
  1000 / mean service time*: a pod serves one request at a time (one worker, torch on the pod's
  cores), so at full utilisation it completes 1000 / ``server_ms`` requests a second.
  ``server_ms`` is time inside the service process, so in-process queueing under load makes it
  an underestimate of capacity (conservative for EKS); the utilisation target then keeps the
  queueing the SLO can bear. Where the peak-rate search measured the target, its rows
  (``latest_peak_searches``, measured and warmed) are read here too, and ``pod_capacity``
  chooses between the two rules.
- Spread: with two or more repetitions, the 95 % Student-t interval of the repetitions' means
  (the store's ``student_t_975`` table); with one, the 95 % normal interval of that run's mean.
- SLO: judged as the project's ``p99_slo`` check does, on the worst repetition's corrected p99.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore

PROFILE_PREFERENCE = ("full", "quick", "smoke")
NORMAL_975 = 1.96

_RUNS = """
runs AS (
    SELECT run_id, host FROM latest_runs JOIN benchmark_runs USING (run_id)
    WHERE target = $target AND scenario = $scenario AND profile = $profile
)"""

# Student's t (97.5 %) for the repetitions' degrees of freedom, as scenario_summary takes it.
_T975 = """(
    SELECT t FROM student_t_975 WHERE df <= stats.repetitions - 1 ORDER BY df DESC LIMIT 1
) AS t975"""

REPORTS_SQL = f"""
WITH {_RUNS},
provisioned AS (
    SELECT DISTINCT e.run_id, e.environment_id
    FROM platform_events e JOIN runs USING (run_id)
    WHERE e.kind IN ('init_start', 'cold_start')
      AND e.detail->>'$.init_type' = 'provisioned-concurrency'
),
reports AS (
    SELECT e.run_id, e."at", e.memory_mb, e.billed_ms, e.duration_ms, e.init_ms,
           p.environment_id IS NOT NULL AS provisioned
    FROM platform_events e JOIN runs USING (run_id)
    LEFT JOIN provisioned p USING (run_id, environment_id)
    WHERE e.kind = 'report'
)"""  # noqa: S608 - composed of constants; values are bound

LATEST_REPORTS_SQL = f"""{REPORTS_SQL}
SELECT run_id, memory_mb, billed_ms, duration_ms, init_ms, provisioned
FROM reports ORDER BY run_id, "at"
"""  # noqa: S608 - composed of constants; values are bound

LAMBDA_STATS_SQL = f"""{REPORTS_SQL},
per_run AS (
    SELECT memory_mb, run_id,
        count(*) AS invocations,
        count(*) FILTER (WHERE init_ms IS NOT NULL AND NOT provisioned) AS cold_starts,
        sum(init_ms) FILTER (WHERE init_ms IS NOT NULL AND NOT provisioned) AS init_ms_sum,
        count(*) FILTER (WHERE init_ms IS NULL) AS warm,
        avg(billed_ms) FILTER (WHERE init_ms IS NULL) AS warm_billed_ms,
        stddev_samp(billed_ms) FILTER (WHERE init_ms IS NULL) AS warm_billed_sd
    FROM reports GROUP BY ALL
),
stats AS (
    SELECT p.memory_mb, list(p.run_id ORDER BY p.run_id) AS run_ids, count(*) AS repetitions,
        sum(p.invocations) AS invocations, sum(p.cold_starts) AS cold_starts,
        sum(p.init_ms_sum) / nullif(sum(p.cold_starts), 0) AS init_ms,
        sum(p.warm) AS samples, avg(p.warm_billed_ms) AS mean,
        stddev_samp(p.warm_billed_ms) AS across_sd, avg(p.warm_billed_sd) AS within_sd,
        max(s.p99_corrected_ms) AS p99_corrected_ms
    FROM per_run p JOIN run_summary s USING (run_id)
    WHERE p.warm > 0
    GROUP BY p.memory_mb
)
SELECT stats.*, {_T975}
FROM stats ORDER BY memory_mb
"""  # noqa: S608 - composed of constants; values are bound

POD_STATS_SQL = f"""
WITH {_RUNS},
per_run AS (
    SELECT q.run_id, count(*) AS requests, avg(q.server_ms) AS service_ms,
        stddev_samp(q.server_ms) AS service_sd
    FROM requests q JOIN runs USING (run_id)
    WHERE q.phase = 'measure' AND q.ok AND q.server_ms IS NOT NULL
    GROUP BY q.run_id
),
stats AS (
    SELECT list(p.run_id ORDER BY p.run_id) AS run_ids, count(*) AS repetitions,
        sum(p.requests) AS samples, avg(p.service_ms) AS mean,
        stddev_samp(p.service_ms) AS across_sd, avg(p.service_sd) AS within_sd,
        max(CAST(r.host->>'$.deployment.cpu.request' AS DOUBLE)) AS cpu_request,
        max(s.p99_corrected_ms) AS p99_corrected_ms
    FROM per_run p JOIN runs r USING (run_id) JOIN run_summary s USING (run_id)
)
SELECT stats.*, {_T975}
FROM stats WHERE repetitions > 0
"""  # noqa: S608 - composed of constants; values are bound

# The newest search invocation of the target (the view keeps one per target): measured on the
# target itself, every replica warm before each probe. pod_capacity judges which row, if any, fits.
PEAK_SEARCHES_SQL = """
SELECT search_id, profile, size, pod_cpu, replicas, slo_p99_ms, status, peak_rps, upper_rps,
       reason, host_limited, host_limited_reasons
FROM latest_peak_searches
WHERE target = $target AND method = 'measured' AND policy = 'warmed'
ORDER BY slo_p99_ms DESC, search_id
"""

PROFILES_SQL = (
    "SELECT DISTINCT profile FROM latest_runs JOIN benchmark_runs USING (run_id)"
    " WHERE target = ? AND scenario = ?"
)


@dataclass(frozen=True)
class Spread:
    """A mean and its 95 % interval (see the module docstring for which interval)."""

    mean: float
    low: float
    high: float


@dataclass(frozen=True)
class MeasuredLambda:
    """One memory size's REPORT figures over a target's latest complete runs of a scenario."""

    target: str
    profile: str
    memory_mb: int
    run_ids: tuple[str, ...]
    invocations: int
    cold_starts: int
    warm_billed_ms: Spread
    init_ms: float | None
    p99_corrected_ms: float | None

    def meets_slo(self, slo_ms: float) -> bool:
        return self.p99_corrected_ms is not None and self.p99_corrected_ms <= slo_ms


@dataclass(frozen=True)
class MeasuredPods:
    """A Kubernetes target's per-pod service time and the capacity it implies."""

    target: str
    profile: str
    run_ids: tuple[str, ...]
    requests: int
    service_ms: Spread
    cpu_request_cores: float | None
    p99_corrected_ms: float | None

    @property
    def capacity_rps(self) -> Spread:
        """1000 / service time: the high capacity goes with the short service time."""
        return Spread(
            1000 / self.service_ms.mean, 1000 / self.service_ms.high, 1000 / self.service_ms.low
        )

    def meets_slo(self, slo_ms: float) -> bool:
        return self.p99_corrected_ms is not None and self.p99_corrected_ms <= slo_ms


def latest_profile(store: MetricStore, target: str, scenario: str) -> str | None:
    """The profile of the target's latest complete runs of ``scenario``: full before quick."""
    profiles = set(store.query(PROFILES_SQL, [target, scenario]).column("profile").to_pylist())
    ranked = [p for p in PROFILE_PREFERENCE if p in profiles] + sorted(
        profiles - set(PROFILE_PREFERENCE)
    )
    return ranked[0] if ranked else None


def latest_reports(
    store: MetricStore, target: str, scenario: str, profile: str
) -> list[dict[str, Any]]:
    """The REPORT records of the latest complete runs, as ``lambda_usage_from_reports`` takes."""
    params = {"target": target, "scenario": scenario, "profile": profile}
    return store.query(LATEST_REPORTS_SQL, params).to_pylist()


def lambda_measurements(
    store: MetricStore, target: str, scenario: str, profile: str
) -> list[MeasuredLambda]:
    """Per memory size: warm Billed Duration with its interval, Init Duration, the worst p99."""
    params = {"target": target, "scenario": scenario, "profile": profile}
    return [
        MeasuredLambda(
            target=target,
            profile=profile,
            memory_mb=int(row["memory_mb"]),
            run_ids=tuple(row["run_ids"]),
            invocations=int(row["invocations"]),
            cold_starts=int(row["cold_starts"]),
            warm_billed_ms=_spread(row),
            init_ms=row["init_ms"],
            p99_corrected_ms=row["p99_corrected_ms"],
        )
        for row in store.query(LAMBDA_STATS_SQL, params).to_pylist()
    ]


def pod_measurements(
    store: MetricStore, target: str, scenario: str, profile: str
) -> MeasuredPods | None:
    """The pods' service time over the latest complete runs, or None without ok requests."""
    params = {"target": target, "scenario": scenario, "profile": profile}
    rows = store.query(POD_STATS_SQL, params).to_pylist()
    if not rows or rows[0]["mean"] is None:
        return None
    row = rows[0]
    return MeasuredPods(
        target=target,
        profile=profile,
        run_ids=tuple(row["run_ids"]),
        requests=int(row["samples"]),
        service_ms=_spread(row),
        cpu_request_cores=row["cpu_request"],
        p99_corrected_ms=row["p99_corrected_ms"],
    )


def peak_searches(store: MetricStore, target: str) -> list[dict[str, Any]]:
    """The target's measured, warmed peak searches of its latest invocation, loosest bound first
    (none before any search)."""
    return store.query(PEAK_SEARCHES_SQL, {"target": target}).to_pylist()


def _spread(row: dict[str, Any]) -> Spread:
    """Mean ± half-width: across repetitions when there are several, else within the run."""
    repetitions, mean = row["repetitions"], row["mean"]
    if repetitions >= 2 and row["across_sd"] is not None:
        half = row["t975"] * row["across_sd"] / math.sqrt(repetitions)
    elif row["within_sd"] is not None and row["samples"] > 1:
        half = NORMAL_975 * row["within_sd"] / math.sqrt(row["samples"])
    else:
        half = 0.0
    # A duration cannot be shorter than nothing; the interval is floored just above zero.
    return Spread(mean, max(mean - half, mean * 1e-3), mean + half)
