"""The in-region settings: NLP_BENCH_LOAD_FROM, NLP_BENCH_PIPELINE_IMAGE, NLP_BENCH_RESULTS_BUCKET.

Each is checked as the settings are read (a bad value is one line of ``bench`` naming the
variable, exit 2, nothing created), and each reaches where it is used: ``load_from`` the plan,
the image and the bucket (with the cluster) the ``in_region_load`` resource the definitions bind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from nlp_bench_pipeline.cli import main
from nlp_bench_pipeline.defs.bench.in_region import InRegionLoadResource
from nlp_bench_pipeline.defs.resources import BenchmarkConfig, resources
from nlp_bench_pipeline.settings import PipelineSettings, get_pipeline_settings

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline@sha256:" + "b" * 64
VARIABLES = ("NLP_BENCH_LOAD_FROM", "NLP_BENCH_PIPELINE_IMAGE", "NLP_BENCH_RESULTS_BUCKET")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A bench's settings in ``tmp_path``: nothing of it may be created when one is wrong."""
    for name in (*VARIABLES, "NLP_BENCH_AWS_CLUSTER", "NLP_BENCH_TARGETS", "NLP_BENCH_PROFILE"):
        monkeypatch.setenv(name, "")  # set first, so the undo removes what `bench` writes
        monkeypatch.delenv(name)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    monkeypatch.setenv("NLP_BENCH_DB", str(tmp_path / "data" / "bench.duckdb"))
    monkeypatch.setenv("NLP_BENCH_WORK_DIR", str(tmp_path / "work"))
    get_pipeline_settings.cache_clear()
    yield tmp_path
    get_pipeline_settings.cache_clear()


def test_by_default_the_load_comes_from_here_and_nothing_in_region_is_set(home: Path) -> None:
    settings = PipelineSettings()
    assert (settings.load_from, settings.pipeline_image, settings.results_bucket) == (
        "here",
        None,
        None,
    )
    assert BenchmarkConfig.from_settings(settings).plan().load_from == "here"


def test_in_region_settings_reach_the_plan_and_the_in_region_resource(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NLP_BENCH_LOAD_FROM", "in-region")
    monkeypatch.setenv("NLP_BENCH_PIPELINE_IMAGE", IMAGE)
    monkeypatch.setenv("NLP_BENCH_RESULTS_BUCKET", "nlp-bench-results-abc")
    monkeypatch.setenv("NLP_BENCH_AWS_CLUSTER", "bench-cluster")
    settings = PipelineSettings()
    assert BenchmarkConfig.from_settings(settings).plan().load_from == "in-region"
    load = InRegionLoadResource.from_settings(settings)
    assert (load.image, load.bucket, load.cluster_name) == (
        IMAGE,
        "nlp-bench-results-abc",
        "bench-cluster",
    )
    # The definitions bind it, built from the same settings (the asset declares none of its own).
    bound = resources().resources
    assert bound["bench"].plan().load_from == "in-region"
    assert bound["in_region_load"].image == IMAGE
    assert bound["in_region_load"].bucket == "nlp-bench-results-abc"


def test_what_the_settings_leave_unset_still_comes_from_terraform(home: Path) -> None:
    outputs = {
        "in_region_load": {
            "cluster_name": "from-terraform",
            "region": "us-east-1",
            "bucket": "terraform-bucket",
            "image": "r.example/p@sha256:" + "c" * 64,
            "role_arn": "arn:aws:iam::123456789012:role/nlp-bench-loadgen",
        }
    }
    settings = PipelineSettings(results_bucket="my-bucket")
    load = InRegionLoadResource.from_settings(settings).resolve(
        region=None, terraform_outputs=outputs
    )
    assert (load.bucket, load.image, load.cluster_name) == (
        "my-bucket",
        outputs["in_region_load"]["image"],
        "from-terraform",
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("NLP_BENCH_LOAD_FROM", "laptop", "'laptop': Input should be 'here' or 'in-region'"),
        (
            "NLP_BENCH_PIPELINE_IMAGE",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-pipeline:latest",
            "is not pinned by digest: use <repository>@sha256:<64 hex>",
        ),
        ("NLP_BENCH_PIPELINE_IMAGE", "repo@sha256:abc", "is not pinned by digest"),
        ("NLP_BENCH_RESULTS_BUCKET", "My_Results", "'My_Results': is not an S3 bucket name"),
        ("NLP_BENCH_RESULTS_BUCKET", "s3://nlp-bench-results", "is not an S3 bucket name"),
    ],
)
def test_a_bad_in_region_setting_is_one_line_of_bench_naming_it(
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    expected: str,
) -> None:
    monkeypatch.setenv(variable, value)
    code = main(["bench", "--profile", "smoke", "--model", "tiny", "--targets", "local-k8s"])
    [line] = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2
    assert line.startswith(f"nlp-bench bench: {variable}: ")
    assert expected in line
    assert sorted(p.name for p in home.iterdir()) == []  # no Dagster home, no DuckDB file


def test_in_region_without_an_aws_target_is_no_error(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The local targets always load from here; the setting is simply not used by them."""
    from nlp_bench_pipeline.cli.preflight import preflight

    monkeypatch.setenv("NLP_BENCH_LOAD_FROM", "in-region")
    monkeypatch.setenv("NLP_BENCH_TARGETS", "local-lambda")
    checked = preflight()
    assert checked.plan.load_from == "in-region"
    assert checked.plan.targets == ["local-lambda"]
