"""The parent's launch helper: the plan it resolves once is what the runner and Locust read."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.launch import loadgen_launch, summaries_from_messages
from nlp_bench_pipeline.loadgen.repetition import PLAN_FILE, RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import ScenarioError, load_scenario

OVERRIDES = {"measure": [{"duration_s": 3, "rate": 7}], "max_inflight": 32}


def plans(tmp_path: Path, *, scenario: str = "burst", repetitions=None) -> list[RepetitionPlan]:
    return RepetitionPlan.resolve(
        load_scenario(scenario, "quick", overrides=OVERRIDES),
        series_id="abc123",
        target="local-k8s",
        work_dir=tmp_path,
        repetitions=repetitions,
        workers=2,
    )


def launch(tmp_path: Path):
    (plan,) = plans(tmp_path)
    return loadgen_launch(plan.aimed_at("http://127.0.0.1:8000"))


def test_command_runs_the_runner_module_and_names_the_run(tmp_path: Path):
    built = launch(tmp_path)
    assert built.command[1:4] == ["-m", "nlp_bench_pipeline.loadgen", "run"]
    assert built.run_id == "abc123-local-k8s-burst-quick-r0"
    assert built.run_dir == tmp_path / "loadgen" / built.run_id


def test_command_parses_back_into_the_intended_plan(tmp_path: Path):
    built = launch(tmp_path)
    args = runner.build_parser().parse_args(built.command[3:])
    (plan,) = runner.plans_from_args(args)
    assert args.plan == built.run_dir / PLAN_FILE
    assert plan.run_id == built.run_id
    assert plan.run_dir == built.run_dir
    assert plan.workers == 2
    assert plan.scenario.max_inflight == 32
    assert plan.scenario.measure[0].rate == 7
    assert runner._spread_flags(args, plan) == ["--processes=2"]


def test_a_bad_scenario_fails_before_a_command_exists(tmp_path: Path):
    with pytest.raises(ScenarioError, match="unknown scenario"):
        plans(tmp_path, scenario="nope")
    with pytest.raises(ValueError, match=r"repetition 1 is outside 0\.\.0"):
        plans(tmp_path, repetitions=[1])


def test_a_plan_without_an_endpoint_is_not_launched(tmp_path: Path):
    (plan,) = plans(tmp_path)
    with pytest.raises(ValueError, match="has no host"):
        loadgen_launch(plan)
    assert not plan.run_dir.exists()


def test_summaries_are_picked_out_of_the_custom_messages():
    assert summaries_from_messages([{"kind": "other"}, "text", None]) == []
