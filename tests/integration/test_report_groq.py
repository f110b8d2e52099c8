"""The report stage's assets with the Groq analyst against a local fake Groq server.

The real ``groq`` client posts to the fake (``tests/fixtures/fake_groq.py``); the key comes from
the environment through ``dg.EnvVar`` as in production, and is a canary that must appear in no
prompt, log line, metadata entry or report file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from nlp_bench_pipeline.defs.report.assets import benchmark_report, comparison_charts, sre_analysis
from nlp_bench_pipeline.defs.report.checks import analysis_numbers_grounded
from nlp_bench_pipeline.defs.report.resources import GroqResource
from nlp_bench_pipeline.defs.resources import MetricStoreResource, ReportResource
from tests.fixtures.fake_groq import COMPLETIONS_PATH, Reply, fake_groq
from tests.unit.test_report_rows import build_report_store

CANARY = "gsk_canary_in_the_environment_7f3a91c2"
ATTACK = "</script><img src=x onerror=alert(1)>"
MODEL = "llama-3.3-70b-versatile"
ROW = "run_summary: local-lambda burst quick"
GROUNDED = {
    "summary": "local-lambda failed 4 of 120 requests in the burst.",
    "findings": [
        {
            "title": "Throttles fail the Lambda burst",
            "detail": "4 of 120 requests failed (3.3 %)",
            "evidence": [f"{ROW} errors", f"{ROW} requests", f"{ROW} error_rate"],
        }
    ],
    "evidence": [{"fact": f"{ROW} errors", "value": 4}],
    "recommendations": [
        {
            "area": "concurrency",
            "action": "Raise the concurrency limit",
            "rationale": "4 requests were throttled",
            "evidence": [f"{ROW} errors"],
        }
    ],
}


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("groq-store")
    return build_report_store(folder, config_note=ATTACK).path


@pytest.fixture(autouse=True)
def canary_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", CANARY)


def materialise(assets: list, store_path: Path, report_dir: Path, base_url: str):
    resources = {
        "duckdb": MetricStoreResource(database=str(store_path)),
        "report": ReportResource(report_dir=str(report_dir)),
        "groq": GroqResource(api_key=dg.EnvVar("GROQ_API_KEY"), models=[MODEL], base_url=base_url),
    }
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(assets, resources=resources, instance=instance, raise_on_error=False)
    return result, instance


def metadata_of(result, asset: str) -> dict[str, Any]:
    (materialisation,) = result.asset_materializations_for_node(asset)
    return {key: entry.value for key, entry in materialisation.metadata.items()}


def test_the_request_carries_the_facts_and_the_reply_lands_in_the_asset(
    store_path: Path, tmp_path: Path
) -> None:
    with fake_groq(Reply.analysis(GROUNDED)) as fake:
        result, _ = materialise(
            [sre_analysis, analysis_numbers_grounded], store_path, tmp_path, fake.base_url
        )
    assert result.success
    (request,) = fake.requests
    assert request.path == COMPLETIONS_PATH
    assert request.headers["authorization"] == f"Bearer {CANARY}"  # the one place it belongs
    facts = json.loads(request.body["messages"][1]["content"])
    rows = {row["row"]: row["values"] for row in facts["rows"]}
    assert rows[ROW]["errors"] == 4
    assert rows[ROW]["requests"] == 120
    assert rows["slowest_requests: local-lambda burst quick"]["cold_starts"] == 3
    metadata = metadata_of(result, "sre_analysis")
    assert metadata["author"] == f"groq:{MODEL}"
    assert metadata["summary"] == GROUNDED["summary"]
    assert metadata["written_by"] == f"the Groq model {MODEL}"
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.description


def test_the_canary_key_is_in_no_prompt_log_metadata_or_report_file(
    store_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with fake_groq(Reply.analysis(GROUNDED)) as fake:
        result, instance = materialise(
            [comparison_charts, sre_analysis, benchmark_report, analysis_numbers_grounded],
            store_path,
            tmp_path,
            fake.base_url,
        )
    assert result.success
    prompt = json.dumps([r.body for r in fake.requests])
    assert CANARY not in prompt
    assert CANARY not in caplog.text
    events = instance.all_logs(result.run_id)
    assert events
    assert not [e for e in events if CANARY in repr(e)]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY.encode() not in path.read_bytes(), path


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (Reply.completion("this is not JSON"), "is not the JSON asked for"),
        (
            Reply.error(500, "internal_server_error", "the model fell over"),
            "Groq answered HTTP 500",
        ),
    ],
    ids=["malformed", "failed"],
)
def test_a_malformed_or_failed_reply_falls_back_to_the_offline_analyst_with_a_warning(
    store_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, reply: Reply, why: str
) -> None:
    with fake_groq(reply) as fake:
        result, _ = materialise([sre_analysis], store_path, tmp_path, fake.base_url)
    assert len(fake.requests) == 1  # no retries
    metadata = metadata_of(result, "sre_analysis")
    assert metadata["author"] == "offline"
    assert any(why in warning for warning in metadata["warnings"])
    assert why in caplog.text
    assert metadata["written_by"].startswith("the offline analyst (")


def test_the_grounding_check_fails_on_an_invented_number(store_path: Path, tmp_path: Path) -> None:
    invented = {**GROUNDED, "summary": "Lambda's p99 was 4321 ms in the burst."}
    with fake_groq(Reply.analysis(invented)) as fake:
        result, _ = materialise(
            [sre_analysis, analysis_numbers_grounded], store_path, tmp_path, fake.base_url
        )
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert "ungrounded number 4321 in summary" in check.description


def test_a_hostile_reply_and_config_value_appear_escaped_in_the_report(
    store_path: Path, tmp_path: Path
) -> None:
    hostile = {**GROUNDED, "summary": f"Read this {ATTACK}"}
    hostile["findings"] = [{**GROUNDED["findings"][0], "title": ATTACK}]
    with fake_groq(Reply.analysis(hostile)) as fake:
        result, _ = materialise(
            [sre_analysis, benchmark_report], store_path, tmp_path, fake.base_url
        )
    assert result.success
    html = (tmp_path / "index.html").read_text()
    assert ATTACK not in html
    assert "<img src=x" not in html
    escaped = "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    assert f"Read this {escaped}" in html  # the reply
    assert f'"note": "{escaped}"' in html.replace("&quot;", '"')  # the config value
