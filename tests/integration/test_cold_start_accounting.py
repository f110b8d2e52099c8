"""A cold request's latency is its environment's wait for an init slot + Init Duration + service.

On the run's own rows: one cold_start cell on the local Lambda (tiny model), run as the pipeline
runs it (plan, fresh platform, load generator, ingestion), then each measured cold request set
against the events of the init it waited on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.cell import plan_cell, run_cell
from nlp_bench_pipeline.bench.plan import BenchmarkPlan, Cell
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.loadgen.launch import run_in_subprocess
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget

pytestmark = pytest.mark.slow

COLD_ROWS = """
SELECT q.seq, q.latency_ms, q.server_ms, q.host_limit, e.init_ms,
       CAST(e.detail->>'$.init_wait_ms' AS DOUBLE) AS wait_ms
FROM requests q
JOIN platform_events e
  ON e.run_id = q.run_id AND e.kind = 'cold_start' AND e.environment_id = q.environment_id
WHERE q.phase = 'measure' AND q.cold_start AND q.ok
QUALIFY row_number() OVER (PARTITION BY q.seq ORDER BY e."at" DESC) = 1
ORDER BY q.seq
"""


def test_cold_latency_is_wait_plus_init_plus_service(tmp_path: Path) -> None:
    # Evicted 0.1 s after its last use, the warm-up's environment is gone before the measured
    # requests however long its init took (an init that ends within 0.1 s of them aside); with
    # smoke's own eviction (2 s) an init over ~2.5 s left it warm for them on a slow host.
    plan = BenchmarkPlan(
        targets=["local-lambda"], scenarios=["cold_start"], profile="smoke", model="tiny",
        platform_overrides={"local-lambda": {"concurrency_limit": 3, "idle_eviction_s": 0.1}},
    )  # fmt: skip
    store = MetricStore(tmp_path / "bench.duckdb")
    repetitions = plan_cell(
        Cell(target="local-lambda", scenario="cold_start"), plan,
        series_id="acct", provenance=Provenance(), work_dir=tmp_path,
    )  # fmt: skip
    target = LocalLambdaTarget(work_dir=tmp_path / "local-lambda", sample_interval_s=0.5)
    run_cell(repetitions, target, store, launch=run_in_subprocess, progress=lambda _: None)
    cold = store.query(COLD_ROWS).to_pylist()
    assert cold, "the measured phase found no environment cold"
    for row in cold:
        expected = row["wait_ms"] + row["init_ms"] + row["server_ms"]
        assert row["latency_ms"] == pytest.approx(expected, rel=0.2), row
    (summary,) = store.summary_rows([repetitions[0].run_id])
    assert summary["cold_start_init_p50_ms"] is not None
    assert summary["cold_start_wait_p50_ms"] is not None
    assert summary["time_to_first_success_ms"] > 0
    assert summary["slo_met"] is not None
    # A cold start that waited for the host's one init slot is host-limited, and counted.
    waited = [r for r in cold if r["wait_ms"] > 10]
    assert all(r["host_limit"] == "init_slot" for r in waited)
    assert summary["host_limited_share"] >= len(waited) / summary["requests"]
