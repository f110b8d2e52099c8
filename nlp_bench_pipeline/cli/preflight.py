"""What ``nlp-bench bench`` checks before it starts anything (issue 17).

A benchmark that fails ten minutes in on a setting that was wrong from the start wastes the
machine and leaves half a run behind. So every setting is read and checked first — the plan
(targets, scenarios, profile, sizes, bounds), each scenario under the profile, each target's
deployment spec, the model source's form, and that the DuckDB file and the work directory can be
written — and every problem becomes one line naming the setting (the option and its
``NLP_BENCH_*`` variable), the value and what is allowed. Nothing here writes anything but a
probe file it deletes at once, starts a process or opens the Dagster home.

The model is checked by form only, with the rule the service parses ``NLP_BENCH_MODEL`` by
(``inference_service.contract.model_form``): ``synthetic``, ``tiny``, ``hf:<id>`` or an existing
directory — here also one with a ``config.json``, as ``save_pretrained`` leaves it. Loading it
is the build stage's job, which fails in about a second and stops the run.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inference_service.contract import ModelFormError, model_form
from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.settings import PipelineSettings

# Plan and settings fields → how a person sets them with `nlp-bench bench`.
SETTING_NAMES = {
    "profile": "--profile / NLP_BENCH_PROFILE",
    "targets": "--targets / NLP_BENCH_TARGETS",
    "scenarios": "--scenarios / NLP_BENCH_SCENARIOS",
    "model": "--model / NLP_BENCH_MODEL",
    "service_env": "NLP_BENCH_SERVICE_ENV",
    "db": "NLP_BENCH_DB",
    "work_dir": "NLP_BENCH_WORK_DIR",
    "load_from": "NLP_BENCH_LOAD_FROM",
    "pipeline_image": "NLP_BENCH_PIPELINE_IMAGE",
    "results_bucket": "NLP_BENCH_RESULTS_BUCKET",
}


@dataclass(frozen=True)
class Problem:
    """One setting that is wrong, and why, as one line."""

    setting: str
    message: str

    def __str__(self) -> str:
        return f"{self.setting}: {self.message}"


class PreflightFailed(Exception):
    """Settings that would fail the run; ``problems`` holds one line each."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Checked:
    """Settings and the plan they make, both found sound."""

    settings: PipelineSettings
    plan: BenchmarkPlan


def preflight() -> Checked:
    """Read the ``NLP_BENCH_*`` settings and the plan they make; raise :class:`PreflightFailed`."""
    try:
        settings = PipelineSettings()
    except ValidationError as exc:
        raise PreflightFailed(validation_problems(exc)) from None
    try:
        plan = plan_from_settings(settings)
    except ValidationError as exc:
        raise PreflightFailed(validation_problems(exc)) from None
    problems = [
        *empty_problems(plan),
        *model_problems(plan.model),
        *writable_problems(SETTING_NAMES["db"], settings.db, kind="file"),
        *writable_problems(SETTING_NAMES["work_dir"], settings.work_dir, kind="directory"),
        *bound_problems(plan),
        *scenario_problems(plan),
        *deployment_problems(plan),
    ]
    if problems:
        raise PreflightFailed(problems)
    return Checked(settings, plan)


def plan_from_settings(settings: PipelineSettings) -> BenchmarkPlan:
    """The plan exactly as the Dagster ``bench`` resource builds it from the same settings."""
    from nlp_bench_pipeline.defs.resources import BenchmarkConfig

    return BenchmarkConfig.from_settings(settings).plan()


def validation_problems(exc: ValidationError) -> list[Problem]:
    """pydantic's errors, one line each, named as the person sets them."""
    problems = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        value = error.get("input")
        shown = "" if isinstance(value, dict | list) else f"{value!r}: "
        problems.append(Problem(SETTING_NAMES.get(field, field), shown + message))
    return problems


def empty_problems(plan: BenchmarkPlan) -> list[Problem]:
    """A plan with no target or no scenario has no cell: almost certainly a typo."""
    return [
        Problem(SETTING_NAMES[field], "is empty: name at least one")
        for field in ("targets", "scenarios")
        if not getattr(plan, field)
    ]


