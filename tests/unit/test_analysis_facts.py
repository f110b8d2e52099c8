"""The facts document: named values, nothing sensitive, bounded in size."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import numpy as np
import pytest

from nlp_bench_pipeline.analysis.facts import FactSection, build_facts

SUMMARY = {
    "run_id": "9f2c-local-lambda-burst-quick-r0",
    "target": "local-lambda",
    "scenario": "burst",
    "profile": "quick",
    "requests": 600,
    "p99_ms": 13210.5,
    "error_rate": 0.0166667,
}


def test_each_value_is_named_by_its_row_and_field() -> None:
    doc = build_facts([FactSection("run_summary", [SUMMARY])])
    ids = {f.id: f.value for f in doc.facts()}
    assert ids["run_summary: local-lambda burst quick p99_ms"] == 13210.5
    assert ids["run_summary: local-lambda burst quick requests"] == 600
    assert doc.fact("run_summary: local-lambda burst quick error_rate").value == 0.0166667


def test_numeric_keys_are_named_and_are_facts() -> None:
    rows = [{"target": "aws-lambda", "memory_mb": 1769, "cost_per_million_usd": 4.1}]
    doc = build_facts([FactSection("memory_sweep", rows, keys=("target", "memory_mb"))])
    ids = {f.id: f.value for f in doc.facts()}
    assert ids["memory_sweep: aws-lambda memory_mb=1769 cost_per_million_usd"] == 4.1
    assert ids["memory_sweep: aws-lambda memory_mb=1769 memory_mb"] == 1769


def test_prompt_json_holds_rows_keys_and_notes() -> None:
    doc = build_facts([FactSection("run_summary", [SUMMARY])])
    prompt = json.loads(doc.to_prompt_json())
    assert prompt["keys"] == {"run_summary": ["target", "scenario", "profile"]}
    assert prompt["rows"] == [
        {
            "row": "run_summary: local-lambda burst quick",
            "values": {"requests": 600, "p99_ms": 13210.5, "error_rate": 0.0166667},
        }
    ]
    assert prompt["notes"] == [
        "run_summary: left out fields that are identifiers, look sensitive or are not figures: "
        "run_id"
    ]


SENSITIVE = {
    "endpoint": "https://abc123.execute-api.us-east-1.amazonaws.com",
    "api_key": "gsk_live_canary",
    "model_source": "/home/someone/models/distilbert",
    "host": {"generator": {"hostname": "build-7"}},
    "note": "served from ip-10-0-0-12.ec2.internal",
    "where": "10.0.0.12",
    "role": "arn:aws:iam::123456789012:role/nlp-bench",
    "owner": "ops@example.org",
    "label": "AKIAABCDEFGHIJKLMNOP",
    "opaque": "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5",
    "listener": "localhost:8080",
    "started_at": "2026-01-01T00:00:00Z",
    "environment_id": "env-3",
    "long": "x " * 40,
}


def test_sensitive_and_identifying_fields_are_dropped_and_named_in_a_note() -> None:
    doc = build_facts([FactSection("run_summary", [{**SUMMARY, **SENSITIVE}])])
    text = doc.to_prompt_json()
    for value in [*SENSITIVE.values(), SUMMARY["run_id"]]:
        rendered = value if isinstance(value, str) else json.dumps(value)
        assert rendered.strip() not in text
    assert not set(SENSITIVE) & set(doc.rows[0].values)
    (note,) = doc.notes
    for name in [*SENSITIVE, "run_id"]:
        assert name in note


def test_harmless_short_text_is_kept() -> None:
    row = {"target": "local-k8s", "status": "complete", "error": "HTTP 503", "why": "Timeout"}
    row["error_type"] = "Runtime.ExitError"
    doc = build_facts([FactSection("run_errors", [row])])
    assert doc.rows[0].values == {
        "status": "complete",
        "error": "HTTP 503",
        "why": "Timeout",
        "error_type": "Runtime.ExitError",
    }


def test_missing_optional_values_are_left_out_without_a_note() -> None:
    row = {**SUMMARY, "cold_start_p50_ms": None, "p999_ms": math.nan}
    del row["run_id"]
    doc = build_facts([FactSection("run_summary", [row])])
    assert "cold_start_p50_ms" not in doc.rows[0].values
    assert "p999_ms" not in doc.rows[0].values
    assert doc.notes == []


def test_unknown_extra_figures_are_kept() -> None:
    doc = build_facts([FactSection("run_summary", [{"target": "t", "novel_metric": 3.5}])])
    assert doc.rows[0].values == {"novel_metric": 3.5}


def test_decimal_and_numpy_numbers_are_numbers_to_six_significant_digits() -> None:
    row = {"target": "t", "a": Decimal("1.23456789"), "b": np.int64(7), "c": np.float64(2 / 3)}
    values = build_facts([FactSection("s", [row])]).rows[0].values
    assert values == {"a": 1.23457, "b": 7, "c": 0.666667}
    assert type(values["b"]) is int


def test_size_bound_truncates_with_a_note_and_keeps_every_section() -> None:
    summaries = [
        {"target": f"target-{i}", "scenario": "ramp", "p50_ms": 40.0 + i, "p99_ms": 400.0 + i}
        for i in range(300)
    ]
    costs = [{"target": f"target-{i}", "cost_per_million_usd": 1.0 + i} for i in range(3)]
    doc = build_facts(
        [FactSection("run_summary", summaries), FactSection("costs", costs)], max_bytes=4096
    )
    assert len(doc.to_prompt_json().encode()) <= 4096
    assert len(doc.section("costs")) == 3
    kept = len(doc.section("run_summary"))
    assert 10 < kept < 300
    assert f"run_summary: {300 - kept} of 300 rows left out (facts are bounded to 4096 bytes)" in (
        doc.notes
    )


def test_document_within_the_bound_is_whole() -> None:
    doc = build_facts([FactSection("run_summary", [SUMMARY])], max_bytes=8192)
    assert not any("left out" in n and "rows" in n for n in doc.notes)


def test_rows_sharing_a_label_are_refused() -> None:
    rows = [{**SUMMARY, "repetition": 0}, {**SUMMARY, "repetition": 1}]
    with pytest.raises(ValueError, match="run_summary: local-lambda burst quick"):
        build_facts([FactSection("run_summary", rows, keys=("target", "scenario", "profile"))])


def test_repetitions_are_told_apart_by_the_default_keys() -> None:
    rows = [{**SUMMARY, "repetition": 0}, {**SUMMARY, "repetition": 1}]
    labels = [r.label for r in build_facts([FactSection("run_summary", rows)]).rows]
    assert labels == [
        "run_summary: local-lambda burst quick repetition=0",
        "run_summary: local-lambda burst quick repetition=1",
    ]


def test_a_row_whose_key_looks_sensitive_is_left_out() -> None:
    rows = [SUMMARY, {**SUMMARY, "target": "https://abc.lambda-url.us-east-1.on.aws"}]
    doc = build_facts([FactSection("run_summary", rows)])
    assert [r.subject["target"] for r in doc.rows] == ["local-lambda"]
    assert "lambda-url" not in doc.to_prompt_json()
