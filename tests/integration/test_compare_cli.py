"""``nlp-bench compare`` against freshly started local targets whose first calls cannot succeed.

The local Lambda's gateway times out after 1 s while the tiny model's init is slowed by 2 s
(``NLP_BENCH_FAULT_LOAD_DELAY_S``), so the first attempt is a 503 and the client retries until
the warm environment answers; the local Kubernetes Service answers 503 until its pod is ready.
One run of the command serves every test here; it starts both targets and tears them down.
"""

from __future__ import annotations

import contextlib
import io
import json
from typing import Any

import duckdb
import psutil
import pytest

from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore

pytestmark = pytest.mark.slow
TEXT = "a gripping, beautiful film"
PLATFORM = {"local-lambda": {"integration_timeout_s": 1, "init_timeout_s": 60}}


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("compare")
    db = base / "bench.duckdb"
    MetricStore(db).migrate()  # live_comparisons comes with migration 0006
    with pytest.MonkeyPatch.context() as env:
        env.setenv("NLP_BENCH_DB", str(db))
        env.setenv("NLP_BENCH_WORK_DIR", str(base / "work"))
        get_pipeline_settings.cache_clear()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(
                [
                    "compare",
                    TEXT,
                    "--targets",
                    "local-lambda,local-k8s",
                    "--model",
                    "tiny",
                    "--platform",
                    json.dumps(PLATFORM),
                    "--env",
                    "NLP_BENCH_FAULT_LOAD_DELAY_S=2",
                    "--json",
                ]
            )
        get_pipeline_settings.cache_clear()
    answers = {a["target"]: a for a in json.loads(out.getvalue())}
    return {"code": code, "answers": answers, "db": db}


def test_a_cold_lambda_whose_first_call_times_out_answers_after_retries(compared) -> None:
    lam = compared["answers"]["local-lambda"]
    assert compared["code"] == 0
    assert lam["ok"]
    assert lam["attempts"] >= 2
    assert lam["first_status"] == 503
    assert lam["first_label"] == "cold_start"
    assert lam["time_to_first_success_ms"] > 2000  # the slowed init
    assert lam["cold_start"] is True
    assert lam["label"] in ("POSITIVE", "NEGATIVE")
    assert lam["environment_id"]


def test_the_kubernetes_target_answers_once_its_pod_is_ready(compared) -> None:
    k8s = compared["answers"]["local-k8s"]
    assert k8s["ok"]
    assert k8s["attempts"] >= 2
    assert k8s["first_status"] == 503
    assert k8s["time_to_first_success_ms"] > 2000


def test_the_answers_are_stored_where_the_table_exists_and_nothing_is_left_running(
    compared,
) -> None:
    with duckdb.connect(str(compared["db"]), read_only=True) as conn:
        stored = conn.execute(
            "SELECT target, attempts, ok FROM live_comparisons ORDER BY target"
        ).fetchall()
    answers = compared["answers"]
    assert stored == [(t, answers[t]["attempts"], True) for t in ("local-k8s", "local-lambda")]
    assert not [p for p in psutil.Process().children(recursive=True) if p.is_running()]


def test_an_empty_text_or_unknown_target_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["compare", "  "]) == 2
    assert main(["compare", "fine", "--targets", "local-nothing"]) == 2
    assert main(["compare", "fine", "--platform", "{not json"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 3
    assert all(line.startswith("nlp-bench compare: ") for line in lines)
