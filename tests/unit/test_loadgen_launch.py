"""The parent's launch helper: the plan it resolves once is what the runner and Locust read."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp_bench_pipeline.core.processes import AWS_CREDENTIAL_CHAIN
from nlp_bench_pipeline.loadgen import runner
from nlp_bench_pipeline.loadgen.launch import (
    RUNNER_ENVIRONMENT,
    aws_credentials_for,
    loadgen_launch,
    summaries_from_messages,
)
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


def split_command(command: list[str]) -> tuple[list[str], list[str]]:
    """The scrubbing launcher's ``--pass`` flags, and the runner's own command after ``--``."""
    separator = command.index("--")
    return command[:separator], command[separator + 1 :]


def passed_names(command: list[str]) -> set[str]:
    launcher, _ = split_command(command)
    return {flag.partition("=")[2] for flag in launcher if flag.startswith("--pass=")}


def test_command_runs_the_runner_module_and_names_the_run(tmp_path: Path):
    built = launch(tmp_path)
    launcher, command = split_command(built.command)
    assert launcher[1:3] == ["-m", "nlp_bench_pipeline.core.processes"]
    assert command[1:4] == ["-m", "nlp_bench_pipeline.loadgen", "run"]
    assert built.run_id == "abc123-local-k8s-burst-quick-r0"
    assert built.run_dir == tmp_path / "loadgen" / built.run_id


def test_the_runner_is_passed_its_essentials_and_the_pipes_session_only(tmp_path: Path):
    built = launch(tmp_path)
    launcher, _ = split_command(built.command)
    assert passed_names(built.command) == set(RUNNER_ENVIRONMENT.names)
    assert "--pass-prefix=DAGSTER_PIPES_" in launcher
    assert {"PATH", "HOME", "PYTHONUNBUFFERED"} <= passed_names(built.command)
    for secret in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "GROQ_API_KEY", "HF_TOKEN"):
        assert not RUNNER_ENVIRONMENT.admits(secret)
    assert RUNNER_ENVIRONMENT.admits("DAGSTER_PIPES_CONTEXT")
    assert RUNNER_ENVIRONMENT.admits("DAGSTER_PIPES_MESSAGES")


def test_only_a_plan_that_acts_on_aws_passes_the_credential_chain(tmp_path: Path):
    (plan,) = plans(tmp_path)
    local = plan.aimed_at("http://127.0.0.1:8000")
    signed = local.model_copy(update={"auth": {"authorization": "AWS_IAM", "region": "eu-west-1"}})
    bearer = local.model_copy(update={"auth": {"authorization": "JWT", "region": "eu-west-1"}})
    direct = local.model_copy(update={"mode": "direct", "function_name": "f"})
    assert not aws_credentials_for(local).names
    assert not aws_credentials_for(bearer).names
    assert aws_credentials_for(signed) == aws_credentials_for(direct) == AWS_CREDENTIAL_CHAIN
    assert {"AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION"} <= passed_names(
        loadgen_launch(signed).command
    )
    assert "GROQ_API_KEY" not in passed_names(loadgen_launch(signed).command)
    assert not passed_names(loadgen_launch(local).command) & AWS_CREDENTIAL_CHAIN.names


def test_command_parses_back_into_the_intended_plan(tmp_path: Path):
    built = launch(tmp_path)
    _, command = split_command(built.command)
    args = runner.build_parser().parse_args(command[3:])
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
