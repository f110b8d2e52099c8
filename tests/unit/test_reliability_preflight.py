"""``nlp-bench bench`` checks its settings before anything starts (issue 17, findings 2, 6, 9).

Each bad setting is one line naming the option and its ``NLP_BENCH_*`` variable, the exit code is
2, and nothing has been created: no Dagster home, no DuckDB file, no process. Before, an unknown
target printed 20 lines of traceback, an unknown profile a 123-line Dagster exception, and a
read-only DuckDB path was found only after the load test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.cli.preflight import (
    Problem,
    bound_problems,
    model_problems,
    validation_problems,
    writable_problems,
)
from nlp_bench_pipeline.settings import get_pipeline_settings

VARIABLES = (
    "NLP_BENCH_PROFILE",
    "NLP_BENCH_TARGETS",
    "NLP_BENCH_SCENARIOS",
    "NLP_BENCH_MODEL",
    "NLP_BENCH_SERVICE_ENV",
)
# A path no process may create a file under, root included (sysfs).
READ_ONLY_DB = Path("/sys/nlp_bench.duckdb")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Settings a smoke bench would use; ``bench`` must create nothing when they are wrong."""
    for name in VARIABLES:
        # Set first, so the undo also removes what `bench` itself writes into os.environ (its
        # options become NLP_BENCH_* variables) and no later test sees this test's settings.
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("NLP_BENCH_DB", str(tmp_path / "data" / "bench.duckdb"))
    monkeypatch.setenv("NLP_BENCH_WORK_DIR", str(tmp_path / "work"))
    yield tmp_path
    get_pipeline_settings.cache_clear()  # read again from the restored environment


def bench(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    code = main(["bench", "--profile", "smoke", "--model", "tiny", *argv])
    captured = capsys.readouterr()
    return code, [line for line in captured.err.splitlines() if line.strip()]


def assert_nothing_created(home: Path) -> None:
    assert sorted(p.name for p in home.iterdir()) == []


def test_an_unknown_target_is_one_line_and_exit_2(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = bench(capsys, "--targets", "local-lambda,lambda")
    assert code == 2
    [line] = lines
    assert line.startswith("nlp-bench bench: --targets / NLP_BENCH_TARGETS: 'lambda': ")
    assert "local-k8s" in line  # says what is allowed
    assert_nothing_created(home)


def test_an_unknown_scenario_is_one_line(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, [line] = bench(capsys, "--targets", "local-k8s", "--scenarios", "warm_steady,nope")
    assert code == 2
    assert "--scenarios / NLP_BENCH_SCENARIOS" in line
    assert "'nope'" in line
    assert_nothing_created(home)


def test_an_unknown_profile_in_the_environment_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_BENCH_PROFILE", "bogus")
    code = main(["bench", "--targets", "local-k8s"])
    [line] = capsys.readouterr().err.splitlines()
    assert code == 2
    assert line.startswith("nlp-bench bench: --profile / NLP_BENCH_PROFILE: 'bogus': ")
    assert_nothing_created(home)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("/does/not/exist", "neither 'synthetic', 'tiny', 'hf:<id>' nor an existing model"),
        ("hf:", "'hf:' needs a model id"),
    ],
)
def test_a_model_source_that_cannot_resolve_is_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], model: str, expected: str
) -> None:
    code, [line] = bench(capsys, "--targets", "local-lambda", "--model", model)
    assert code == 2
    assert "--model / NLP_BENCH_MODEL" in line
    assert expected in line
    assert_nothing_created(home)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("NLP_BENCH_PRECISION", "'NLP_BENCH_PRECISION': 'NLP_BENCH_PRECISION' is not KEY=VALUE"),
        ("AWS_SECRET_ACCESS_KEY=x", "AWS_SECRET_ACCESS_KEY is not a service setting"),
        ("lambda:NLP_BENCH_WARMUP=1", "'lambda' is neither 'default' nor a target"),
    ],
)
def test_a_bad_service_env_is_one_line_naming_the_setting(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv("NLP_BENCH_SERVICE_ENV", value)
    code, [line] = bench(capsys, "--targets", "local-k8s")
    assert code == 2
    assert line.startswith("nlp-bench bench: NLP_BENCH_SERVICE_ENV: ")
    assert expected in line
    assert_nothing_created(home)


def test_a_read_only_duckdb_path_fails_before_anything_starts_naming_the_setting(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_BENCH_DB", str(READ_ONLY_DB))
    code, [line] = bench(capsys, "--targets", "local-lambda")
    assert code == 2
    assert line.startswith(f"nlp-bench bench: NLP_BENCH_DB: '{READ_ONLY_DB}' is not writable")
    assert_nothing_created(home)


def test_several_problems_are_one_line_each(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_BENCH_DB", str(READ_ONLY_DB))
    code, lines = bench(capsys, "--targets", "local-lambda", "--model", "/nope")
    assert code == 2
    assert [line.split(": ")[1] for line in lines] == ["--model / NLP_BENCH_MODEL", "NLP_BENCH_DB"]


def test_an_existing_directory_without_a_model_is_refused(tmp_path: Path) -> None:
    [problem] = model_problems(str(tmp_path))
    assert "has no config.json" in problem.message
    (tmp_path / "config.json").write_text("{}")
    assert model_problems(str(tmp_path)) == []
    assert model_problems("synthetic") == model_problems("tiny") == []
    assert model_problems("hf:distilbert-base-uncased") == []


@pytest.mark.parametrize(
    "model", ["synthetic", " tiny ", "hf:org/name", "hf:", "hf: ", "bert", "/no/such/dir", ""]
)
def test_preflight_and_the_service_agree_on_every_model_form(model: str) -> None:
    from inference_service.sources import ModelLoadError, ModelSource

    try:
        ModelSource.parse(model)
        service_accepts = True
    except ModelLoadError:
        service_accepts = False
    assert (model_problems(model) == []) is service_accepts


def test_memory_outside_lambdas_range_names_the_setting() -> None:
    with pytest.raises(ValidationError) as caught:
        BenchmarkPlan(lambda_memory_mb=50_000)
    [problem] = validation_problems(caught.value)
    assert str(problem).startswith("lambda_memory_mb: 50000: ")
    assert "10240" in problem.message
    with pytest.raises(ValidationError) as caught:
        BenchmarkPlan(lambda_memory_mb=50)
    assert "128" in validation_problems(caught.value)[0].message


def test_replica_bounds_name_the_setting_that_is_wrong() -> None:
    with pytest.raises(ValidationError) as caught:
        BenchmarkPlan(min_replicas=0)
    [problem] = validation_problems(caught.value)
    assert problem.setting == "min_replicas"


def test_negative_or_impossible_bounds_are_caught() -> None:
    plan = BenchmarkPlan(max_error_rate={"default": -0.1, "burst": 1.5}, slo_p99_ms={"default": 0})
    assert [p.setting for p in bound_problems(plan)] == [
        "max_error_rate[default]",
        "max_error_rate[burst]",
        "slo_p99_ms[default]",
    ]
    assert bound_problems(BenchmarkPlan()) == []


def test_a_writable_path_passes_and_leaves_no_probe_behind(tmp_path: Path) -> None:
    assert writable_problems("NLP_BENCH_DB", tmp_path / "new" / "bench.duckdb", kind="file") == []
    assert writable_problems("NLP_BENCH_WORK_DIR", tmp_path, kind="directory") == []
    assert list(tmp_path.iterdir()) == []
    assert writable_problems("NLP_BENCH_DB", tmp_path, kind="file") == [
        Problem("NLP_BENCH_DB", f"{str(tmp_path)!r} is a directory, not a file")
    ]
