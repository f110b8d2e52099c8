"""Probes as ordinary runs of scenario ``peak``: through the cell machinery into DuckDB, judged
by the report's verdict, warmed per policy; and the tables a search invocation writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.peak import PeakPlan, PeakRequest, find_peak, run_peak
from nlp_bench_pipeline.peak.capacity import sizes_for, spec_for
from nlp_bench_pipeline.peak.probes import MeasuredProbes
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.peak import latest_searches, probes_of
from tests.fixtures.predict_stub import predict_stub
from tests.unit.peak_support import FIVE_PROBES, ScriptedLauncher, ScriptedTarget

BENCH = BenchmarkPlan(targets=["local-k8s", "local-lambda"], profile="quick", model="tiny")


@pytest.fixture
def store(tmp_path: Path) -> MetricStore:
    return MetricStore(tmp_path / "peak.duckdb")


def probes(target, store, tmp_path, launcher, policy="warmed", plan=None) -> MeasuredProbes:
    plan = plan or PeakPlan.for_profile("quick", **FIVE_PROBES)
    size = sizes_for(target.name, BENCH, plan)[0]
    return MeasuredProbes(
        target=target, store=store, plan=plan, policy=policy,
        spec=spec_for(BENCH, target.name, size, policy), series_prefix=f"inv-{policy}",
        launch=launcher, provenance=Provenance(code_version="test"), work_dir=tmp_path / "w",
        progress=lambda _: None,
    )  # fmt: skip


def test_the_search_finds_the_scripted_peak_through_real_runs(store, tmp_path) -> None:
    launcher = ScriptedLauncher()  # true peak at 500 ms: 18.9 req/s
    with predict_stub() as url:
        prober = probes(ScriptedTarget("local-k8s", url), store, tmp_path, launcher)
        result = find_peak(prober, PeakPlan.for_profile("quick", **FIVE_PROBES).search_bounds())
    assert [p.rate_rps for p in result.probes] == [6.0, 12.0, 24.0, 18.0, 21.0]
    assert result.status == "found"
    assert result.peak_rps <= launcher.true_peak(500) < result.upper_rps
    rows = {r["run_id"]: r for r in store.summary_rows([p.run_id for p in result.probes])}
    assert len(rows) == 5  # every probe is a run that run_summary covers
    for probe in result.probes:
        summary = rows[probe.run_id]
        assert summary["scenario"] == "peak"
        assert summary["offered_rps"] == pytest.approx(probe.rate_rps, rel=0.25)
        assert summary["requests"] >= 100  # the rule's minimum, by construction
        assert probe.verdict.valid == bool(summary["slo_met"])


def test_an_invalid_probe_says_why_with_the_reports_verdict(store, tmp_path) -> None:
    launcher = ScriptedLauncher(capacity_rps=10.0)
    with predict_stub() as url:
        prober = probes(ScriptedTarget("local-k8s", url), store, tmp_path, launcher)
        over_bound, failed = prober(9.5, "start"), prober(12.0, "widen")
        ok = prober(2.0, "lower")
    assert over_bound.verdict.verdict == "INVALID"
    assert over_bound.verdict.reasons[0].startswith("p99 1,0")  # 50 / (1 − 0.95) = 1,000 ms
    assert over_bound.verdict.reasons[0].endswith(
        "(corrected, every request) over the 500 ms bound"
    )
    assert failed.verdict.reasons == ["p99 lands on a failed or dropped request (100.0% failed)"]
    assert ok.verdict.verdict == "VALID"
    assert "within 500 ms over" in ok.verdict.describe()
    assert ok.figures["requests"] >= 100
    assert ok.figures["measure_s"] == pytest.approx(ok.figures["requests"] / 2.0, rel=0.2)


def test_the_same_probes_judged_against_mlperfs_130_ms_bound(store, tmp_path) -> None:
    launcher = ScriptedLauncher()  # 70 ms at 6 req/s, 117 at 12, 350 at 18
    with predict_stub() as url:
        prober = probes(ScriptedTarget("local-k8s", url), store, tmp_path, launcher)
        for rate in (6.0, 12.0, 18.0):
            prober(rate, "start")
    at_130 = prober.judged_at(130.0)
    assert [o.verdict.verdict for o in at_130] == ["VALID", "VALID", "INVALID"]
    assert [o.run_id for o in at_130] == [o.run_id for o in prober.outcomes]
    assert "over the 130 ms bound" in at_130[2].verdict.describe()


def test_the_warmed_policy_opens_the_environments_its_rate_needs_and_records_it(
    store, tmp_path
) -> None:
    launcher = ScriptedLauncher()
    with predict_stub(environments=5) as url:
        prober = probes(ScriptedTarget("local-lambda", url), store, tmp_path, launcher)
        outcome = prober(12.0, "start")
    warming = outcome.figures["warming"]
    assert warming["environments_wanted"] == 3  # capped by the concurrency limit
    assert warming["environments_warm"] >= 3
    (plan,) = launcher.plans
    assert plan.scenario.warm_capacity == "schedule"
    assert plan.scenario.warmup[0].rate == 12.0  # the warm-up phase runs at the probe's rate
    accounting = store.row_accounting([outcome.run_id])[0]
    assert accounting["rows"] == accounting["scheduled"]  # warming requests are not rows


def test_the_cold_policy_warms_nothing_and_starts_from_the_platforms_minimum(
    store, tmp_path
) -> None:
    launcher = ScriptedLauncher()
    with predict_stub() as url:
        target = ScriptedTarget("local-k8s", url)
        warmed = probes(target, store, tmp_path, launcher, policy="warmed")
        cold = probes(target, store, tmp_path, launcher, policy="cold")
        warmed(6.0, "start")
        outcome = cold(6.0, "start")
    assert [(s.min_replicas, s.max_replicas) for s in target.specs] == [(2, 2), (1, 2)]
    plan = launcher.plans[-1]
    assert plan.scenario.warm_capacity == "none"
    assert plan.schedule().count("warmup") == 1
    assert "seconds" not in outcome.figures["warming"]  # the first success only, no warming


def test_an_invocation_writes_searches_probes_and_projections(store, tmp_path) -> None:
    launcher = ScriptedLauncher()
    request = PeakRequest(
        bench=BENCH, plan=PeakPlan.for_profile("quick", **FIVE_PROBES), invocation_id="inv-1",
        provenance=Provenance(code_version="test"), work_dir=tmp_path / "w",
        catalog=load_catalog(),
    )  # fmt: skip
    with predict_stub() as url:
        outcome = run_peak([ScriptedTarget("local-k8s", url)], store, request, launch=launcher,
                           progress=lambda _: None)  # fmt: skip
    searches = {(s["method"], s["slo_p99_ms"]): s for s in latest_searches(store, "quick")}
    assert set(searches) == {("measured", 500.0), ("measured", 130.0), ("simulated", 500.0),
                             ("simulated", 130.0)}  # fmt: skip
    measured = searches["measured", 500.0]
    assert (measured["status"], measured["peak_rps"], measured["upper_rps"]) == ("found", 18, 21)
    assert measured["vcpus"] == 2.0  # 2 pods × 1 CPU, on a 2-core host
    assert measured["per_vcpu_rps"] == 9.0
    assert measured["host_limited"] is True
    assert measured["host_limited_reasons"][0].startswith("measured on this host's 2 cores")
    assert measured["size"] == "1 CPU x 2 pods"
    mlperf = searches["measured", 130.0]
    assert (mlperf["peak_rps"], mlperf["upper_rps"]) == (12.0, 18.0)
    assert mlperf["run_ids"] == measured["run_ids"]  # the same probes, judged again
    assert "judged on the rates the 500 ms search chose" in mlperf["reason"]
    simulated = searches["simulated", 500.0]
    assert simulated["host_limited"] is False
    assert simulated["detail"]["rules"] == "aws"
    assert simulated["reason"].startswith("AWS's rules, this configuration")
    probe_rows = probes_of(store, [measured["search_id"], simulated["search_id"]])
    measured_probes = [p for p in probe_rows if p["search_id"] == measured["search_id"]]
    assert [(p["probe"], p["step"], p["rate_rps"], p["verdict"]) for p in measured_probes] == [
        (0, "start", 6.0, "VALID"), (1, "widen", 12.0, "VALID"), (2, "widen", 24.0, "INVALID"),
        (3, "bisect", 18.0, "VALID"), (4, "bisect", 21.0, "INVALID"),
    ]  # fmt: skip
    assert all(p["policy"] == "warmed" and p["run_id"] for p in measured_probes)
    assert all(p["run_id"] is None for p in probe_rows if p not in measured_probes)
    assert json.loads(json.dumps(measured_probes[0]["warming"]))["first_environment_id"]
    assert len(outcome.searches) == 4


def test_a_retried_invocation_replaces_its_rows_and_the_latest_view_follows_the_newest(
    store, tmp_path
) -> None:
    plan = PeakPlan.for_profile("quick", **{**FIVE_PROBES, "max_probes": 2})
    with predict_stub() as url:
        for invocation in ("inv-a", "inv-a", "inv-b"):
            request = PeakRequest(bench=BENCH, plan=plan, invocation_id=invocation,
                                  provenance=Provenance(), work_dir=tmp_path / "w")  # fmt: skip
            run_peak([ScriptedTarget("local-k8s", url)], store, request,
                     launch=ScriptedLauncher(), progress=lambda _: None)  # fmt: skip
    counts = store.query(
        "SELECT invocation_id, count(*) AS n FROM peak_searches GROUP BY ALL ORDER BY ALL"
    ).to_pylist()
    assert counts == [{"invocation_id": "inv-a", "n": 2}, {"invocation_id": "inv-b", "n": 2}]
    latest = store.query("SELECT DISTINCT invocation_id FROM latest_peak_searches").to_pylist()
    assert latest == [{"invocation_id": "inv-b"}]
    probes_latest = store.query("SELECT count(*) AS n FROM latest_peak_probes").to_pylist()
    assert probes_latest == [{"n": 4}]  # 2 probes × the 500 and 130 ms rows


class BrokenAfter(ScriptedTarget):
    """Deploys ``good`` times, then the platform refuses (as a pod that never becomes ready)."""

    def __init__(self, endpoint: str, good: int) -> None:
        super().__init__("local-k8s", endpoint)
        self.good = good

    def deploy(self, spec):
        if len(self.specs) >= self.good:
            raise RuntimeError("no pod became ready within 120 s")
        return super().deploy(spec)


def test_a_probe_whose_platform_fails_ends_the_search_stored_as_failed(store, tmp_path) -> None:
    request = PeakRequest(
        bench=BENCH, plan=PeakPlan.for_profile("quick", **FIVE_PROBES), invocation_id="inv-f",
        provenance=Provenance(), work_dir=tmp_path / "w", catalog=load_catalog(),
    )  # fmt: skip
    with predict_stub() as url:
        target = BrokenAfter(url, good=2)
        outcome = run_peak([target], store, request, launch=ScriptedLauncher(),
                           progress=lambda _: None)  # fmt: skip
    measured = [s for s in outcome.searches if s["method"] == "measured"]
    assert {s["status"] for s in measured} == {"failed"}
    assert {s["slo_p99_ms"] for s in measured} == {500.0, 130.0}
    assert "no pod became ready within 120 s" in measured[0]["reason"]
    assert "rates probed: 6, 12" in measured[0]["reason"]
    failed_runs = store.query(
        "SELECT run_id FROM benchmark_runs WHERE status = 'failed' AND scenario = 'peak'"
    ).to_pylist()
    assert len(failed_runs) == 1  # the probe that could not deploy, with its error
    assert len(latest_searches(store, "quick")) == len(outcome.searches)
