"""``nlp-bench summary``: every profile's latest runs, each row labelled, and ``--profile`` keeps
one (issue 14: "results from different profiles are mixed without a label").

The store holds one cell, ``local-k8s warm_steady``, benched under two profiles, through the real
ingestion; the smoke run is the slower one, so its row is told apart by its figures too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.store_rows import record, row, write_rows

LATENCY_MS = {"quick": 10.0, "smoke": 70.0}


@pytest.fixture
def two_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    store = MetricStore(tmp_path / "nlp_bench.duckdb")
    for profile, latency_ms in LATENCY_MS.items():
        series = f"series-{profile}"
        run_id = f"{series}-local-k8s-warm_steady-{profile}-r0"
        rows = [row(seq, latency_ms=latency_ms) for seq in range(20)]
        path = write_rows(tmp_path / run_id / "requests-0.parquet", rows)
        run = record(run_id, rows, series_id=series, profile=profile, measure_s=0.2)
        store.ingest_run(run, request_files=[path])
    monkeypatch.setenv("NLP_BENCH_DB", str(store.path))
    get_pipeline_settings.cache_clear()
    yield store.path
    get_pipeline_settings.cache_clear()


def by_profile(out: str) -> dict[str, str]:
    """profile → the p50 cell of its row, read under the table's own heading."""
    lines = out.strip().splitlines()
    heading = next(i for i, line in enumerate(lines) if line.split()[:2] == ["target", "scenario"])
    rule = lines[heading + 1]  # dashes under each column: where each one starts and ends
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    cells = [[line[a:b].strip() for a, b in spans] for line in lines[heading + 2 :] if line]
    names = [lines[heading][a:b].strip() for a, b in spans]
    rows = [dict(zip(names, values, strict=True)) for values in cells if len(values) == len(names)]
    return {r["profile"]: r["p50 ms"] for r in rows if r["target"] == "local-k8s"}


def test_summary_labels_each_profiles_row(two_profiles: Path, capsys):
    assert main(["summary"]) == 0
    assert by_profile(capsys.readouterr().out) == {"quick": "10.0", "smoke": "70.0"}


@pytest.mark.parametrize("profile", ["quick", "smoke"])
def test_summary_with_profile_shows_only_that_profiles_runs(two_profiles: Path, profile, capsys):
    assert main(["summary", "--profile", profile]) == 0
    assert by_profile(capsys.readouterr().out) == {profile: f"{LATENCY_MS[profile]:.1f}"}


def test_summary_of_a_profile_without_runs_says_there_are_none(two_profiles: Path, capsys):
    assert main(["summary", "--profile", "full"]) == 0
    assert capsys.readouterr().out.strip() == "no complete benchmark runs in the metric store yet"
