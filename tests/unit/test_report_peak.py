"""The report's headline: each target's peak rate under the bound, per vCPU, host-limited where
measured locally, with the simulator's projection and every probe behind it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.costs.catalog import load_catalog
from nlp_bench_pipeline.peak import PeakPlan, PeakRequest, run_peak
from nlp_bench_pipeline.report import build
from nlp_bench_pipeline.report.peak import headlines, peak_figures
from nlp_bench_pipeline.store.peak import write_searches
from tests.fixtures.predict_stub import predict_stub
from tests.unit.peak_support import FIVE_PROBES, ScriptedLauncher, ScriptedTarget
from tests.unit.test_report_rows import build_report_store

ATTACK = "</script><img src=x onerror=alert(1)>"
NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("peak-report")
    store = build_report_store(folder)
    request = PeakRequest(
        bench=BenchmarkPlan(profile="quick", model="tiny"),
        plan=PeakPlan.for_profile("quick", **FIVE_PROBES),
        invocation_id="inv-k8s", provenance=Provenance(), work_dir=folder / "w",
        catalog=load_catalog(),
    )  # fmt: skip
    with predict_stub() as url:
        outcome = run_peak([ScriptedTarget("local-k8s", url)], store, request,
                           launch=ScriptedLauncher(), progress=lambda _: None)  # fmt: skip
    hostile = [
        {**row, "invocation_id": "inv-lambda", "search_id": f"hostile-{n}",
         "target": "local-lambda", "size": "1,769 MB", "memory_mb": 1769, "pod_cpu": None,
         "peak_rps": None, "per_vcpu_rps": None, "status": "no rate passed",
         "reason": f"nothing passed {ATTACK}"}
        for n, row in enumerate(outcome.searches)
    ]  # fmt: skip
    write_searches(store, "inv-lambda", hostile, [])
    covered = build.scope(store)
    files = build.write_report(store, folder, covered, now=NOW)
    return store, covered, files.index.read_text()


def test_the_peak_rate_is_the_headline_before_the_verdict(report) -> None:
    _, _, html = report
    assert html.index('id="peak"') < html.index('id="verdict"') < html.index('id="charts"')
    assert (
        "<strong>local-k8s</strong> holds <strong>18 req/s</strong> (9 req/s per vCPU, 2 vCPU) "
        'with p99 ≤ 500 ms (1 CPU x 2 pods, warmed) — <span class="missed">host-limited</span>'
        "; projected under AWS's rules: "
    ) in html
    assert "the projection under AWS's rules holds it at no probed rate either" in html


def test_each_search_and_bound_is_a_row_and_its_probes_are_listed_with_reasons(report) -> None:
    store, _, html = report
    figures = peak_figures(store, "quick")
    k8s = [f for f in figures if f.target == "local-k8s"]
    assert sorted(f.bound_ms for f in k8s) == [130.0, 500.0]
    searched = next(f for f in k8s if f.searched)
    assert [p["rate_rps"] for p in searched.probes] == [6.0, 12.0, 24.0, 18.0, 21.0]
    assert searched.simulated is not None
    assert searched.simulated["method"] == "simulated"
    assert [h.target for h in headlines(figures)] == ["local-k8s", "local-lambda"]
    table = html[html.index('id="peak-table"') : html.index("</table>", html.index("peak-table"))]
    assert table.count("<tr><td>local-k8s</td>") == 2
    assert "<em>130 ms</em>" in table  # judged on the 500 ms search's rates
    assert "over the 500 ms bound" in html  # an INVALID probe's reason
    assert searched.probes[2]["run_id"] in html


def test_the_probes_runs_are_not_a_scenario_of_the_verdict(report) -> None:
    _, covered, html = report
    assert {r["scenario"] for r in covered.runs} == {"burst", "warm_steady"}
    slo = html[html.index('id="slo-table"') :]
    assert "<td>peak</td>" not in slo


def test_a_hostile_reason_is_shown_as_text(report) -> None:
    _, _, html = report
    assert ATTACK not in html
    assert "nothing passed &lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in html


def test_without_a_search_the_headline_says_how_to_make_one(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)
    html = build.write_report(store, tmp_path, build.scope(store), now=NOW).index.read_text()
    assert "No peak-rate search of this profile in the store yet" in html
