"""The simulator's distributions, measured from the metric store or, failing that, defaults.

All of the simulator's SQL is in this module, so it can move into the store layer as one piece.
Runs are a chosen list of run ids, or the latest complete runs of a target (``latest_runs``; the
AWS target when it has runs, else the local one). From them:

- Lambda work per request, per memory size: ``requests.server_ms`` of warm successful requests
  (an environment serves one request at a time, so this is its busy time, as REPORT's Duration),
  the memory size from the run's REPORT records (``platform_events.memory_mb``); the gateway's
  and Runtime API's overhead: the median of ``latency_ms - server_ms`` over the same requests;
- Init Duration: ``platform_events`` of kind ``cold_start`` (on-demand), ``init_ms`` — the wait
  for an init slot (``detail.init_wait_ms``) is left out: the simulator makes its own waits;
- a throttle's answer: the median latency of the 500s;
- a pod's service time: its inference thread's time per request, rebuilt from the request log
  because ``server_ms`` includes the wait inside the pod: in a FIFO pod a request's service is
  ``min(server_ms, done - previous done of the same pod)``; the Service's overhead: the median
  of ``latency_ms - server_ms``; the pods' CPU from ``benchmark_runs.host`` (deployment details);
- pod start and model load: ``pod_ready`` events (``detail.start_latency_ms``, ``init_ms``);
- node-add delay: ``node_added`` events' ``duration_ms``.

A quantity with too few samples (``MIN_REQUEST_SAMPLES`` for per-request figures, one for the
rarer platform events) keeps its default, and the calibration says which ones did.

The validation replay's reads (``LocalRun`` and the functions after it) are here too: the local
runs, each one's arrival schedule with its phases, its measured figures and its deployment. They
read the request rows rather than ``run_summary``, so the replay and the run are summarised by
one rule (``validation.py``); requests the load generator dropped never reached the platform and
are left out of both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from nlp_bench_pipeline.core.platform_facts import LAMBDA_DEFAULT_MEMORY_MB
from nlp_bench_pipeline.simulate.distributions import (
    DEFAULT_INIT,
    DEFAULT_K8S_OVERHEAD_MS,
    DEFAULT_K8S_OVERHEAD_SOURCE,
    DEFAULT_LAMBDA_OVERHEAD_MS,
    DEFAULT_LAMBDA_OVERHEAD_SOURCE,
    DEFAULT_NODE_ADD_S,
    DEFAULT_NODE_ADD_SOURCE,
    DEFAULT_POD_READY,
    DEFAULT_POD_START,
    DEFAULT_SERVICE_1_VCPU,
    DEFAULT_THROTTLE_LATENCY_MS,
    DEFAULT_THROTTLE_SOURCE,
    Distribution,
    cpu_scale,
    vcpus_for_memory,
)
from nlp_bench_pipeline.simulate.eks_model import EksTiming
from nlp_bench_pipeline.simulate.lambda_model import LambdaTiming
from nlp_bench_pipeline.store.database import MetricStore, json_object

Platform = Literal["lambda", "eks"]
TARGETS: dict[str, tuple[str, ...]] = {
    "lambda": ("aws-lambda", "local-lambda"),
    "eks": ("aws-eks", "local-k8s"),
}
DEFAULT_MEMORY_MB = LAMBDA_DEFAULT_MEMORY_MB
MIN_REQUEST_SAMPLES = 20

LATEST_RUNS_SQL = """
SELECT r.run_id FROM benchmark_runs r JOIN latest_runs USING (run_id)
WHERE r.target = ? ORDER BY r.run_id
"""
CHOSEN_RUNS_SQL = """
SELECT run_id, target, status FROM benchmark_runs WHERE list_contains($runs, run_id)
"""
LAMBDA_WORK_SQL = """
WITH memory AS (
    SELECT run_id, CAST(max(memory_mb) AS INTEGER) AS memory_mb
    FROM platform_events WHERE kind = 'report' AND list_contains($runs, run_id)
    GROUP BY run_id
)
SELECT m.memory_mb, q.server_ms, q.latency_ms - q.server_ms AS overhead_ms
FROM requests q JOIN memory m USING (run_id)
WHERE list_contains($runs, q.run_id) AND q.ok AND NOT q.cold_start AND q.server_ms IS NOT NULL
"""
INIT_SQL = """
SELECT init_ms FROM platform_events
WHERE kind = 'cold_start' AND list_contains($runs, run_id) AND init_ms IS NOT NULL
  AND coalesce(detail->>'$.init_type', 'on-demand') = 'on-demand'
