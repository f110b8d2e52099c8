"""The peak-rate search on a real local Kubernetes with the tiny model, as the ``peak_rate`` asset
runs it: real pods, Locust through Dagster Pipes, every probe a stored run of scenario ``peak``."""

from __future__ import annotations

import dagster as dg
import pytest

from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.defs.peak.assets import peak_rate
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.settings import PROJECT_ROOT
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.peak import latest_searches, probes_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory):
    """The smoke search (probes of 3 s and at least 30 requests; two of them) on one pod."""
    folder = tmp_path_factory.mktemp("peak")
    database = folder / "bench.duckdb"
    resources = {
        "bench": BenchmarkConfig(
            targets=["local-k8s"], scenarios=["warm_steady"], profile="smoke", model="tiny",
            max_replicas=1,
        ),
        "platforms": PlatformsResource(work_dir=str(folder / "work")),
        "aws": AwsConfig(),
        "duckdb": MetricStoreResource(database=str(database)),
        "pricing": PricingResource(),
        "pipes_subprocess_client": dg.PipesSubprocessClient(cwd=str(PROJECT_ROOT)),
    }  # fmt: skip
    config = {"ops": {"peak_rate": {"config": {"also_slo_ms": [130.0], "max_probes": 2}}}}
    with dg.instance_for_test() as instance:
        result = dg.materialize([peak_rate], resources=resources, instance=instance,
                                run_config=config, raise_on_error=False)  # fmt: skip
    return result, MetricStore(database)


def test_every_probe_is_a_complete_peak_run_judged_by_its_run_summary(searched) -> None:
    result, store = searched
    assert result.success
    searches = latest_searches(store, "smoke")
    measured = next(s for s in searches if s["method"] == "measured" and s["slo_p99_ms"] == 500)
    probes = probes_of(store, [measured["search_id"]])
    assert [p["rate_rps"] for p in probes][:1] == [8.0]  # the peak scenario's smoke rate
    assert 1 <= len(probes) <= 2
    summaries = {r["run_id"]: r for r in store.summary_rows([p["run_id"] for p in probes])}
    accounting = {r["run_id"]: r for r in store.row_accounting(list(summaries))}
    for probe in probes:
        summary = summaries[probe["run_id"]]
        assert summary["scenario"] == "peak"
        assert summary["requests"] >= 30
        assert accounting[probe["run_id"]]["rows"] == accounting[probe["run_id"]]["scheduled"]
        assert (probe["verdict"] == "VALID") == bool(summary["slo_met"])
        assert summary["offered_rps"] == pytest.approx(probe["rate_rps"], rel=0.5)
    valid = [p["rate_rps"] for p in probes if p["verdict"] == "VALID"]
    assert measured["peak_rps"] is None or measured["peak_rps"] in valid
    assert measured["status"] in {"found", "no rate passed", "at ceiling", "probes exhausted"}


def test_the_search_is_labelled_host_limited_with_its_projection_and_the_130_ms_bound(
    searched,
) -> None:
    result, store = searched
    rows = {(s["method"], s["slo_p99_ms"]): s for s in latest_searches(store, "smoke")}
    assert set(rows) == {("measured", 500), ("measured", 130), ("simulated", 500),
                         ("simulated", 130)}  # fmt: skip
    measured = rows["measured", 500]
    assert measured["host_limited"] is True
    assert measured["size"] == "1 CPU x 1 pod"
    assert measured["configured_vcpus"] == 1.0
    assert rows["measured", 130]["run_ids"] == measured["run_ids"]
    assert rows["simulated", 500]["detail"]["calibration"]["runs"] == measured["run_ids"]
    [event] = result.get_asset_materialization_events()
    assert event.materialization.metadata["invocation_id"].value == measured["invocation_id"]
