"""The analysis' facts from the store, the offline fallback, and the grounding of its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.analysis import check_grounding
from nlp_bench_pipeline.report.build import scope
from nlp_bench_pipeline.report.sre import (
    NO_KEY,
    analyse,
    fact_sections,
    read_analysis,
    write_analysis,
)
from tests.unit.test_report_rows import COLD, add_economics, build_report_store


@pytest.fixture(scope="module")
def sections(tmp_path_factory: pytest.TempPathFactory):
    store = build_report_store(tmp_path_factory.mktemp("sre"))
    add_economics(store)
    return fact_sections(store, scope(store).runs)


def test_the_facts_are_aggregates_per_run_with_no_identifier_or_path(sections) -> None:
    names = [s.name for s in sections]
    assert names == ["run_summary", "slowest_requests", "platform_metrics", "costs", "breakeven"]
    summary = {(r["target"], r["scenario"]): r for r in sections[0].rows}
    burst = summary[("local-lambda", "burst")]
    assert burst["p99_is_failure"] is True
    assert "machine_limited_share" in burst  # host_limited_share, renamed past the filter
    for section in sections:
        for row in section.rows:
            assert not {"run_id", "host", "config", "model_digest", "image_digest"} & set(row)
    tail = {(r["target"], r["scenario"]): r for r in sections[1].rows}
    assert tail[("local-lambda", "burst")]["cold_starts"] == len(COLD)


def test_without_a_key_the_offline_analyst_writes_it_and_says_why(sections) -> None:
    result = analyse(sections, api_key=None)
    assert result.analysis.author == "offline"
    assert result.why_offline == NO_KEY
    assert not result.by_model
    assert result.grounding.grounded, result.grounding.describe()
    assert "local-lambda failed requests" in [f.title for f in result.analysis.findings]


def test_the_facts_keep_their_bound(sections) -> None:
    result = analyse(sections, api_key=None, max_fact_bytes=1500)
    assert len(result.facts.to_prompt_json().encode()) <= 1500
    assert any("left out" in note for note in result.facts.notes)


def test_an_invented_number_is_caught_by_the_grounding_check(sections) -> None:
    result = analyse(sections, api_key=None)
    invented = result.analysis.model_copy(
        update={"summary": "Lambda's p99 was 4321 ms during the burst."}
    )
    grounding = check_grounding(invented, result.facts)
    assert not grounding.grounded
    assert [u.number for u in grounding.ungrounded] == ["4321"]


def test_the_analysis_round_trips_through_its_file(sections, tmp_path: Path) -> None:
    result = analyse(sections, api_key=None)
    write_analysis(result, tmp_path)
    assert read_analysis(tmp_path) == result