"""
THROTTLE_LATENCY_SQL = """
SELECT latency_ms FROM requests
WHERE list_contains($runs, run_id) AND status_code = 500 AND latency_ms IS NOT NULL
"""
POD_SERVICE_SQL = """
SELECT
    least(
        server_ms,
        coalesce(
            1000 * (epoch(done_at) - lag(epoch(done_at)) OVER (
                PARTITION BY run_id, environment_id ORDER BY done_at)),
            server_ms
        )
    ) AS service_ms,
    latency_ms - server_ms AS overhead_ms
FROM requests
WHERE list_contains($runs, run_id) AND ok AND server_ms IS NOT NULL AND environment_id IS NOT NULL
"""
POD_CPU_SQL = """
SELECT max(coalesce(
    CAST(host->>'$.deployment.cpu.limit' AS DOUBLE),
    CAST(host->>'$.deployment.cpu.request' AS DOUBLE))) AS cores
FROM benchmark_runs WHERE list_contains($runs, run_id)
"""
POD_READY_SQL = """
SELECT init_ms, CAST(detail->>'$.start_latency_ms' AS DOUBLE) AS start_latency_ms
FROM platform_events
WHERE kind = 'pod_ready' AND list_contains($runs, run_id) AND init_ms IS NOT NULL
"""
LOCAL_RUNS_SQL = """
SELECT run_id, target, scenario, profile, host FROM benchmark_runs
WHERE status = 'complete' AND target IN ('local-lambda', 'local-k8s')
ORDER BY started_at, run_id
"""
SCHEDULE_SQL = """
SELECT epoch(intended_at) AS t, phase FROM requests
WHERE run_id = ? AND outcome <> 'dropped'
ORDER BY intended_at, seq
"""
MEASURED_COUNTS_SQL = """
SELECT
    count(*) FILTER (WHERE q.cold_start) AS cold_starts,
    (SELECT count(*) FROM platform_events e
     WHERE e.run_id = $run AND e.kind = 'throttle'
       AND e.detail->>'$.gateway_request_id' IN (
           SELECT gateway_request_id FROM requests
           WHERE run_id = $run AND phase = 'measure')) AS throttles
FROM requests q WHERE q.run_id = $run AND q.phase = 'measure' AND q.outcome <> 'dropped'
"""
MEASURE_LATENCY_SQL = """
SELECT latency_ms, ok FROM requests
WHERE run_id = ? AND phase = 'measure' AND outcome <> 'dropped'
"""
RUN_EVENTS_SQL = """
SELECT
    max(memory_mb) FILTER (WHERE kind = 'report') AS memory_mb,
    min(epoch("at")) FILTER (WHERE kind = 'pod_ready') AS first_ready_s,
    count(*) FILTER (WHERE kind = 'crash') AS crashes,
    count(*) FILTER (WHERE kind = 'timeout' AND detail->>'$.scope' = 'init') AS init_timeouts,
    count(*) FILTER (WHERE kind = 'pod_restarted') AS pod_restarts
