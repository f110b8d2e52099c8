"""``nlp-bench sweep`` in-process on the local Lambda with the tiny model: usage errors are one
line and exit 2; a sweep prints its rows as JSON and stores them in ``memory_sweep``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlp_bench_pipeline.cli import sweep
from nlp_bench_pipeline.core.options import OneLineParser
from nlp_bench_pipeline.settings import get_pipeline_settings
from nlp_bench_pipeline.store import MetricStore
from nlp_bench_pipeline.store.economics import MEMORY_SWEEP, read_latest


def run(argv: list[str]) -> int:
    parser = OneLineParser(prog="nlp-bench")
    sweep.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.handler(args)


@pytest.fixture(autouse=True)
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("NLP_BENCH_MODEL", "tiny")
    monkeypatch.setenv("NLP_BENCH_WORK_DIR", str(tmp_path / "work"))
    monkeypatch.setenv("NLP_BENCH_DB", str(tmp_path / "bench.duckdb"))
    get_pipeline_settings.cache_clear()
    yield
    get_pipeline_settings.cache_clear()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--weight", "1.5"], "argument --weight: 1.5 is not between 0 and 1"),
        (["--memory-mb", "64"], "argument --memory-mb: 64 is not between 128 and 10240"),
        (["--target", "local-k8s"], "argument --target: invalid choice"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(argv, message, capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(["sweep", *argv])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert len(error.strip().splitlines()) == 1


@pytest.mark.slow
def test_a_sweep_prints_json_and_stores_its_rows(tmp_path: Path, capsys) -> None:
    code = run(["sweep", "--memory-mb", "1769", "--memory-mb", "10240", "--cold", "1",
                "--warm", "2", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    sizes = {row["memory_mb"]: row for row in out["sizes"]}
    assert sizes[1769]["status"] == "run"
    assert sizes[1769]["warm_invocations"] == 2
    assert out["best"]["by_cost_mb"] == 1769
    stored = read_latest(MetricStore(tmp_path / "bench.duckdb"), MEMORY_SWEEP)
    assert {r["sweep_id"] for r in stored} == {out["sweep_id"]}
    assert {r["memory_mb"] for r in stored} == set(sizes)
