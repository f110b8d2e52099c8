"""The Groq analyst through the real ``groq`` client against a local fake Groq server."""

from __future__ import annotations

import json
import logging
import socket

import pytest

from nlp_bench_pipeline.analysis.facts import FactSection, build_facts
from nlp_bench_pipeline.analysis.grounding import check_grounding
from nlp_bench_pipeline.analysis.llm import SYSTEM_PROMPT, analyse_with_groq
from tests.fixtures.fake_groq import COMPLETIONS_PATH, Reply, fake_groq

ARG_CANARY = "gsk_canary_argument_5b1e0c7d"
ENV_CANARY = "gsk_canary_environment_93af20"
FACTS = build_facts(
    [
        FactSection(
            "run_summary",
            [
                {"run_id": "s-local-lambda-burst", "target": "local-lambda", "scenario": "burst",
                 "requests": 600, "p50_ms": 41.3, "p99_ms": 13210.5, "cold_starts": 9,
                 "endpoint": "http://127.0.0.1:8080"},
                {"target": "local-k8s", "scenario": "burst", "requests": 600, "p50_ms": 35.0,
                 "p99_ms": 410.2, "cold_starts": 0},
            ],
        ),
        FactSection(
            "slowest_requests",
            [{"target": "local-lambda", "scenario": "burst", "requests": 10, "cold_starts": 9}],
        ),
    ]
)  # fmt: skip
GOOD = {
    "summary": "Kubernetes wins the burst; Lambda's tail is cold starts.",
    "findings": [
        {
            "title": "p99 on Lambda is cold starts",
            "detail": "9 of the 10 slowest requests waited on an init; p99 13.2 s against 410 ms",
            "evidence": ["slowest_requests: local-lambda burst cold_starts"],
        }
    ],
    "evidence": [{"fact": "run_summary: local-lambda burst p99_ms", "value": 13210.5}],
    "recommendations": [
        {
            "area": "provisioned_concurrency",
            "action": "Provision concurrency for the burst",
            "rationale": "cold starts are 90 % of the slowest requests",
            "evidence": [
                "slowest_requests: local-lambda burst cold_starts",
                "slowest_requests: local-lambda burst requests",
            ],
        }
    ],
}


@pytest.fixture(autouse=True)
def key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", ENV_CANARY)


def analyse(fake, models=("llama-3.3-70b-versatile", "llama-3.1-8b-instant")):
    return analyse_with_groq(
        FACTS, api_key=ARG_CANARY, models=models, base_url=fake.base_url, timeout_s=5
    )


def test_request_carries_the_facts_and_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with fake_groq(Reply.analysis(GOOD)) as fake:
        analysis = analyse(fake)
    (request,) = fake.requests
    assert request.path == COMPLETIONS_PATH
    assert request.headers["authorization"] == f"Bearer {ARG_CANARY}"  # where the key belongs
    body = request.body
    assert body["model"] == "llama-3.3-70b-versatile"
    assert body["response_format"] == {"type": "json_object"}
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][0]["content"] == SYSTEM_PROMPT
    assert body["messages"][1]["content"] == FACTS.to_prompt_json()
    facts = json.loads(body["messages"][1]["content"])
    tail = {
        "row": "slowest_requests: local-lambda burst",
        "values": {"requests": 10, "cold_starts": 9},
    }
    assert tail in facts["rows"]
    prompt = json.dumps(body)
    for secret in (ARG_CANARY, ENV_CANARY, "127.0.0.1:8080", "s-local-lambda-burst"):
        assert secret not in prompt
    for canary in (ARG_CANARY, ENV_CANARY):
        assert canary not in analysis.model_dump_json()
        assert canary not in caplog.text
    assert "HTTP Request: POST" in caplog.text  # the client's own logs were captured


def test_good_reply_lands_in_the_result() -> None:
    with fake_groq(Reply.analysis(GOOD)) as fake:
        analysis = analyse(fake)
    assert analysis.author == "groq:llama-3.3-70b-versatile"
    assert analysis.warnings == []
    assert analysis.model_dump(exclude={"author", "warnings"}) == GOOD