FROM platform_events WHERE run_id = ?
"""
NODE_ADD_SQL = """
SELECT duration_ms FROM platform_events
WHERE kind = 'node_added' AND list_contains($runs, run_id) AND duration_ms IS NOT NULL
"""


class CalibrationError(ValueError):
    """The runs asked for cannot calibrate the simulator (unknown, failed, wrong platform)."""


@dataclass(frozen=True)
class Figure:
    """A single number and where it came from."""

    value: float
    source: str
    measured: bool = False

    def describe(self) -> dict[str, object]:
        return {"value": round(self.value, 3), "source": self.source, "measured": self.measured}


@dataclass(frozen=True)
class Calibration:
    """Every distribution and figure the two platform models draw from."""

    runs: tuple[str, ...] = ()
    lambda_work: dict[int, Distribution] = field(
        default_factory=lambda: {DEFAULT_MEMORY_MB: DEFAULT_SERVICE_1_VCPU}
    )
    lambda_overhead: Figure = Figure(DEFAULT_LAMBDA_OVERHEAD_MS, DEFAULT_LAMBDA_OVERHEAD_SOURCE)
    init: Distribution = DEFAULT_INIT
    throttle_latency: Figure = Figure(DEFAULT_THROTTLE_LATENCY_MS, DEFAULT_THROTTLE_SOURCE)
    pod_service: Distribution = DEFAULT_SERVICE_1_VCPU
    pod_service_cores: float = 1.0
    pod_overhead: Figure = Figure(DEFAULT_K8S_OVERHEAD_MS, DEFAULT_K8S_OVERHEAD_SOURCE)
    pod_start: Distribution = DEFAULT_POD_START
    pod_ready: Distribution = DEFAULT_POD_READY
    node_add: Figure = Figure(DEFAULT_NODE_ADD_S, DEFAULT_NODE_ADD_SOURCE)

    def lambda_work_for(self, memory_mb: int) -> Distribution:
        """Work per request at ``memory_mb``: measured there, else the nearest measured size
        moved to this CPU share (``distributions.cpu_scale``)."""
        if memory_mb in self.lambda_work:
            return self.lambda_work[memory_mb]
        nearest = min(self.lambda_work, key=lambda m: abs(np.log(m / memory_mb)))
        factor = cpu_scale(vcpus_for_memory(nearest), vcpus_for_memory(memory_mb))
        return self.lambda_work[nearest].scaled(factor, f"{nearest} MB -> {memory_mb} MB CPU share")

    def lambda_timing(self, memory_mb: int) -> LambdaTiming:
        return LambdaTiming(
            work=self.lambda_work_for(memory_mb),
            overhead_ms=self.lambda_overhead.value,
            init=self.init,
            throttle_latency_ms=self.throttle_latency.value,
        )

    def eks_timing(
        self, cores: float, *, capacity_rps: float | None = None, parallelism: int = 1
    ) -> EksTiming:
        """A pod of ``cores``; ``capacity_rps`` (requests/s a pod completes flat out), when
        given, sets the service time's mean and keeps the measured shape."""
        service = self.pod_service.scaled(
            cpu_scale(self.pod_service_cores, cores),
            f"{self.pod_service_cores:g} -> {cores:g} cores",
        )
        if capacity_rps is not None:
            target_ms = parallelism * 1000.0 / capacity_rps
            service = service.scaled(
                target_ms / service.mean_ms, f"capacity {capacity_rps:g} req/s"
            )
        return EksTiming(service, self.pod_overhead.value, self.pod_start, self.pod_ready)

    def quantities(
        self, platform: Platform, memory_mb: int = DEFAULT_MEMORY_MB
    ) -> dict[str, Distribution | Figure]:
        if platform == "lambda":
            return {
                "work": self.lambda_work_for(memory_mb),
                "overhead": self.lambda_overhead,
                "init": self.init,
                "throttle_latency": self.throttle_latency,
            }
        return {
            "service": self.pod_service,
            "overhead": self.pod_overhead,
            "pod_start": self.pod_start,
            "pod_ready": self.pod_ready,
            "node_add": self.node_add,
        }

    def used_defaults(self, platform: Platform, memory_mb: int = DEFAULT_MEMORY_MB) -> list[str]:
        """The quantities this platform's simulation takes from the defaults."""
        return [
            name
            for name, q in self.quantities(platform, memory_mb).items()
            if not (q.is_measured if isinstance(q, Distribution) else q.measured)
        ]

    def describe(self, platform: Platform, memory_mb: int = DEFAULT_MEMORY_MB) -> dict[str, object]:
        defaults = self.used_defaults(platform, memory_mb)
        quantities = self.quantities(platform, memory_mb)
        source = (
            "defaults"
            if len(defaults) == len(quantities)
            else "measured"
            if not defaults
            else "mixed"
        )
        return {
            "source": source,
            "runs": list(self.runs),
            "defaults_used_for": defaults,
            "quantities": {name: q.describe() for name, q in quantities.items()},
        }


