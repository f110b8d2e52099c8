"""The grounding check: numbers in an analysis against the facts, by the written rules."""

from __future__ import annotations

import pytest

from nlp_bench_pipeline.analysis.facts import FactSection, build_facts
from nlp_bench_pipeline.analysis.grounding import check_grounding
from nlp_bench_pipeline.analysis.sections import AnalysisSections, Evidence, Finding

FACTS = build_facts(
    [
        FactSection(
            "run_summary",
            [
                {
                    "target": "local-lambda", "scenario": "burst", "requests": 1200,
                    "errors": 20, "error_rate": 0.0166667, "p50_ms": 41.3, "p99_ms": 13210.5,
                },
                {
                    "target": "local-k8s", "scenario": "burst", "requests": 1200, "errors": 0,
                    "error_rate": 0.0, "p50_ms": 35.0, "p99_ms": 410.2,
                },
            ],
        ),
        FactSection(
            "slowest_requests",
            [{"target": "local-lambda", "scenario": "burst", "requests": 10, "cold_starts": 9}],
        ),
        FactSection("run_errors", [{"target": "local-lambda", "error": "HTTP 503", "n": 20}]),
    ]
)  # fmt: skip
LAMBDA = "run_summary: local-lambda burst"
K8S = "run_summary: local-k8s burst"
LAMBDA_P99 = f"{LAMBDA} p99_ms"
P99S = [LAMBDA_P99, f"{K8S} p99_ms"]
TAIL = [f"slowest_requests: local-lambda burst {field}" for field in ("cold_starts", "requests")]


def saying(
    text: str, evidence: list[Evidence] | None = None, cites: list[str] | None = None
) -> AnalysisSections:
    finding = Finding(title="t", detail=text, evidence=cites or [])
    return AnalysisSections(
        summary="s", findings=[finding], evidence=evidence or [], recommendations=[]
    )


def ungrounded(text: str, cites: list[str] | None = None) -> list[str]:
    return [u.number for u in check_grounding(saying(text, cites=cites), FACTS).ungrounded]


@pytest.mark.parametrize(
    "text",
    [
        "p99 was 13210.5 ms",
        "p99 was 13,210 ms",  # rounded to whole units, thousands separator
        "p99 was 13,211 ms",
        "p50 was 41 ms against 35.0 ms",
        "1200 requests, 20 errors",
    ],
)
def test_facts_as_printed_are_grounded(text: str) -> None:
    assert ungrounded(text) == []


def test_an_invented_number_is_caught_with_its_context() -> None:
    report = check_grounding(saying("p99 on Lambda was 13,210 ms, p999 was 20,345 ms"), FACTS)
    assert not report.grounded
    (bad,) = report.ungrounded
    assert bad.number == "20,345"
    assert bad.location == "findings[0].detail"
    assert "p999 was 20,345 ms" in bad.context
    assert "20,345" in report.describe()


def test_rounding_coarser_than_printed_precision_is_not_grounded() -> None:
    assert ungrounded("p99 was about 13,000 ms") == ["13,000"]
    assert ungrounded("p50 was 41.4 ms") == ["41.4"]


def test_a_fraction_as_a_percentage_needs_the_percent_sign() -> None:
    assert ungrounded("the error rate was 1.7 %") == []
    assert ungrounded("the error rate was 1.7%") == []
    assert ungrounded("the error rate was 1.7") == ["1.7"]


def test_milliseconds_in_seconds_need_the_unit() -> None:
    assert ungrounded("p99 was 13.2 s") == []
    assert ungrounded("p99 was 13.21 seconds") == []
    assert ungrounded("p99 was 13.2 ms") == ["13.2"]


def test_ratio_of_one_field_across_rows_is_grounded_with_a_times_sign() -> None:
    assert ungrounded("Lambda's p99 is 32.2× Kubernetes'", cites=P99S) == []
    assert ungrounded("Lambda's p99 is 32.2 times Kubernetes'", cites=P99S) == []
    assert ungrounded("Lambda's p99 is 32.2 Kubernetes'", cites=P99S) == ["32.2"]


def test_derived_figure_needs_its_facts_cited_or_printed() -> None:
    assert ungrounded("Lambda's p99 is 32.2× Kubernetes'") == ["32.2"]
    assert ungrounded("Lambda's p99 is 32.2× Kubernetes'", cites=[LAMBDA_P99]) == ["32.2"]
    assert ungrounded("13,210 ms is 32.2× 410 ms") == []  # both printed


def test_summary_may_derive_from_any_fact_the_analysis_cites() -> None:
    analysis = AnalysisSections(
        summary="Lambda's p99 is 32.2× Kubernetes'",
        findings=[Finding(title="t", detail="d", evidence=P99S)],
        evidence=[],
        recommendations=[],
    )
    assert check_grounding(analysis, FACTS).grounded


