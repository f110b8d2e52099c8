"""The peak-rate tables (migration 0007) and the reads the search and the report need.

Writes go through the economics tables' writer (``store.economics.write_many``): one
invocation's rows in one transaction, a retried invocation replacing its own. The search reads
its probes' ``run_summary`` rows judged at a bound of its choosing (:func:`probe_rows`): the
same rule as the view's ``slo_met`` — the corrected p99 over every scheduled request, failures
ranked slowest, within the bound — so one set of probes can be judged against 500 ms and
MLPerf's 130 ms alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.economics import Table, _decoded, read_computation, write_many

# The scenario every probe runs as: its runs are ordinary runs of this scenario.
PEAK_SCENARIO = "peak"
PEAK_SEARCHES = Table(
    "peak_searches",
    "invocation_id",
    (
        "invocation_id", "search_id", "searched_at", "target", "method", "size", "memory_mb",
        "pod_cpu", "replicas", "policy", "slo_p99_ms", "rates_chosen_for_ms", "profile", "model",
        "status", "peak_rps", "upper_rps", "reason", "probes", "min_duration_s", "min_requests",
        "tolerance", "configured_vcpus", "host_cores", "vcpus", "per_vcpu_rps", "host_limited",
        "host_limited_reasons", "bounding_host_limited_share", "run_ids", "detail",
    ),
    frozenset({"detail"}),
)  # fmt: skip
PEAK_PROBES = Table(
    "peak_probes",
    "invocation_id",
    (
        "invocation_id", "search_id", "probe", "step", "policy", "rate_rps", "verdict", "reason",
        "run_id", "requests", "measure_s", "p99_corrected_ms", "p99_is_failure", "failed_share",
        "cold_starts", "host_limited_share", "send_lateness_p99_ms", "throughput_rps", "warming",
    ),
    frozenset({"warming"}),
)  # fmt: skip

# run_summary of the probes with the bound replaced: slo_met is the view's own rule at $bound.
PROBE_ROWS_SQL = """
SELECT s.* REPLACE (
           CAST($bound AS DOUBLE) AS slo_p99_ms,
           coalesce(s.p99_corrected_ms <= $bound, false) AS slo_met),
       b.status, b.measure_s, b.host
FROM run_summary s JOIN benchmark_runs b USING (run_id)
WHERE list_contains($run_ids, s.run_id)
"""
# The newest invocation per target among the searches of one profile.
LATEST_OF_PROFILE_SQL = """
WITH invocations AS (
    SELECT target, invocation_id, max(searched_at) AS searched_at
    FROM peak_searches WHERE $profile IS NULL OR profile = $profile
    GROUP BY target, invocation_id
),
latest AS (
    SELECT target, invocation_id FROM invocations
    QUALIFY row_number() OVER (
        PARTITION BY target ORDER BY searched_at DESC, invocation_id DESC) = 1
)
SELECT s.* FROM peak_searches s JOIN latest USING (target, invocation_id)
ORDER BY s.target, s.method, s.size, s.policy, s.slo_p99_ms DESC
"""
PROBES_OF_SQL = """
SELECT * FROM peak_probes WHERE list_contains($search_ids, search_id) ORDER BY search_id, probe
"""


def probe_rows(store: MetricStore, run_ids: Sequence[str], bound_ms: float) -> dict[str, dict]:
    """Per run id: its ``run_summary`` row judged at ``bound_ms``, with status, measure_s, host."""
    rows = store.query(PROBE_ROWS_SQL, {"run_ids": list(run_ids), "bound": bound_ms}).to_pylist()
    return {row["run_id"]: row for row in rows}


def write_searches(
    store: MetricStore,
    invocation_id: str,
    searches: Sequence[Mapping[str, Any]],
    probes: Sequence[Mapping[str, Any]],
) -> None:
    """One invocation's searches and their probes, in one transaction."""
    write_many(store, [(PEAK_SEARCHES, searches), (PEAK_PROBES, probes)], invocation_id)


def read_invocation(store: MetricStore, invocation_id: str) -> list[dict[str, Any]]:
    """Every search row of one invocation, JSON decoded."""
    return read_computation(store, PEAK_SEARCHES, invocation_id)


def latest_searches(store: MetricStore, profile: str | None = None) -> list[dict[str, Any]]:
    """The newest invocation's searches per target (of ``profile``); none before any search.

    Reading brings an older file's schema up to date first (``MetricStore.connect``), so the
    tables exist."""
    if not store.path.exists():
        return []
    rows = store.query(LATEST_OF_PROFILE_SQL, {"profile": profile}).to_pylist()
    return [_decoded(PEAK_SEARCHES, row) for row in rows]


def probes_of(store: MetricStore, search_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The probes of these searches, in order."""
    rows = store.query(PROBES_OF_SQL, {"search_ids": list(search_ids)}).to_pylist()
    return [_decoded(PEAK_PROBES, row) for row in rows]