def calibrate(
    store: MetricStore | None,
    platform: Platform,
    *,
    run_ids: Sequence[str] | None = None,
) -> Calibration:
    """The platform's distributions from ``run_ids`` (or its targets' latest complete runs).

    ``store`` None, an empty store or no runs: the defaults (``Calibration()``).
    """
    if store is None or not store.path.exists():
        if run_ids:
            raise CalibrationError(f"no metric store to read runs {', '.join(run_ids)} from")
        return Calibration()
    runs = _chosen_runs(store, platform, run_ids) if run_ids else _latest_runs(store, platform)
    if not runs:
        return Calibration()
    return _measured(store, platform, tuple(runs))


def _latest_runs(store: MetricStore, platform: Platform) -> list[str]:
    for target in TARGETS[platform]:
        runs = store.query(LATEST_RUNS_SQL, [target]).column("run_id").to_pylist()
        if runs:
            return runs
    return []


def _chosen_runs(store: MetricStore, platform: Platform, run_ids: Sequence[str]) -> list[str]:
    rows = {
        r["run_id"]: r for r in store.query(CHOSEN_RUNS_SQL, {"runs": list(run_ids)}).to_pylist()
    }
    for run_id in run_ids:
        row = rows.get(run_id)
        if row is None:
            raise CalibrationError(f"run {run_id!r} is not in the metric store")
        if row["target"] not in TARGETS[platform]:
            raise CalibrationError(f"run {run_id!r} is a {row['target']} run, not {platform}")
        if row["status"] == "failed":
            raise CalibrationError(f"run {run_id!r} failed: it has no requests to calibrate from")
    return list(run_ids)


def _measured(store: MetricStore, platform: Platform, runs: tuple[str, ...]) -> Calibration:
    params = {"runs": list(runs)}
    label = f"runs {', '.join(runs)}"
    if platform == "lambda":
        return _lambda(store, params, label, runs)
    return _eks(store, params, label, runs)


def _lambda(
    store: MetricStore, params: dict[str, object], label: str, runs: tuple[str, ...]
) -> Calibration:
    base = Calibration(runs=runs)
    rows = store.query(LAMBDA_WORK_SQL, params).to_pylist()
    work: dict[int, Distribution] = {}
    for memory in sorted({r["memory_mb"] for r in rows}):
        samples = np.array([r["server_ms"] for r in rows if r["memory_mb"] == memory])
        if samples.size >= MIN_REQUEST_SAMPLES:
            work[memory] = Distribution.measured(
                samples,
                f"measured: server_ms of {samples.size} warm ok requests at {memory} MB, {label}",
            )
    overhead = _median_figure(
        [r["overhead_ms"] for r in rows], base.lambda_overhead, "median latency - server_ms", label
    )
    throttle = _median_figure(
        _column(store, THROTTLE_LATENCY_SQL, params, "latency_ms"),
        base.throttle_latency,
        "median latency of the 500s",
        label,
        minimum=1,
    )
    return Calibration(
        runs=runs,
        lambda_work=work or base.lambda_work,
        lambda_overhead=overhead,
        init=_distribution(
            _column(store, INIT_SQL, params, "init_ms"), base.init, "cold_start init_ms", label
        ),
        throttle_latency=throttle,
    )


def _eks(
    store: MetricStore, params: dict[str, object], label: str, runs: tuple[str, ...]
) -> Calibration:
    base = Calibration(runs=runs)
    rows = store.query(POD_SERVICE_SQL, params).to_pylist()
    service = _distribution(
        [r["service_ms"] for r in rows],
        base.pod_service,
        "pod service time (min of server_ms and the gap to the pod's previous answer)",
        label,
        minimum=MIN_REQUEST_SAMPLES,
    )
    cores = store.query(POD_CPU_SQL, params).column("cores").to_pylist()[0]
    ready = store.query(POD_READY_SQL, params).to_pylist()
    node_add = _median_figure(
        [d / 1000.0 for d in _column(store, NODE_ADD_SQL, params, "duration_ms")],
        base.node_add,
        "median node_added duration_ms / 1000",
        label,
        minimum=1,
    )
    return Calibration(
        runs=runs,
        pod_service=service,
        pod_service_cores=float(cores) if service.is_measured and cores else base.pod_service_cores,
        pod_overhead=_median_figure(
            [r["overhead_ms"] for r in rows], base.pod_overhead, "median latency - server_ms", label
        ),
        pod_start=_distribution(
            [r["start_latency_ms"] for r in ready if r["start_latency_ms"] is not None],
            base.pod_start,
            "pod_ready detail.start_latency_ms",
            label,
        ),
        pod_ready=_distribution(
            [r["init_ms"] for r in ready], base.pod_ready, "pod_ready init_ms", label
        ),
        node_add=node_add,
    )


