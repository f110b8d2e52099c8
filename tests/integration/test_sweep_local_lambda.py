"""The memory-size sweep against the local Lambda with the tiny model: real environments, real
REPORT records, the backoff client; and the memory_sweep asset materialised in-process."""

from __future__ import annotations

import math
from pathlib import Path

import dagster as dg
import pytest

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.defs.economics.assets import memory_sweep
from nlp_bench_pipeline.defs.economics.catalog import price_catalog
from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.economics import MEMORY_SWEEP, read_latest
from nlp_bench_pipeline.sweep import LocalHost, SweepPlan, run_sweep
from nlp_bench_pipeline.targets.cpu_quota import available_cpus
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget
from nlp_bench_pipeline.targets.local_lambda.config import HostCapacity

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory):
    """1,769 and 3,008 MB on a host capped at 2,500 MB: the second is not run."""
    target = LocalLambdaTarget(work_dir=tmp_path_factory.mktemp("sweep"))
    # Mechanics under test, not the 10 s init rule (the asset test below trips it on purpose).
    spec = DeploymentSpec(target="local-lambda", model="tiny", platform={"init_timeout_s": 60})
    plan = SweepPlan(memory_sizes_mb=(1769, 3008), warm_invocations=5, cold_invocations=2)
    host = LocalHost(HostCapacity(cores=available_cpus(), memory_mb=2500))
    return run_sweep(plan, target, spec, host, load_catalog(), sweep_id="sw", profile="quick")


def test_a_size_the_host_cannot_hold_is_not_run_and_says_why(sweep) -> None:
    by_size = {size.memory_mb: size for size in sweep.sizes}
    assert by_size[1769].status == "run"
    assert by_size[3008].status == "not run (host)"
    assert "does not fit in the 2,500 MB of memory available" in by_size[3008].reason
    assert by_size[3008].measured is None  # never extrapolated


def test_durations_are_the_report_records(sweep) -> None:
    size = sweep.sizes[0]
    for sample in size.warm + size.cold:
        assert sample.ok
        assert sample.memory_mb == 1769
        # Billed Duration is Duration (plus Init Duration on a cold start) rounded up to 1 ms
        init = sample.init_ms if sample.kind == "cold" and not sample.init_retried else 0.0
        assert sample.billed_ms == max(1, math.ceil(sample.duration_ms + init - 1e-9))
        # the client waited for the function and the gateway's path around it
        assert sample.client_ms > sample.duration_ms


def test_cold_and_warm_invocations_are_measured_apart(sweep) -> None:
    size = sweep.sizes[0]
    assert len(size.cold) == 2
    assert len(size.warm) == 5
    assert all(s.init_ms is None for s in size.warm)
    assert all(s.init_ms > 0 for s in size.cold)
    # one fresh deployment per cold invocation; the warm ones reuse the first one's environment
    assert len({s.environment_id for s in size.cold}) == 2
    assert {s.environment_id for s in size.warm} == {size.cold[0].environment_id}
    figures = size.figures(sweep.catalog)
    assert figures["cold_billed_p50_ms"] > 10 * figures["warm_duration_p99_ms"]
    assert figures["usd_per_cold_invocation"] > figures["usd_per_invocation"]


def test_the_only_size_that_ran_is_best_by_every_strategy(sweep) -> None:
    rows = {r["memory_mb"]: r for r in sweep.rows()}
    assert all(rows[1769][flag] for flag in ("best_by_cost", "best_by_speed", "best_balanced"))
    assert not any(rows[3008][flag] for flag in ("best_by_cost", "best_by_speed", "best_balanced"))
    assert rows[1769]["usd_per_million"] == pytest.approx(rows[1769]["usd_per_invocation"] * 1e6)


def test_the_asset_reports_an_init_past_the_limit_as_lambda_handles_it(tmp_path: Path) -> None:
    # An init limit of 1 s: the tiny model's init passes it, Lambda retries the init inside the
    # invoke, and the invocation still succeeds, its retried init inside its Duration.
    database = tmp_path / "bench.duckdb"
    resources = {
        "bench": BenchmarkConfig(
            targets=["local-lambda"],
            scenarios=["warm_steady"],
            profile="smoke",
            model="tiny",
            platform_overrides='{"local-lambda": {"init_timeout_s": 1}}',
        ),
        "platforms": PlatformsResource(work_dir=str(tmp_path / "work")),
        "aws": AwsConfig(),
        "duckdb": MetricStoreResource(database=str(database)),
        "pricing": PricingResource(),
    }
    config = {"ops": {"memory_sweep": {"config": {"warm_invocations": 3}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [price_catalog, memory_sweep], resources=resources, instance=instance, run_config=config
        )
    assert result.success
    [row] = read_latest(MetricStore(database), MEMORY_SWEEP)
    assert (row["memory_mb"], row["status"], row["errors"]) == (1769, "run", 0)
    assert row["init_retries"] >= 1
    assert "Lambda retried it inside the invoke" in row["reason"]
    assert (row["cold_invocations"], row["warm_invocations"]) == (1, 3)
    assert row["cold_billed_p50_ms"] > row["cold_init_p50_ms"]
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == dg.AssetKey("memory_sweep")]  # fmt: skip
    shown = event.materialization.metadata
    assert {r.data["strategy"] for r in shown["best"].value.records} == {
        "cost",
        "speed",
        "balanced",
    }
    assert shown["best_by_cost_mb"].value == 1769
