"""The economics assets materialised in-process: the same asset code, real resources pointed at a
temporary DuckDB file of hand-made runs (``test_economics_estimates.bench_store``) and at the
shipped or a doctored price catalog."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
import yaml

from nlp_bench_pipeline.costs.catalog import DEFAULT_CATALOG, load_catalog
from nlp_bench_pipeline.defs.economics.assets import cost_estimates, scale_simulation
from nlp_bench_pipeline.defs.economics.catalog import price_catalog, prices_read_within_a_year
from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.defs.resources import BenchmarkConfig, MetricStoreResource
from nlp_bench_pipeline.store.economics import (
    COST_BREAKEVEN,
    COST_ESTIMATES,
    SIMULATION_RESULTS,
    SIMULATION_VALIDATION,
    read_latest,
)
from tests.unit.test_economics_estimates import bench_store

pytestmark = pytest.mark.slow  # materialises through Dagster: ~25 s on the 2-core machine
ASSETS = [price_catalog, prices_read_within_a_year, cost_estimates, scale_simulation]
RUN_CONFIG = {
    "ops": {
        "cost_estimates": {"config": {"rates_rps": [10.0], "node_types": ["c7i.xlarge"]}},
        "scale_simulation": {"config": {"patterns": ["steady", "spiky"], "rates_rps": [5.0]}},
    }
}


def resources(database: Path, catalog: Path = DEFAULT_CATALOG) -> dict:
    return {
        "bench": BenchmarkConfig(
            targets=["local-lambda", "local-k8s"], scenarios=["warm_steady"], profile="smoke"
        ),
        "duckdb": MetricStoreResource(database=str(database)),
        "pricing": PricingResource(path=str(catalog)),
    }


def metadata(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey(asset)
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.fixture(scope="module")
def materialised(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("economics")
    store = bench_store(base)
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ASSETS, resources=resources(store.path), instance=instance, run_config=RUN_CONFIG
        )
        yield result, store


def test_every_asset_materialises(materialised) -> None:
    result, _ = materialised
    assert result.success
    keys = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert keys == {"price_catalog", "cost_estimates", "scale_simulation"}


def test_the_catalog_data_version_is_its_digest(materialised) -> None:
    result, _ = materialised
    [event] = [
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey("price_catalog")
    ]
    digest = load_catalog().digest()
    assert event.materialization.tags["dagster/data_version"] == digest
    assert metadata(result, "price_catalog")["digest"] == digest


def test_cost_estimates_are_stored_with_the_breakeven_and_the_chosen_size(materialised) -> None:
    result, store = materialised
    estimates = read_latest(store, COST_ESTIMATES)
    assert {r["estimate_id"] for r in estimates} == {result.run_id}
    assert {(r["platform"], r["configuration"]) for r in estimates if r["chosen"]} == {
        ("lambda", "1769 MB x86"),
        ("eks", "c7i.xlarge"),
    }
    assert all(isinstance(r["breakdown"], dict) for r in estimates)
    lambdas = [r for r in estimates if r["platform"] == "lambda"]
    assert lambdas
    assert all(r["breakdown"]["provisioned"] == 0 for r in lambdas)  # none configured
    breakeven = {r["shape"]: r for r in read_latest(store, COST_BREAKEVEN)}
    assert set(breakeven) == {"steady", "diurnal", "spiky"}
    shown = metadata(result, "cost_estimates")
    assert shown["breakeven_rps"] == pytest.approx(breakeven["steady"]["rate_rps"])
    assert shown["cheapest_lambda_memory_mb_meeting_slo"] == 1769
    assert {r.data["shape"] for r in shown["breakeven"].records} == set(breakeven)
    assert {c.name for c in shown["estimates"].schema.columns} >= {"usd_per_million_inferences"}


def test_cost_estimates_price_the_configured_provisioned_concurrency(tmp_path: Path) -> None:
    store = bench_store(tmp_path)
    config = {"rates_rps": [10.0], "node_types": ["c7i.xlarge"], "provisioned_concurrency": 4}
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [price_catalog, cost_estimates],
            resources=resources(store.path),
            instance=instance,
            run_config={"ops": {"cost_estimates": {"config": config}}},
        )
    lambdas = [r for r in read_latest(store, COST_ESTIMATES) if r["platform"] == "lambda"]
    assert lambdas
    catalog = load_catalog()
    for r in lambdas:
        price = catalog.price(f"lambda.provisioned.capacity.{r['architecture']}", "us-east-1")
        gb_s = 4 * r["memory_mb"] / 1024 * 730 * 3600  # four environments, all month
        assert r["breakdown"]["provisioned"] == pytest.approx(price.cost(gb_s))
        assert r["configuration"].endswith(", 4 provisioned")
    assert metadata(result, "cost_estimates")["lambda_provisioned_concurrency"] == 4


def test_the_simulation_grid_and_its_validation_are_stored_and_shown(materialised) -> None:
    result, store = materialised
    grid = read_latest(store, SIMULATION_RESULTS)
    # both platforms × 2 patterns × 1 rate, a quarter hour each (the smoke profile)
    assert {(r["platform"], r["pattern"], r["mean_rps"]) for r in grid} == {
        (p, pattern, 5.0) for p in ("lambda", "eks") for pattern in ("steady", "spiky")
    }
    assert all(r["hours"] == 0.25 and r["rules"] == "aws" for r in grid)
    assert all(r["distributions_source"] in {"measured", "mixed"} for r in grid)
    validation = read_latest(store, SIMULATION_VALIDATION)
    runs = {r["run_id"] for r in validation}
    assert runs == {"s1-local-k8s", *(f"s1-local-lambda-{m}" for m in (1024, 1769, 3008))}
    assert {r["metric"] for r in validation} == {"p50_ms", "p99_ms", "cold_starts", "throttles"}
    shown = metadata(result, "scale_simulation")
    assert len(shown["validation"].records) == len(validation)
    failing = [r.data for r in shown["validation"].records if not r.data["passed"]]
    assert all(r["reason"] for r in failing)
    assert shown["simulated_requests"] == sum(r["requests"] for r in grid)


def test_the_staleness_check_passes_on_the_shipped_catalog(materialised) -> None:
    result, _ = materialised
    [evaluation] = result.get_asset_check_evaluations()
    assert evaluation.passed


def test_the_staleness_check_warns_on_a_price_read_over_a_year_ago(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_CATALOG.read_text())
    document["prices"][0]["read"] = "2020-01-01"
    old = tmp_path / "old-catalog.yaml"
    old.write_text(yaml.safe_dump(document))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [price_catalog, prices_read_within_a_year],
            resources={"pricing": PricingResource(path=str(old))},
            instance=instance,
        )
    [evaluation] = result.get_asset_check_evaluations()
    assert result.success  # a warning, not a failure
    assert not evaluation.passed
    assert evaluation.severity == dg.AssetCheckSeverity.WARN
    stale = [r.data for r in evaluation.metadata["stale"].value.records]
    assert stale == [
        {"kind": "price", "key": document["prices"][0]["id"], "region": "us-east-1",
         "read": "2020-01-01", "age_days": stale[0]["age_days"]}
    ]  # fmt: skip
    assert stale[0]["age_days"] > 365


def test_cost_estimates_fail_with_one_line_when_there_are_no_runs(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [price_catalog, cost_estimates],
            resources=resources(tmp_path / "empty.duckdb"),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "no complete warm_steady runs" in str(failure.event_specific_data.error.message)
