"""Cost estimates from a metric store of hand-made runs, ingested as the pipeline ingests them.

The runs: local-lambda at 1,024 MB (cheapest per request, but its runs missed their SLO), 1,769
MB and 3,008 MB (both met theirs), and local-k8s pods; so the cheapest size meeting the SLO is
1,769 MB, and every figure can be checked against what was put in.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

import pytest

from nlp_bench_pipeline.core.records import PlatformEvent
from nlp_bench_pipeline.costs.breakeven import PEAK_TO_MEAN, LambdaProfile, Workload, lambda_month
from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.costs.lambda_usage import lambda_usage
from nlp_bench_pipeline.costs.model import lambda_cost
from nlp_bench_pipeline.defs.economics.estimates import (
    LAMBDA_LINES,
    EstimateSettings,
    NoMeasurements,
    TrafficProfile,
    estimate_costs,
)
from nlp_bench_pipeline.store import MetricStore
from tests.unit.store_rows import T0, record, row, write_rows
from tests.unit.test_simulate_validation import LAMBDA_HOST

# memory size → (warm Billed Duration ms, client latency ms, the runs' p99 bound ms)
LAMBDA_SIZES = {
    1024: (150.0, 160.0, 100.0),
    1769: (100.0, 110.0, 2000.0),
    3008: (70.0, 80.0, 2000.0),
}
POD_SERVICE_MS = 50.0
REQUESTS = 40


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(T0 + seconds, UTC)


def add_lambda_run(
    store: MetricStore, work: Path, memory_mb: int, *, repetition: int = 0, repetitions: int = 1
) -> str:
    """One run at ``memory_mb``; the sizes are repetitions of one series (``latest_runs`` keeps
    a target's newest complete series)."""
    billed, latency, slo = LAMBDA_SIZES[memory_mb]
    run_id = f"s1-local-lambda-{memory_mb}"
    rows = [row(i, latency_ms=latency, server_ms=billed - 1, at_s=0.2 * i) for i in range(REQUESTS)]
    events = [
        PlatformEvent(at=at(0), target="local-lambda", kind="cold_start", environment_id="env-1",
                      init_ms=5000.0, detail={"init_type": "on-demand"}),
        PlatformEvent(at=at(0), target="local-lambda", kind="report", environment_id="env-1",
                      init_ms=5000.0, duration_ms=billed - 0.5, billed_ms=5000.0 + billed,
                      memory_mb=memory_mb),
    ]  # fmt: skip
    events += [
        PlatformEvent(at=at(0.2 * i), target="local-lambda", kind="report", environment_id="env-1",
                      duration_ms=billed - 0.5, billed_ms=billed, memory_mb=memory_mb)
        for i in range(REQUESTS)
    ]  # fmt: skip
    files = [write_rows(work / f"{run_id}.parquet", rows)]
    run = record(run_id, rows, target="local-lambda", slo_p99_ms=slo, measure_s=8.0,
                 repetition=repetition, repetitions=repetitions, host=LAMBDA_HOST)  # fmt: skip
    store.ingest_run(run, request_files=files, events=events)
    return run_id


def add_pod_run(store: MetricStore, work: Path) -> str:
    run_id = "s1-local-k8s"
    rows = [
        row(i, latency_ms=POD_SERVICE_MS + 5, server_ms=POD_SERVICE_MS, at_s=0.1 * i,
            environment_id=f"pod-{i % 2}")
        for i in range(REQUESTS)
    ]  # fmt: skip
    files = [write_rows(work / f"{run_id}.parquet", rows)]
    host = {"deployment": {"cpu": {"request": 1.0, "limit": 1.0}}}
    run = record(run_id, rows, target="local-k8s", host=host,
                 slo_p99_ms=2000.0, measure_s=4.0)  # fmt: skip
    store.ingest_run(run, request_files=files)
    return run_id


def bench_store(path: Path, sizes=tuple(LAMBDA_SIZES), pods: bool = True) -> MetricStore:
    """A store with a complete warm_steady series per Lambda size and, optionally, pods."""
    store = MetricStore(path / "bench.duckdb")
    store.migrate()
    for index, memory in enumerate(sizes):
        add_lambda_run(store, path, memory, repetition=index, repetitions=len(sizes))
    if pods:
        add_pod_run(store, path)
    return store


TRAFFIC = (TrafficProfile("steady", 10.0), TrafficProfile("spiky", 100.0))


SETTINGS = EstimateSettings(traffic=TRAFFIC, node_types=("c7i.xlarge", "c7g.xlarge"))
PROVISIONED = 10  # environments: 1 busy at steady 10 req/s of 100 ms, 50 at spiky 100 req/s


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MetricStore:
    return bench_store(tmp_path_factory.mktemp("estimates"))


@pytest.fixture(scope="module")
def estimates(store: MetricStore):
    return estimate_costs(store, load_catalog(), SETTINGS)


@pytest.fixture(scope="module")
def provisioned(store: MetricStore):
    settings = dataclasses.replace(SETTINGS, provisioned_concurrency=PROVISIONED)
    return estimate_costs(store, load_catalog(), settings)


def rows_of(estimates, **match) -> list[dict]:
    return [r for r in estimates.estimates if all(r[k] == v for k, v in match.items())]


def test_the_cheapest_size_meeting_its_slo_is_chosen_not_the_cheapest(estimates) -> None:
    assert estimates.chosen_memory_mb == 1769
    assert "1024 MB did not" in estimates.chosen_reason
    [verdict] = {r["meets_slo"] for r in rows_of(estimates, platform="lambda", memory_mb=1024)}
    assert verdict is False
    chosen = rows_of(estimates, chosen=True, platform="lambda")
    assert {r["configuration"] for r in chosen} == {"1769 MB x86"}


def test_every_configuration_is_priced_at_every_traffic_profile(estimates) -> None:
    configurations = {(r["platform"], r["configuration"]) for r in estimates.estimates}
    assert configurations == {
        *(("lambda", f"{m} MB {a}") for m in LAMBDA_SIZES for a in ("x86", "arm")),
        ("eks", "c7i.xlarge"),
        ("eks", "c7g.xlarge"),
    }
    assert len(estimates.estimates) == len(configurations) * len(TRAFFIC)


def test_the_breakdown_lines_add_up_to_the_month(estimates) -> None:
    for r in estimates.estimates:
        assert sum(r["breakdown"].values()) == pytest.approx(r["usd_per_month"], rel=1e-12)
        requests = r["mean_rps"] * 730 * 3600
        assert r["usd_per_million_inferences"] == pytest.approx(r["usd_per_month"] / requests * 1e6)


def test_lambda_is_billed_from_report_records(estimates) -> None:
    [steady] = rows_of(estimates, configuration="1769 MB x86", traffic_profile="steady-10rps")
    assert steady["billed_ms"] == pytest.approx(100.0)
    assert steady["init_ms"] == pytest.approx(5000.0)
    # 10 req/s × 730 h = 26,280,000 invocations of 100 ms at 1,769 MB (0.1727 GB-s each); the
    # cold starts' init is a small share of the duration charge, carved out of it.
    duration = 26_280_000 * 0.1 * 1769 / 1024 * 0.0000166667
    assert steady["breakdown"]["compute"] + steady["breakdown"]["init"] == pytest.approx(
        duration, rel=0.01
    )
    assert steady["breakdown"]["requests"] == pytest.approx(26.28 * 0.20)
    assert steady["breakdown"]["gateway"] == pytest.approx(26.28 * 1.00)


def test_arm_and_graviton_rows_say_they_reuse_x86_measurements(estimates) -> None:
    arm = rows_of(estimates, platform="lambda", architecture="arm")
    assert all(any("reused from x86" in n for n in r["notes"]) for r in arm)
    graviton = rows_of(estimates, configuration="c7g.xlarge")
    assert all(any("measured on x86" in n for n in r["notes"]) for r in graviton)
    [x86] = rows_of(estimates, configuration="1769 MB x86", traffic_profile="steady-10rps")
    [arm_row] = rows_of(estimates, configuration="1769 MB arm", traffic_profile="steady-10rps")
    assert arm_row["breakdown"]["compute"] < x86["breakdown"]["compute"]


def test_eks_is_sized_for_the_shape_peak(estimates) -> None:
    [spiky] = rows_of(estimates, configuration="c7i.xlarge", traffic_profile="spiky-100rps")
    # 500 req/s at the peak over pods of 1000 / 50 ms = 20 req/s at 60 %: 42 pods.
    assert spiky["pod_capacity_rps"] == pytest.approx(1000 / POD_SERVICE_MS)
    assert spiky["pods"] == 42
    assert spiky["peak_to_mean"] == PEAK_TO_MEAN["spiky"]
    assert spiky["meets_slo"] is True


def test_the_breakeven_is_found_per_shape_with_its_interval_and_curve(estimates) -> None:
    shapes = {r["shape"]: r for r in estimates.breakeven}
    assert set(shapes) == set(PEAK_TO_MEAN)
    steady = shapes["steady"]
    assert steady["lambda_memory_mb"] == 1769
    assert steady["rate_rps"] is not None
    low, high = steady["interval_low_rps"], steady["interval_high_rps"]
    assert low <= steady["rate_rps"] <= high
    assert len(steady["curve"]) == 151
    assert set(steady["by_memory_mb"]) == {"1024", "1769", "3008"}
    # a cluster that holds a higher peak costs more, so it breaks even later, if at all
    spiky = shapes["spiky"]["rate_rps"]
    assert spiky is None or spiky > steady["rate_rps"]
    assert shapes["spiky"]["reason"]


def test_without_a_size_meeting_the_slo_there_is_no_breakeven_and_it_says_why(
    tmp_path: Path,
) -> None:
    store = bench_store(tmp_path, sizes=(1024,))
    estimates = estimate_costs(store, load_catalog(), EstimateSettings(traffic=TRAFFIC))
    assert estimates.chosen_memory_mb is None
    assert estimates.breakeven == []
    assert any("no Lambda memory size met its SLO" in n for n in estimates.notes)


def test_without_any_runs_it_refuses(tmp_path: Path) -> None:
    store = MetricStore(tmp_path / "empty.duckdb")
    with pytest.raises(NoMeasurements, match="no complete warm_steady runs"):
        estimate_costs(store, load_catalog(), EstimateSettings(traffic=TRAFFIC))


def lambda_rows_by_key(estimates) -> dict[tuple[int, str, str], dict]:
    return {
        (r["memory_mb"], r["architecture"], r["traffic_profile"]): r
        for r in rows_of(estimates, platform="lambda")
    }


def test_every_lambda_row_carries_every_line_of_the_breakdown(estimates, provisioned) -> None:
    for r in [*rows_of(estimates, platform="lambda"), *rows_of(provisioned, platform="lambda")]:
        assert set(LAMBDA_LINES) <= set(r["breakdown"])
        assert sum(r["breakdown"].values()) == pytest.approx(r["usd_per_month"], rel=1e-12)


def test_without_provisioned_concurrency_the_rows_are_the_on_demand_month(estimates) -> None:
    catalog = load_catalog()
    for r in rows_of(estimates, platform="lambda"):
        assert r["breakdown"]["provisioned"] == r["breakdown"]["provisioned_duration"] == 0
        assert "provisioned" not in r["configuration"]
        # Lambda pays for the mean: the month at the row's rate, whatever its shape, to the bit
        lam = LambdaProfile(memory_mb=r["memory_mb"], billed_ms=r["billed_ms"],
                            init_ms=r["init_ms"], architecture=r["architecture"])  # fmt: skip
        month = lambda_month(lam, r["mean_rps"], Workload(), catalog)
        assert {k: v for k, v in r["breakdown"].items() if v} == month.lines
        assert r["usd_per_month"] == month.total_usd


def test_provisioned_concurrency_adds_the_cost_models_capacity_charge(
    estimates, provisioned
) -> None:
    catalog = load_catalog()
    on_demand = lambda_rows_by_key(estimates)
    rows = lambda_rows_by_key(provisioned)
    assert rows.keys() == on_demand.keys()
    for (memory_mb, arch, _), r in rows.items():
        usage = lambda_usage(invocations=r["requests_per_month"], memory_mb=memory_mb,
                             duration_ms=r["billed_ms"], catalog=catalog, architecture=arch,
                             provisioned_concurrency=PROVISIONED)  # fmt: skip
        assert r["breakdown"]["provisioned"] == lambda_cost(usage, catalog).lines["provisioned"]
        assert r["breakdown"]["provisioned"] > 0
        before = on_demand[(memory_mb, arch, r["traffic_profile"])]
        for line in ("requests", "gateway"):  # every invocation pays them, as before
            assert r["breakdown"][line] == pytest.approx(before["breakdown"][line])
        assert r["configuration"] == f"{memory_mb} MB {arch}, {PROVISIONED} provisioned"
        assert any(n.startswith(f"Lambda with {PROVISIONED} provisioned") for n in r["notes"])
    capacity = PROVISIONED * 1769 / 1024 * 730 * 3600 * 0.0000041667
    steady = rows[(1769, "x86", "steady-10rps")]
    assert steady["breakdown"]["provisioned"] == pytest.approx(capacity)


def test_provisioned_environments_covering_the_traffic_leave_no_on_demand_init(provisioned) -> None:
    # steady 10 req/s of 100 ms: one environment busy, ten provisioned
    steady = lambda_rows_by_key(provisioned)[(1769, "x86", "steady-10rps")]
    assert steady["breakdown"]["compute"] == steady["breakdown"]["init"] == 0
    gb_s = 10 * 730 * 3600 * 0.1 * 1769 / 1024
    assert steady["breakdown"]["provisioned_duration"] == pytest.approx(gb_s * 0.0000097222)


def test_traffic_above_the_provisioned_environments_at_the_shapes_peak_is_on_demand(
    provisioned,
) -> None:
    # spiky 100 req/s, 500 at the peak: 50 environments busy, ten provisioned serve a fifth;
    # the on-demand four fifths keep 8 environments busy on average, each replaced every 2 h,
    # each replacement a 5 s init billed inside the duration
    spiky = lambda_rows_by_key(provisioned)[(1769, "x86", "spiky-100rps")]
    invocations = 100 * 730 * 3600
    gb = 1769 / 1024
    assert spiky["breakdown"]["provisioned_duration"] == pytest.approx(
        0.2 * invocations * 0.1 * gb * 0.0000097222
    )
    cold_starts = 8 * 730 * 3600 / 7200
    on_demand_gb_s = (0.8 * invocations * 0.1 + cold_starts * 5.0) * gb
    duration = spiky["breakdown"]["compute"] + spiky["breakdown"]["init"]
    assert duration == pytest.approx(on_demand_gb_s * 0.0000166667)
    assert spiky["breakdown"]["init"] == pytest.approx(cold_starts * 5.0 * gb * 0.0000166667)


def test_the_breakeven_prices_the_chosen_size_with_its_provisioned_environments(
    provisioned,
) -> None:
    assert provisioned.chosen_memory_mb == 1769
    assert provisioned.breakeven
    for study in provisioned.breakeven:
        assert any(n.startswith(f"Lambda with {PROVISIONED} provisioned") for n in study["notes"])