def test_ratio_of_two_fields_of_one_row_in_one_unit_is_grounded() -> None:
    assert ungrounded("p99 is 319.9× p50 on Lambda", cites=[LAMBDA_P99, f"{LAMBDA} p50_ms"]) == []


def test_ratio_of_fields_in_different_units_is_not_derived() -> None:
    # p99_ms / requests = 11.0; not comparable
    cites = [LAMBDA_P99, f"{LAMBDA} requests"]
    assert ungrounded("a ratio of 11.0× between p99 and requests", cites=cites) == ["11.0"]


def test_difference_of_comparable_facts_is_grounded() -> None:
    assert ungrounded("Lambda's p99 is 12,800 ms higher", cites=P99S) == []
    assert ungrounded("Lambda's p99 is 12.8 s higher", cites=P99S) == []
    p50s = [f"{LAMBDA} p50_ms", f"{K8S} p50_ms"]
    assert ungrounded("Lambda's p50 is 6.3 ms higher", cites=p50s) == []


def test_percentages_of_a_pair_are_grounded_with_the_percent_sign() -> None:
    assert ungrounded("90 % of the slowest requests were cold", cites=TAIL) == []  # 9 / 10
    p50s = [f"{LAMBDA} p50_ms", f"{K8S} p50_ms"]
    assert ungrounded("Lambda's p50 is 18 % higher", cites=p50s) == []  # (41.3 - 35) / 35
    assert ungrounded("Lambda's p50 is 18 higher", cites=p50s) == ["18"]


def test_n_of_m_needs_both_to_be_facts() -> None:
    assert ungrounded("9 of the 10 slowest requests waited on an init") == []
    assert ungrounded("9 of the 12 slowest requests waited on an init") == ["12"]


def test_numbers_in_text_facts_are_grounded() -> None:
    assert ungrounded("the errors were 503s") == []


@pytest.mark.parametrize(
    "text", ["p99 and p999", "k8s beats x86", "Llama-3 says", "the 5xx answers", "run r0"]
)
def test_digits_that_are_part_of_names_are_not_checked(text: str) -> None:
    report = check_grounding(saying(text), FACTS)
    assert (report.numbers_checked, report.ungrounded) == (0, [])


def test_every_text_section_is_checked() -> None:
    analysis = AnalysisSections.model_validate(
        {
            "summary": "summary 111",
            "findings": [{"title": "title 222", "detail": "detail 333"}],
            "evidence": [],
            "recommendations": [
                {"area": "memory_size", "action": "action 444", "rationale": "why 555"}
            ],
        }
    )
    report = check_grounding(analysis, FACTS)
    assert [(u.location, u.number) for u in report.ungrounded] == [
        ("summary", "111"),
        ("findings[0].title", "222"),
        ("findings[0].detail", "333"),
        ("recommendations[0].action", "444"),
        ("recommendations[0].rationale", "555"),
    ]


def test_evidence_must_cite_a_fact_with_its_value() -> None:
    analysis = saying(
        "x",
        evidence=[
            Evidence(fact=LAMBDA_P99, value=13210.5),
            Evidence(fact=LAMBDA_P99, value=13210),
            Evidence(fact=LAMBDA_P99, value=9999),
            Evidence(fact="run_summary: nowhere p99_ms", value=1),
        ],
    )
    report = check_grounding(analysis, FACTS)
    assert [(u.location, u.problem.split(" ")[0]) for u in report.evidence_problems] == [
        ("evidence[2]", "value"),
        ("evidence[3]", "no"),
    ]
    assert not report.grounded


def test_finding_evidence_must_cite_existing_facts() -> None:
    analysis = AnalysisSections(
        summary="s",
        findings=[Finding(title="t", detail="d", evidence=[LAMBDA_P99, "made: up"])],
        evidence=[],
        recommendations=[],
    )
    problems = check_grounding(analysis, FACTS).evidence_problems
    assert [(p.fact, p.location) for p in problems] == [("made: up", "findings[0].evidence")]


def test_a_percent_sign_needs_a_percentage_or_a_fraction() -> None:
    assert ungrounded("p50 was 41.3 %") == ["41.3"]  # a duration is no percentage
    cpu = build_facts([FactSection("platform", [{"target": "k8s-a", "peak_cpu_pct": 97.2}])])
    assert check_grounding(saying("peak CPU 97 %"), cpu).grounded


def test_a_times_sign_on_a_single_fact_needs_a_count() -> None:
    assert ungrounded("p50 was 41.3×") == ["41.3"]
    assert ungrounded("9× more cold starts") == []  # a count


def test_seconds_need_a_duration() -> None:
    assert ungrounded("there were 20 s of errors") == ["20"]  # errors is a count
