"""The offline analyst: which rule says what, and that it only states grounded numbers."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from nlp_bench_pipeline.analysis.facts import FactSection, build_facts
from nlp_bench_pipeline.analysis.grounding import check_grounding
from nlp_bench_pipeline.analysis.offline import AUTHOR, analyse_offline

BURST = {"scenario": "burst", "profile": "quick"}
LAMBDA_SUMMARY = {
    "target": "local-lambda", **BURST, "requests": 600, "errors": 10, "dropped": 0,
    "error_rate": 10 / 600, "throughput_rps": 19.7, "p50_ms": 41.3, "p99_ms": 13210.5,
    "p99_corrected_ms": 13400.7, "cold_starts": 9, "cold_start_p50_ms": 12850.0,
}  # fmt: skip
K8S_SUMMARY = {
    "target": "local-k8s", **BURST, "requests": 600, "errors": 0, "dropped": 12,
    "error_rate": 0.0, "throughput_rps": 18.2, "p50_ms": 35.0, "p99_ms": 410.2,
    "p99_corrected_ms": 455.0, "cold_starts": 0,
}  # fmt: skip
LAMBDA_PLATFORM = {
    "target": "local-lambda", **BURST, "cold_starts": 9, "init_p50_ms": 4210.0,
    "init_max_ms": 9120.0, "throttles": 3, "gateway_timeouts": 1, "crashes": 0,
}  # fmt: skip
K8S_PLATFORM = {
    "target": "local-k8s", **BURST, "scale_outs": 2, "pod_ready_p50_ms": 8200.0,
    "nodes_added": 1, "peak_cpu_pct": 97.2,
}  # fmt: skip
TAIL = {"target": "local-lambda", **BURST, "requests": 10, "cold_starts": 9}
COSTS = [
    {"target": "aws-lambda", "cost_per_million_usd": 3.41, "break_even_rps": 12.5},
    {"target": "aws-eks", "cost_per_million_usd": 0.83},
]


def facts(**sections):
    return build_facts([FactSection(name, rows) for name, rows in sections.items()])


FULL = facts(
    run_summary=[LAMBDA_SUMMARY, K8S_SUMMARY],
    platform_metrics=[LAMBDA_PLATFORM, K8S_PLATFORM],
    slowest_requests=[TAIL],
    costs=COSTS,
)


def finding(analysis, start: str):
    return next(f for f in analysis.findings if f.title.startswith(start))


def recommendation(analysis, area: str):
    return next(r for r in analysis.recommendations if r.area == area)


def test_cold_starts_in_the_tail_are_named_with_n_of_m() -> None:
    tail = finding(analyse_offline(FULL), "p99 on local-lambda")
    assert tail.title == "p99 on local-lambda is cold starts"
    assert tail.detail.startswith("burst (quick): 9 of the 10 slowest requests waited on an init")
    assert "slowest_requests: local-lambda burst quick cold_starts" in tail.evidence


def test_cold_starts_in_the_tail_call_for_provisioned_concurrency_on_lambda() -> None:
    recommended = recommendation(analyse_offline(FULL), "provisioned_concurrency")
    assert "local-lambda" in recommended.action
    assert "9 of the 10 slowest" in recommended.rationale


def test_a_tail_of_warm_requests_is_not_blamed_on_cold_starts() -> None:
    warm_tail = facts(run_summary=[LAMBDA_SUMMARY], slowest_requests=[{**TAIL, "cold_starts": 2}])
    titles = [f.title for f in analyse_offline(warm_tail).findings]
    assert not any("is cold starts" in t for t in titles)


def test_without_tail_rows_cold_starts_above_p99_are_named() -> None:
    summary = {**LAMBDA_SUMMARY, "cold_start_p50_ms": 14000.0}
    cold = finding(analyse_offline(facts(run_summary=[summary])), "Cold starts set p99")
    assert "14,000 ms" in cold.detail
    assert "13,210 ms" in cold.detail


def test_lowest_p99_per_scenario_is_the_first_finding() -> None:
    verdict = analyse_offline(FULL).findings[0]
    assert verdict.title == "burst (quick): local-k8s has the lowest p99"
    assert verdict.detail == (
        "p99 by scenario, lowest first: burst (quick): local-k8s 410 ms, local-lambda 13,210 ms "
        "(32.2×)"
    )


def test_one_verdict_covers_every_scenario() -> None:
    rows = [
        {**LAMBDA_SUMMARY, "scenario": "ramp", "p99_ms": 900.0},
        {**K8S_SUMMARY, "scenario": "ramp", "p99_ms": 300.0},
        LAMBDA_SUMMARY,
        K8S_SUMMARY,
    ]
    verdict = analyse_offline(facts(run_summary=rows)).findings[0]
    assert verdict.title == "local-k8s has the lowest p99 in every scenario compared"
    assert "ramp (quick): local-k8s 300 ms, local-lambda 900 ms (3.0×)" in verdict.detail
    assert "burst (quick): local-k8s 410 ms" in verdict.detail


def test_failed_requests_name_the_platform_faults() -> None:
    failed = finding(analyse_offline(FULL), "local-lambda failed requests")
    assert failed.detail == (
        "burst (quick): 10 of 600 requests failed (1.7 %); the platform saw 3 throttles, "
        "1 gateway timeout"
    )


def test_a_small_error_rate_is_not_printed_as_zero() -> None:
    row = {**LAMBDA_SUMMARY, "errors": 1, "requests": 6000, "error_rate": 1 / 6000}
    failed = finding(analyse_offline(facts(run_summary=[row])), "local-lambda failed requests")
    assert "1 of 6,000 requests failed (0.017 %)" in failed.detail


def test_throttles_call_for_more_concurrency_on_lambda() -> None:
    assert "3 throttles" in recommendation(analyse_offline(FULL), "concurrency").rationale


def test_one_finding_per_target_covers_its_scenarios() -> None:
    ramp = {**TAIL, "scenario": "ramp", "cold_starts": 7}
    tails = facts(slowest_requests=[TAIL, ramp])
    (tail,) = analyse_offline(tails).findings
    assert tail.detail == (
        "burst (quick): 9 of the 10 slowest requests waited on an init; "
        "ramp (quick): 7 of the 10 slowest requests waited on an init"
    )


def test_slow_inits_call_for_a_larger_memory_size() -> None:
    memory = recommendation(analyse_offline(FULL), "memory_size")
    assert "init p50 4,210 ms, max 9,120 ms" in memory.rationale


def test_fast_inits_do_not() -> None:
    fast = facts(platform_metrics=[{**LAMBDA_PLATFORM, "init_p50_ms": 300.0}])
    assert "memory_size" not in [r.area for r in analyse_offline(fast).recommendations]


def test_queueing_while_scaling_out_calls_for_a_lower_hpa_target() -> None:
    analysis = analyse_offline(FULL)
    assert "11.7× p50" in finding(analysis, "local-k8s queues").detail
    assert "8,200 ms" in recommendation(analysis, "hpa_target").rationale


def test_added_nodes_call_for_another_node_type() -> None:
    node = recommendation(analyse_offline(FULL), "node_type")
    assert node.rationale == "burst (quick): 1 node added, peak CPU 97 % of a core"


def test_dropped_requests_call_for_batching() -> None:
    analysis = analyse_offline(FULL)
    dropped = finding(analysis, "local-k8s could not keep up").detail
    assert dropped.startswith("burst (quick): 12 of 600 requests were never sent")
    assert "local-k8s" in recommendation(analysis, "batch_size").action


def test_cheapest_target_is_named() -> None:
    cost = finding(analyse_offline(FULL), "Cost: aws-eks costs least")
    assert cost.detail == (
        "per million requests: aws-eks $0.83, aws-lambda $3.41; aws-lambda breaks even at "
        "12.5 requests/s"
    )


def test_evidence_lists_every_cited_fact_with_its_value() -> None:
    analysis = analyse_offline(FULL)
    cited = {i for f in analysis.findings for i in f.evidence}
    cited |= {i for r in analysis.recommendations for i in r.evidence}
    assert {e.fact for e in analysis.evidence} == cited
    values = {f.id: f.value for f in FULL.facts()}
    assert all(e.value == values[e.fact] for e in analysis.evidence)


def test_author_and_warnings_say_who_wrote_it() -> None:
    analysis = analyse_offline(FULL, warnings=["the model was away"])
    assert (analysis.author, analysis.warnings) == (AUTHOR, ["the model was away"])
    assert AUTHOR == "offline"


def test_no_facts_says_nothing_stands_out() -> None:
    analysis = analyse_offline(facts())
    assert [f.title for f in analysis.findings] == ["Nothing stands out"]
    assert analysis.summary == "Nothing stands out."
    assert analysis.recommendations == []


def test_offline_analysis_passes_its_own_grounding_check() -> None:
    report = check_grounding(analyse_offline(FULL), FULL)
    assert report.grounded, report.describe()
    assert report.numbers_checked > 30


def full_matrix():
    """Four targets × five scenarios, every rule firing somewhere."""
    targets = ("local-lambda", "local-k8s", "aws-lambda", "aws-eks")
    scenarios = ("warm_steady", "ramp", "burst", "cold_start", "soak")
    summaries, platforms, tails = [], [], []
    for i, (target, scenario) in enumerate((t, s) for t in targets for s in scenarios):
        key = {"target": target, "scenario": scenario, "profile": "quick"}
        lam = "lambda" in target
        summaries.append(
            {**key, "requests": 6000 + i, "errors": i % 4, "error_rate": (i % 4) / 6000,
             "dropped": i % 3, "throughput_rps": 20.0 + i, "p50_ms": 40.0 + i,
             "p99_ms": (9000.0 if lam else 400.0) + 7 * i, "p99_corrected_ms": 9500.0 + i,
             "cold_starts": 9 if lam else 0, "cold_start_p50_ms": 12000.0 + i}
        )  # fmt: skip
        platforms.append(
            {**key, "init_p50_ms": 4000.0 + i, "init_max_ms": 9000.0 + i, "throttles": i % 2,
             "gateway_timeouts": i % 3, "scale_outs": 0 if lam else 2,
             "pod_ready_p50_ms": 8000.0 + i, "nodes_added": i % 2, "peak_cpu_pct": 90.0 + i / 10}
        )  # fmt: skip
        tails.append({**key, "requests": 10, "cold_starts": 9 if lam else 0})
    return facts(
        run_summary=summaries, platform_metrics=platforms, slowest_requests=tails, costs=COSTS
    )


def test_a_full_matrix_gives_a_bounded_grounded_analysis() -> None:
    document = full_matrix()
    analysis = analyse_offline(document)
    assert len(analysis.findings) == 8
    assert len(analysis.recommendations) == 8
    assert len(analysis.evidence) <= 60
    assert analysis.findings[0].title == "local-k8s has the lowest p99 in every scenario compared"
    titles = [f.title for f in analysis.findings[1:4]]
    assert titles == [
        "p99 on local-lambda is cold starts",
        "p99 on aws-lambda is cold starts",
        "Cold starts set p99 on aws-lambda",  # its tail row was left out by the size bound
    ]
    assert len(document.section("slowest_requests")) < 20
    report = check_grounding(analysis, document)
    assert report.grounded, report.describe()


durations = st.floats(min_value=0.5, max_value=60_000, allow_nan=False)
counts = st.integers(min_value=0, max_value=5000)


@settings(max_examples=60, deadline=None)
@given(
    p50=durations, p99=durations, cold_p50=durations, init=durations, k8s_p99=durations,
    errors=counts, dropped=counts, cold=counts, throttles=counts, scale_outs=counts,
    tail_cold=st.integers(min_value=0, max_value=10),
)  # fmt: skip
def test_offline_analysis_is_grounded_for_any_figures(
    p50, p99, cold_p50, init, k8s_p99, errors, dropped, cold, throttles, scale_outs, tail_cold
) -> None:
    requests = 6000
    document = facts(
        run_summary=[
            {**LAMBDA_SUMMARY, "p50_ms": p50, "p99_ms": p99, "cold_start_p50_ms": cold_p50,
             "errors": errors, "error_rate": errors / requests, "requests": requests,
             "cold_starts": cold},
            {**K8S_SUMMARY, "p50_ms": p50, "p99_ms": k8s_p99, "dropped": dropped,
             "requests": requests},
        ],
        platform_metrics=[
            {**LAMBDA_PLATFORM, "init_p50_ms": init, "throttles": throttles},
            {**K8S_PLATFORM, "scale_outs": scale_outs},
        ],
        slowest_requests=[{**TAIL, "cold_starts": tail_cold}],
        costs=COSTS,
    )  # fmt: skip
    report = check_grounding(analyse_offline(document), document)
    assert report.grounded, report.describe()
