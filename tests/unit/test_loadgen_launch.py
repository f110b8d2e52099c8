"""The Dagster side's launch helper: the runner command it builds resolves to the same plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.launch import loadgen_launch, summaries_from_messages
from nlp_bench_pipeline.loadgen.scenarios import ScenarioError


def launch(tmp_path: Path, **changes):
    arguments = {
        "host": "http://127.0.0.1:8000",
        "scenario": "burst",
        "profile": "quick",
        "target": "local-k8s",
        "series_id": "abc123",
        "repetition": 0,
        "processes": 2,
        "overrides": {"measure": [{"duration_s": 3, "rate": 7}], "max_inflight": 32},
        "work_dir": tmp_path,
        **changes,
    }
    return loadgen_launch(**arguments)


def test_command_runs_the_runner_module_and_names_the_run(tmp_path: Path):
    built = launch(tmp_path)
    assert built.command[1:4] == ["-m", "nlp_bench_pipeline.loadgen", "run"]
    assert built.run_id == "abc123-local-k8s-burst-quick-r0"
    assert built.run_dir == tmp_path / "loadgen" / built.run_id


def test_command_parses_back_into_the_intended_plan(tmp_path: Path):
    built = launch(tmp_path)
    args = runner.build_parser().parse_args(built.command[3:])
    (plan,) = runner.plans_from_args(args)
    assert plan.run_id == built.run_id
    assert plan.run_dir == built.run_dir
    assert plan.workers == 2
    assert plan.scenario.max_inflight == 32
    assert plan.scenario.measure[0].rate == 7
    assert runner._spread_flags(args) == ["--processes=2"]


def test_a_bad_scenario_fails_before_a_command_exists(tmp_path: Path):
    with pytest.raises(ScenarioError, match="unknown scenario"):
        launch(tmp_path, scenario="nope")
    with pytest.raises(ValueError, match=r"repetition 1 is outside 0\.\.0"):
        launch(tmp_path, repetition=1)


def test_summaries_are_picked_out_of_the_custom_messages():
    assert summaries_from_messages([{"kind": "other"}, "text", None]) == []
