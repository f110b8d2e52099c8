"""No secret of the operator's shell reaches the load generator through Dagster Pipes (issue 17,
finding 10).

Dagster's ``PipesSubprocessClient`` merges the whole parent environment into its child's, so the
launch wraps the runner's command in the scrubbing launcher. Here the real Pipes client starts
the real runner (and the runner Locust) against the loopback endpoint, exactly as the
``load_test_run`` asset does, with canary secrets in this process's environment; each process's
``/proc/<pid>/environ`` is read while it runs, as the probe of the issue did.
"""

from __future__ import annotations

import threading
from pathlib import Path

import dagster as dg
import psutil
import pytest

from nlp_bench_pipeline.loadgen.launch import (
    loadgen_launch,
    run_in_subprocess,
    summaries_from_messages,
)
from nlp_bench_pipeline.loadgen.loopback import serve
from nlp_bench_pipeline.loadgen.repetition import RepetitionPlan
from nlp_bench_pipeline.loadgen.scenarios import load_scenario

pytestmark = pytest.mark.slow
CANARIES = {
    "AWS_ACCESS_KEY_ID": "AKIACANARY0000000000",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-0f1e2d3c",
    "AWS_SESSION_TOKEN": "canary-aws-session-9a8b7c",
    "AWS_PROFILE": "canary-profile",
    "GROQ_API_KEY": "gsk_canary_4b5c6d7e",
    "HF_TOKEN": "hf_canary_8f9e0d",
}
# What a run signing with SigV4 needs of them: static keys of the operator (CI's OIDC sets these).
AWS_KEYS = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
SHAPE = {"warmup": [{"duration_s": 1, "rate": 2}], "measure": [{"duration_s": 4, "rate": 4}]}


class EnvironmentWatch:
    """Reads the environment of the runner (once it has exec'd) and of each Locust process."""

    def __init__(self, plan_path: Path) -> None:
        self.plan_arg = f"--plan={plan_path}"
        self.runner: dict[str, str] = {}
        self.locust: list[dict[str, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> EnvironmentWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        while not self._stop.is_set() and not self.locust:
            for proc in psutil.process_iter(["cmdline"]):
                cmdline = proc.info["cmdline"] or []
                # After the launcher's execve the same pid runs the runner module itself.
                if self.plan_arg in cmdline and "nlp_bench_pipeline.core.processes" not in cmdline:
                    self._read(proc)
            self._stop.wait(0.05)

    def _read(self, runner: psutil.Process) -> None:
        try:
            self.runner = runner.environ()
            self.locust = [
                child.environ()
                for child in runner.children(recursive=True)
                if "locust" in child.cmdline()
            ]
        except psutil.Error:
            return


def load_asset(plan: RepetitionPlan) -> dg.AssetsDefinition:
    """An asset that launches ``plan`` as ``load_test_run``'s Pipes launcher does."""

    @dg.asset(name="loopback_load")
    def load(context, pipes: dg.PipesSubprocessClient) -> dg.MaterializeResult:
        request = loadgen_launch(plan)
        invocation = pipes.run(context=context, command=request.command, env=request.env)
        (summary,) = summaries_from_messages(invocation.get_custom_messages())
        return dg.MaterializeResult(metadata={"rows": summary.rows})

    return load


def loopback_plan(tmp_path: Path, url: str) -> RepetitionPlan:
    (plan,) = RepetitionPlan.resolve(
        load_scenario("warm_steady", "smoke", overrides=SHAPE),
        series_id="canary",
        target="loopback",
        work_dir=tmp_path,
    )
    return plan.aimed_at(url)


def test_no_canary_reaches_the_runner_or_locust_started_through_dagster_pipes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    with serve(tmp_path / "logs") as url:
        plan = loopback_plan(tmp_path, url)
        with EnvironmentWatch(plan.run_dir / "plan.json") as watch:
            result = dg.materialize(
                [load_asset(plan)], resources={"pipes": dg.PipesSubprocessClient()}
            )
    assert result.success
    (materialization,) = result.asset_materializations_for_node("loopback_load")
    assert materialization.metadata["rows"].value == len(plan.schedule())  # Pipes got through
    assert watch.runner, "the runner was never seen running"
    assert watch.locust, "Locust was never seen running"
    for seen in [watch.runner, *watch.locust]:
        assert not set(CANARIES) & set(seen)
        assert not set(CANARIES.values()) & set(seen.values())
    assert {"DAGSTER_PIPES_CONTEXT", "DAGSTER_PIPES_MESSAGES"} <= set(watch.runner)
    assert watch.runner["PYTHONUNBUFFERED"] == "1"
    assert not any(name.startswith("DAGSTER_PIPES_") for env in watch.locust for name in env)


def test_a_run_signing_for_aws_gets_the_credential_chain_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in CANARIES.items():
        if name != "AWS_PROFILE":  # a profile that does not exist would stop boto3's chain
            monkeypatch.setenv(name, value)
    with serve(tmp_path / "logs") as url:
        plan = loopback_plan(tmp_path, url).model_copy(
            update={"auth": {"authorization": "AWS_IAM", "region": "eu-west-1"}}
        )
        with EnvironmentWatch(plan.run_dir / "plan.json") as watch:
            summary = run_in_subprocess(plan, timeout_s=120)
    assert summary.ok == summary.scheduled  # every request signed with the keys and sent
    assert watch.locust, "Locust was never seen running"
    for seen in [watch.runner, *watch.locust]:
        assert {name: seen.get(name) for name in AWS_KEYS} == {n: CANARIES[n] for n in AWS_KEYS}
        assert "GROQ_API_KEY" not in seen
        assert "HF_TOKEN" not in seen