def test_good_reply_is_grounded_by_the_written_rules() -> None:
    with fake_groq(Reply.analysis(GOOD)) as fake:
        analysis = analyse(fake)
    report = check_grounding(analysis, FACTS)
    assert report.grounded, report.describe()


def test_grounding_catches_a_number_the_model_invented() -> None:
    invented = json.loads(json.dumps(GOOD))
    invented["findings"][0]["detail"] = "p99 on Lambda was 13.2 s; p999 reached 27.9 s"
    with fake_groq(Reply.analysis(invented)) as fake:
        analysis = analyse(fake)
    report = check_grounding(analysis, FACTS)
    assert [u.number for u in report.ungrounded] == ["27.9"]
    assert "p999 reached 27.9 s" in report.describe()


@pytest.mark.parametrize(
    "content",
    [
        "Here is my analysis: Lambda is slow.",
        json.dumps({"summary": "no sections"}),
        json.dumps({**GOOD, "findings": "not a list"}),
    ],
)
def test_malformed_reply_falls_back_to_offline_with_a_warning(content: str) -> None:
    with fake_groq(Reply.completion(content)) as fake:
        analysis = analyse(fake)
    assert analysis.author == "offline"
    (warning,) = analysis.warnings
    assert "llama-3.3-70b-versatile is not the JSON asked for" in warning
    assert "offline analyst" in warning
    assert any("is cold starts" in f.title for f in analysis.findings)
    assert len(fake.requests) == 1  # not retried on another model


def test_reply_without_a_choice_falls_back_to_offline() -> None:
    empty = Reply(200, {**Reply.completion("{}").body, "choices": []})
    with fake_groq(empty) as fake:
        analysis = analyse(fake)
    assert analysis.author == "offline"
    assert "not the JSON asked for" in analysis.warnings[0]


def test_server_error_falls_back_to_offline_without_retrying() -> None:
    with fake_groq(Reply.error(500, "internal_error", "boom")) as fake:
        analysis = analyse(fake)
    assert analysis.author == "offline"
    assert analysis.warnings == [
        "Groq answered HTTP 500, internal_error for llama-3.3-70b-versatile; "
        "the offline analyst wrote this analysis"
    ]
    assert len(fake.requests) == 1


def test_model_not_found_falls_back_to_the_next_model() -> None:
    first, second = "llama-9-gone", "llama-3.1-8b-instant"
    with fake_groq(Reply.model_not_found(first), Reply.analysis(GOOD, model=second)) as fake:
        analysis = analyse(fake, models=(first, second))
    assert [r.body["model"] for r in fake.requests] == [first, second]
    assert analysis.author == f"groq:{second}"
    assert analysis.warnings == [f"model {first} not found (HTTP 404, model_not_found)"]


def test_decommissioned_model_falls_back_to_the_next_model() -> None:
    gone = Reply.error(400, "model_decommissioned", "The model has been decommissioned")
    with fake_groq(gone, Reply.analysis(GOOD)) as fake:
        analysis = analyse(fake, models=("llama3-70b-8192", "llama-3.3-70b-versatile"))
    assert analysis.author == "groq:llama-3.3-70b-versatile"


def test_no_model_found_falls_back_to_offline() -> None:
    with fake_groq(Reply.model_not_found("a"), Reply.model_not_found("b")) as fake:
        analysis = analyse(fake, models=("a", "b"))
    assert analysis.author == "offline"
    assert analysis.warnings[-1] == (
        "none of the models was found; the offline analyst wrote this analysis"
    )
    assert len(analysis.warnings) == 3


def test_unreachable_groq_falls_back_to_offline() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    analysis = analyse_with_groq(
        FACTS, api_key=ARG_CANARY, base_url=f"http://127.0.0.1:{port}", timeout_s=2
    )
    assert analysis.author == "offline"
    assert "could not reach Groq" in analysis.warnings[0]
    assert "APIConnectionError" in analysis.warnings[0]


def test_an_empty_model_list_is_refused() -> None:
    with pytest.raises(ValueError, match="models is empty"):
        analyse_with_groq(FACTS, api_key=ARG_CANARY, models=())
