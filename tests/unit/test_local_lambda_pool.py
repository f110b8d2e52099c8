"""The pool's pure decisions and an environment's hand-over of invokes, without processes."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nlp_bench_pipeline.targets.cpu_quota import CpuQuotas, CpuShare
from nlp_bench_pipeline.targets.local_lambda.config import LocalLambdaConfig
from nlp_bench_pipeline.targets.local_lambda.environment import (
    EnvironmentState,
    ExecutionEnvironment,
    LambdaFunction,
)
from nlp_bench_pipeline.targets.local_lambda.fleet import expired, warm_choice
from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation

IDLE = EnvironmentState.IDLE


def environment(
    sequence: int,
    *,
    state: EnvironmentState = IDLE,
    provisioned: bool = False,
    last_used: float = 0.0,
) -> ExecutionEnvironment:
    env = ExecutionEnvironment.create(sequence, provisioned=provisioned)
    env.state, env.last_used = state, last_used
    return env


def test_warm_choice_prefers_a_provisioned_environment() -> None:
    provisioned = environment(1, provisioned=True, last_used=1.0)
    recent = environment(2, last_used=9.0)
    assert warm_choice([recent, provisioned]) is provisioned


def test_warm_choice_prefers_the_most_recently_used() -> None:
    old, recent = environment(1, last_used=1.0), environment(2, last_used=9.0)
    assert warm_choice([old, recent]) is recent


def test_warm_choice_skips_busy_and_starting_environments() -> None:
    busy = environment(1, state=EnvironmentState.BUSY)
    starting = environment(2, state=EnvironmentState.STARTING)
    assert warm_choice([busy, starting]) is None


def test_only_on_demand_environments_idle_past_the_idle_time_expire() -> None:
    stale = environment(1, last_used=0.0)
    fresh = environment(2, last_used=8.0)
    provisioned = environment(3, provisioned=True, last_used=0.0)
    busy = environment(4, state=EnvironmentState.BUSY, last_used=0.0)
    assert expired([stale, fresh, provisioned, busy], now=10.0, idle_eviction_s=5.0) == [stale]


def test_invoke_assigned_before_next_is_handed_over_at_once() -> None:
    async def scenario() -> tuple[Invocation, Invocation]:
        env = environment(1)
        invocation = Invocation(b"{}", "gw-1", asyncio.get_running_loop().create_future())
        env.assign(invocation)
        return invocation, await asyncio.wait_for(env.next_invocation(), 1)

    assigned, received = asyncio.run(scenario())
    assert received is assigned


def test_next_waits_for_the_next_assigned_invoke() -> None:
    async def scenario() -> tuple[Invocation, Invocation, EnvironmentState]:
        env = environment(1)
        waiting = asyncio.ensure_future(env.next_invocation())
        await asyncio.sleep(0)
        invocation = Invocation(b"{}", "gw-1", asyncio.get_running_loop().create_future())
        env.assign(invocation)
        return invocation, await asyncio.wait_for(waiting, 1), env.state

    assigned, received, state = asyncio.run(scenario())
    assert received is assigned
    assert state is EnvironmentState.BUSY


def test_lambda_variables_win_over_the_spec_environment(tmp_path: Path) -> None:
    function = LambdaFunction(
        handler="tests.fixtures.trivial_lambda.handler",
        model="tiny",
        memory_mb=512,
        config=LocalLambdaConfig(function_name="sentiment"),
        cpu=CpuShare(cores=0.29, threads=1, enforcement="threads only: test", host_cores=2),
        quotas=CpuQuotas("unit", root=tmp_path),
        owner="unit",
        log_dir=tmp_path,
        task_root=tmp_path,
        extra_env={"AWS_LAMBDA_FUNCTION_NAME": "spoofed", "NLP_BENCH_FAULT_LOAD_DELAY_S": "2"},
    )
    env = environment(7)
    variables = function.environment_variables(env, "127.0.0.1:4000")
    assert variables["AWS_LAMBDA_FUNCTION_NAME"] == "sentiment"
    assert variables["NLP_BENCH_FAULT_LOAD_DELAY_S"] == "2"
    assert variables["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:4000"
    assert variables["NLP_BENCH_ENVIRONMENT_ID"] == env.environment_id
    assert variables["AWS_LAMBDA_LOG_STREAM_NAME"] == env.log_stream
    assert variables["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert (variables["NLP_BENCH_MODEL"], variables["NLP_BENCH_THREADS"]) == ("tiny", "1")
    assert variables["_HANDLER"] == "tests.fixtures.trivial_lambda.handler"


def test_a_restored_environment_sees_snap_start_and_no_log_names(tmp_path: Path) -> None:
    function = LambdaFunction(
        handler="tests.fixtures.trivial_lambda.handler",
        model="tiny",
        memory_mb=1769,
        config=LocalLambdaConfig(start="zygote"),
        cpu=CpuShare(cores=1.0, threads=1, enforcement="threads only: test", host_cores=2),
        quotas=CpuQuotas("unit", root=tmp_path),
        owner="unit",
        log_dir=tmp_path,
        task_root=tmp_path,
    )
    restored = ExecutionEnvironment.create(3, provisioned=False, restored=True)
    variables = function.environment_variables(restored, "127.0.0.1:4001")
    assert variables["AWS_LAMBDA_INITIALIZATION_TYPE"] == "snap-start"
    assert variables["NLP_BENCH_ENVIRONMENT_ID"] == restored.environment_id
    assert "AWS_LAMBDA_LOG_STREAM_NAME" not in variables  # unavailable to SnapStart functions
    assert "AWS_LAMBDA_LOG_GROUP_NAME" not in variables