def model_problems(value: str) -> list[Problem]:
    """The model source's form, by the service's own rule; a directory must hold a config."""
    setting = SETTING_NAMES["model"]
    try:
        kind, ref = model_form(value)
    except ModelFormError as exc:
        return [Problem(setting, str(exc))]
    if kind == "directory" and not (Path(ref) / "config.json").is_file():
        return [Problem(setting, f"{value!r} has no config.json (not a save_pretrained model)")]
    return []


def writable_problems(setting: str, path: Path, *, kind: str) -> list[Problem]:
    """Whether ``path`` (a file, or a directory) can be created or written, and its folder too.

    DuckDB writes a ``.wal`` file beside the database, so the folder must take new files even
    when the database exists. The check writes a probe file and deletes it: permissions alone
    do not say what a read-only mount or a root-owned tree allows.
    """
    path = path.expanduser()
    if path.exists() and kind == "file" and path.is_dir():
        return [Problem(setting, f"{str(path)!r} is a directory, not a file")]
    if path.exists() and kind == "directory" and not path.is_dir():
        return [Problem(setting, f"{str(path)!r} is a file, not a directory")]
    folder = path if kind == "directory" and path.exists() else path.parent
    existing = _nearest_existing(folder)
    if not existing.is_dir():
        return [Problem(setting, f"{str(path)!r}: {str(existing)!r} is not a directory")]
    try:
        with _probe_file(existing):
            pass
        if kind == "file" and path.exists():
            with path.open("r+b"):
                pass
    except OSError as exc:
        return [Problem(setting, f"{str(path)!r} is not writable ({exc.strerror or exc})")]
    return []


def bound_problems(plan: BenchmarkPlan) -> list[Problem]:
    """Error-rate bounds are fractions, SLOs positive times: a typo here would fail every check."""
    problems = [
        Problem(f"max_error_rate[{scenario}]", f"{rate!r} is not a fraction in 0..1")
        for scenario, rate in plan.max_error_rate.items()
        if not 0.0 <= rate <= 1.0
    ]
    problems += [
        Problem(f"slo_p99_ms[{scenario}]", f"{slo!r} is not a positive time in ms")
        for scenario, slo in plan.slo_p99_ms.items()
        if not slo > 0
    ]
    return problems


def scenario_problems(plan: BenchmarkPlan) -> list[Problem]:
    """Each enabled scenario resolved under the plan's profile (rates, phases, limits)."""
    from nlp_bench_pipeline.loadgen.scenarios import ScenarioError, load_scenario

    problems = []
    for scenario in plan.scenarios:
        try:
            load_scenario(scenario, plan.profile)
        except ScenarioError as exc:
            problems.append(Problem(SETTING_NAMES["scenarios"], _one_line(exc)))
    return problems


def deployment_problems(plan: BenchmarkPlan) -> list[Problem]:
    """Each local target's deployment spec, checked as the platform will check it."""
    problems = []
    for target in plan.targets:
        try:
            _validate_spec(target, plan.deployment_spec(target))
        except (ValidationError, ValueError) as exc:
            problems.append(Problem(f"{SETTING_NAMES['targets']} ({target})", _one_line(exc)))
    return problems


def _validate_spec(target: str, spec: Any) -> None:
    if target == "local-lambda":
        from nlp_bench_pipeline.targets.local_lambda.config import LocalLambdaConfig

        LocalLambdaConfig.from_spec(spec)
    elif target == "local-k8s":
        from nlp_bench_pipeline.targets.local_k8s.config import validate_spec

        validate_spec(spec)


def _one_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(p) for p in validation_problems(exc))
    return " ".join(str(exc).split())


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


@contextlib.contextmanager
def _probe_file(folder: Path) -> Iterator[None]:
    fd, name = tempfile.mkstemp(prefix=".nlp-bench-preflight-", dir=folder)
    try:
        os.close(fd)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
