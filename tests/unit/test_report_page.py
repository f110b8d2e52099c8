"""The HTML report: self-contained, the verdict first, and every embedded text escaped."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from nlp_bench_pipeline.analysis.sections import Finding
from nlp_bench_pipeline.report import build
from nlp_bench_pipeline.report.render import EMBED_SCRIPT, script_json, vega_bundle
from nlp_bench_pipeline.report.sre import analyse, fact_sections, write_analysis
from tests.unit.test_report_rows import add_economics, build_report_store

ATTACK = "</script><img src=x onerror=alert(1)>"
ESCAPED = "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
NOW = dt.datetime(2026, 12, 2, 9, 30, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    folder = tmp_path_factory.mktemp("page")
    store = build_report_store(folder, config_note=ATTACK)
    add_economics(store)
    covered = build.scope(store)
    build.write_charts_for(store, folder, covered)
    result = analyse(fact_sections(store, covered.runs), api_key=None)
    hostile = result.analysis.model_copy(
        update={
            "summary": f"Summary {ATTACK}",
            "findings": [Finding(title=ATTACK, detail=f"detail {ATTACK}", evidence=[ATTACK])],
        }
    )
    write_analysis(result.model_copy(update={"analysis": hostile}), folder)
    files = build.write_report(store, folder, covered, now=NOW)
    return folder, files.index.read_text()


def test_nothing_is_fetched_when_the_report_is_opened(report) -> None:
    _, html = report
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", html)
    assert "@import" not in html
    assert "Content-Security-Policy" in html
    assert "default-src 'none'" in html


def test_the_vega_bundle_is_inlined_once_with_one_spec_per_chart(report) -> None:
    folder, html = report
    assert html.count(vega_bundle()[:400]) == 1
    assert html.count(EMBED_SCRIPT) == 1
    specs = html.count('<script type="application/json"')
    holders = html.count('class="chart" data-chart="spec-')
    assert specs == holders == len(list((folder / "charts").glob("*.vl.json")))


def test_the_verdict_table_comes_first_and_says_who_met_the_slo(report) -> None:
    _, html = report
    assert html.index('id="verdict"') < html.index('id="charts"') < html.index('id="slo"')
    assert "<strong>burst</strong>: local-k8s met the SLO" in html
    assert "<strong>warm_steady</strong>: local-k8s, local-lambda met the SLO" in html
    burst_lambda = re.search(r"<tr><td>burst</td><td>local-lambda</td>.*?</tr>", html)
    assert burst_lambda is not None
    assert "missed" in burst_lambda.group(0)
    assert "failed</span> (3.3% failed)" in burst_lambda.group(0)
    assert "$4.00" in burst_lambda.group(0)  # the chosen Lambda estimate


def test_slo_results_are_mlperf_style_with_their_reasons(report) -> None:
    _, html = report
    slo = html[html.index('id="slo-table"') :]
    assert slo.count(">INVALID<") == 4  # quick runs: too short, and the burst missed its bound
    assert "p99 lands on a failed or dropped request (3.3% failed)" in slo
    assert "under the 60 s minimum" in slo


def test_a_hostile_config_value_and_analysis_appear_escaped(report) -> None:
    _, html = report
    assert ATTACK not in html
    assert "<img src=x" not in html
    assert html.count(ESCAPED) >= 4  # config, host notes, summary, finding title and detail


def test_json_inside_a_script_cannot_close_it() -> None:
    text = script_json({"label": ATTACK, "line": "\u2028"})
    assert "</script" not in text
    assert "<" not in text
    assert "\u2028" not in text


def test_provenance_and_host_notes_are_in_the_report(report) -> None:
    _, html = report
    assert "sha256:abc" in html
    assert "sha256:def" in html
    assert "0123456789abcdef" in html
    assert "4 here; AWS&#x27;s account default is 1,000" in html
    assert "host-limited share of requests" in html


def test_a_run_on_a_busy_host_is_marked_where_its_host_notes_are(report) -> None:
    _, html = report
    host = html[html.index('id="host"') :]
    assert "host load: 2% of the host&#x27;s CPU went to other processes" in host
    assert "30% of the host&#x27;s CPU went to other processes" in host
    assert "busiest: pytest 7.0 s" in host
    assert host.count("over the 10% bound (quiet_host)") == 2  # the two local-k8s runs


def test_the_dated_copy_is_named_for_the_newest_run_and_equals_the_index(report) -> None:
    folder, html = report
    (dated,) = (folder / "history").iterdir()
    assert re.fullmatch(r"report-\d{8}T\d{6}Z-quick\.html", dated.name)
    assert dated.read_text() == html


def test_a_report_without_charts_or_analysis_says_so(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)
    files = build.write_report(store, tmp_path / "out", build.scope(store), now=NOW)
    html = files.index.read_text()
    assert "the comparison_charts asset has not run" in html
    assert "the <code>sre_analysis</code> asset has not run" in html
    assert vega_bundle()[:400] not in html