def _column(
    store: MetricStore, sql: str, params: dict[str, object] | list[object], name: str
) -> list[float]:
    return [v for v in store.query(sql, params).column(name).to_pylist() if v is not None]


def _distribution(
    values: Sequence[float], default: Distribution, what: str, label: str, *, minimum: int = 1
) -> Distribution:
    clean = np.array([v for v in values if v is not None and v >= 0], dtype=np.float64)
    if clean.size < minimum:
        return default
    return Distribution.measured(clean, f"measured: {what}, {clean.size} samples, {label}")


def _median_figure(
    values: Sequence[float],
    default: Figure,
    what: str,
    label: str,
    *,
    minimum: int = MIN_REQUEST_SAMPLES,
) -> Figure:
    clean = [v for v in values if v is not None]
    if len(clean) < minimum:
        return default
    median = max(0.0, float(np.median(clean)))  # an overhead is never negative
    return Figure(median, f"measured: {what} over {len(clean)}, {label}", measured=True)


# --- the runs a validation replays ------------------------------------------------------------


@dataclass(frozen=True)
class LocalRun:
    """A complete local run: its deployment, arrival schedule, and what it measured."""

    run_id: str
    target: str
    scenario: str
    profile: str
    host: dict[str, object]
    offsets_s: np.ndarray  # intended send times from the first one, every request sent
    measure: np.ndarray  # True where the request is of the measure phase
    counts: dict[str, float]  # cold_starts and throttles of the measure phase
    ok_latency_ms: np.ndarray  # the measure phase's successful requests
    failed: int  # and how many of its requests failed
    events: dict[str, float | None]  # memory_mb, first_ready_s (from the first send), crashes...

    @property
    def platform(self) -> Platform:
        return "lambda" if self.target == "local-lambda" else "eks"


def local_runs(store: MetricStore, run_ids: Sequence[str] | None = None) -> list[LocalRun]:
    """Every complete local run (or the ones named), oldest first."""
    rows = store.query(LOCAL_RUNS_SQL).to_pylist()
    if run_ids is not None:
        known = {r["run_id"] for r in rows}
        missing = [r for r in run_ids if r not in known]
        if missing:
            raise CalibrationError(f"not complete local runs: {', '.join(missing)}")
        rows = [r for r in rows if r["run_id"] in set(run_ids)]
    return [_local_run(store, row) for row in rows]


def _local_run(store: MetricStore, row: dict[str, object]) -> LocalRun:
    run_id = str(row["run_id"])
    schedule = store.query(SCHEDULE_SQL, [run_id])
    t = np.asarray(schedule.column("t").to_numpy(zero_copy_only=False), dtype=np.float64)
    start = float(t[0]) if t.size else 0.0
    counts = store.query(MEASURED_COUNTS_SQL, {"run": run_id}).to_pylist()[0]
    latency = store.query(MEASURE_LATENCY_SQL, [run_id]).to_pylist()
    events = store.query(RUN_EVENTS_SQL, [run_id]).to_pylist()[0]
    if events["first_ready_s"] is not None:
        events["first_ready_s"] -= start
    host = row["host"]
    return LocalRun(
        run_id=run_id,
        target=str(row["target"]),
        scenario=str(row["scenario"]),
        profile=str(row["profile"]),
        host=json_object(host),  # type: ignore[arg-type]
        offsets_s=t - start,
        measure=np.asarray(schedule.column("phase").to_pylist()) == "measure",
        counts={k: float(v) for k, v in counts.items()},
        ok_latency_ms=np.array([r["latency_ms"] for r in latency if r["ok"]], dtype=np.float64),
        failed=sum(1 for r in latency if not r["ok"]),
        events=events,
    )
