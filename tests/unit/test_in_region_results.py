"""A pod's run directory through S3 (moto in server mode) and back into the local run directory."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from nlp_bench_pipeline.core.runs import RunSummary
from nlp_bench_pipeline.loadgen import in_pod
from nlp_bench_pipeline.loadgen.in_region import InRegionLoad, collect_results, new_attempt
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE, RepetitionPlan
from nlp_bench_pipeline.loadgen.s3_run_dir import download_run_dir, parse_s3_uri, upload_run_dir
from nlp_bench_pipeline.loadgen.scenarios import load_scenario
from tests.fixtures.apigw_standin import moto_server, moto_session

BUCKET = "nlp-bench-results-unit"
LOAD = InRegionLoad(
    cluster_name="nlp-bench",
    region="us-east-1",
    bucket=BUCKET,
    image="r/nlp-bench-pipeline@sha256:" + "0" * 64,
    role_arn="arn:aws:iam::123456789012:role/nlp-bench-loadgen",
)


@pytest.fixture(scope="module")
def s3() -> Iterator[Any]:
    with moto_server() as url:
        client = moto_session().client("s3", endpoint_url=url)
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def plan(tmp_path: Path) -> RepetitionPlan:
    (first,) = RepetitionPlan.resolve(
        load_scenario("warm_steady", "smoke"), series_id="s1", target="aws-eks", work_dir=tmp_path
    )
    return first.aimed_at("http://alb.internal")


def pod_summary(pod_dir: Path, plan: RepetitionPlan, files: list[str]) -> RunSummary:
    """What the runner in the pod reports: its own paths, on the pod's volume."""
    now = datetime.now(UTC)
    return RunSummary(
        run_id=plan.run_id,
        series_id=plan.series_id,
        scenario="warm_steady",
        profile="smoke",
        repetition=0,
        seed=1,
        host=plan.target_host,
        workers=len(files),
        started_at=now,
        finished_at=now,
        scheduled=3,
        scheduled_measure=2,
        rows=3,
        sent=3,
        ok=3,
        errors=0,
        dropped=0,
        locust_requests=3,
        locust_failures=0,
        workers_reported=len(files),
        consistent=True,
        run_dir=str(pod_dir),
        files=[str(pod_dir / name) for name in files],
        config={},
        generator_host={"hostname": "the-pod"},
    )


def upload_as_the_pod(
    s3: Any,
    plan: RepetitionPlan,
    attempt: str,
    tmp_path: Path,
    files: list[str],
    uploaded: list[str],
) -> RunSummary:
    pod_dir = tmp_path / "pod" / "loadgen" / plan.run_id
    pod_dir.mkdir(parents=True)
    summary = pod_summary(Path("/work/loadgen") / plan.run_id, plan, files)
    for name in uploaded:
        (pod_dir / name).write_bytes(f"rows of {name}".encode())
    (pod_dir / SUMMARY_FILE).write_text(summary.model_dump_json())
    (pod_dir / "plan.tmp").write_text("half-written")
    upload_run_dir(s3, BUCKET, LOAD.results_prefix(plan.run_id, attempt), pod_dir)
    return summary


def test_a_run_directory_goes_up_under_its_prefix_and_comes_back_file_for_file(
    s3: Any, tmp_path: Path
) -> None:
    source = tmp_path / "up"
    source.mkdir()
    for name in ("plan.json", "requests-w000.parquet", "locust.log"):
        (source / name).write_text(name)
    (source / "plan.tmp").write_text("being written")
    keys = upload_run_dir(s3, BUCKET, "loadgen/run-a/1/", source)
    assert keys == [
        f"loadgen/run-a/1/{n}" for n in ("locust.log", "plan.json", "requests-w000.parquet")
    ]
    upload_run_dir(s3, BUCKET, "loadgen/run-a/1/older/", source)  # not this directory's
    back = download_run_dir(s3, BUCKET, "loadgen/run-a/1/", tmp_path / "down")
    assert [p.name for p in back] == ["locust.log", "plan.json", "requests-w000.parquet"]
    assert all(p.read_text() == p.name for p in back)


def test_collected_results_point_at_the_local_run_directory(
    s3: Any, plan: RepetitionPlan, tmp_path: Path
) -> None:
    attempt = new_attempt()
    files = ["requests-w000.parquet", "requests-w001.parquet"]
    reported = upload_as_the_pod(s3, plan, attempt, tmp_path, files, uploaded=files)
    collected = collect_results(s3, LOAD, plan, attempt=attempt, reported=reported)
    assert collected.run_dir == str(plan.run_dir)
    assert collected.files == [str(plan.run_dir / name) for name in files]
    assert all(Path(f).read_bytes() == f"rows of {Path(f).name}".encode() for f in collected.files)
    assert collected.consistent is True
    assert collected.generator_host == {"hostname": "the-pod"}
    saved = RunSummary.model_validate_json((plan.run_dir / SUMMARY_FILE).read_text())
    assert saved.files == collected.files  # the local summary.json says where the rows are now


def test_a_file_that_never_reached_the_bucket_makes_the_run_inconsistent(
    s3: Any, plan: RepetitionPlan, tmp_path: Path
) -> None:
    attempt = new_attempt()
    files = ["requests-w000.parquet", "requests-w001.parquet"]
    reported = upload_as_the_pod(s3, plan, attempt, tmp_path, files, uploaded=files[:1])
    collected = collect_results(s3, LOAD, plan, attempt=attempt, reported=reported)
    assert collected.consistent is False
    assert collected.files == [str(plan.run_dir / "requests-w000.parquet")]
    assert any("requests-w001.parquet never reached s3://" in p for p in collected.problems)


def test_without_a_pipes_message_the_summary_the_pod_uploaded_is_used(
    s3: Any, plan: RepetitionPlan, tmp_path: Path
) -> None:
    attempt = new_attempt()
    files = ["requests-w000.parquet"]
    upload_as_the_pod(s3, plan, attempt, tmp_path, files, uploaded=files)
    collected = collect_results(s3, LOAD, plan, attempt=attempt, reported=None)
    assert collected.files == [str(plan.run_dir / "requests-w000.parquet")]


def test_a_pod_that_left_nothing_fails_the_repetition_naming_where_it_looked(
    s3: Any, plan: RepetitionPlan
) -> None:
    attempt = new_attempt()
    with pytest.raises(RuntimeError, match=f"left no summary.json in s3://{BUCKET}/loadgen/"):
        collect_results(s3, LOAD, plan, attempt=attempt, reported=None)


def test_a_retried_run_never_sees_an_earlier_attempts_files(
    s3: Any, plan: RepetitionPlan, tmp_path: Path
) -> None:
    first, second = new_attempt(), new_attempt()
    assert first != second
    many = ["requests-w000.parquet", "requests-w001.parquet", "requests-w002.parquet"]
    upload_as_the_pod(s3, plan, first, tmp_path / "1", many, uploaded=many)
    reported = upload_as_the_pod(s3, plan, second, tmp_path / "2", many[:1], uploaded=many[:1])
    collected = collect_results(s3, LOAD, plan, attempt=second, reported=reported)
    assert [Path(f).name for f in collected.files] == many[:1]
    assert LOAD.results_prefix(plan.run_id, second).startswith(f"loadgen/{plan.run_id}/")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://bucket-a/loadgen/run/1/", ("bucket-a", "loadgen/run/1/")),
        ("s3://bucket-a/loadgen/run/1", ("bucket-a", "loadgen/run/1/")),
        ("s3://bucket-a", ("bucket-a", "")),
    ],
)
def test_an_s3_uri_names_a_bucket_and_a_prefix(uri: str, expected: tuple[str, str]) -> None:
    assert parse_s3_uri(uri) == expected


@pytest.mark.parametrize("uri", ["/tmp/results", "https://bucket/x", "s3:///x"])
def test_anything_but_an_s3_uri_is_refused(uri: str) -> None:
    with pytest.raises(ValueError, match="is not an s3://bucket/prefix/ URI"):
        parse_s3_uri(uri)


def test_the_pod_uploads_its_run_directory_whatever_the_runner_exits_with(
    s3: Any, plan: RepetitionPlan, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {}

    def runner(plan_path: Path, env: dict[str, str]) -> int:
        seen.update(plan=RepetitionPlan.read(plan_path), env=env)
        (plan_path.parent / "requests-w000.parquet").write_text("rows")
        return 1  # e.g. an inconsistent run: its rows still travel

    monkeypatch.setattr(in_pod, "run_runner", runner)
    results = f"s3://{BUCKET}/loadgen/{plan.run_id}/pod-test/"
    environ = {in_pod.PLAN_JSON_ENV: plan.model_dump_json(), "DAGSTER_PIPES_CONTEXT": "ctx"}
    code = in_pod.main(["--work-dir", str(tmp_path / "work"), "--results", results], environ, s3=s3)
    assert code == 1
    assert seen["plan"].run_dir == tmp_path / "work" / "loadgen" / plan.run_id
    assert seen["env"] == {"DAGSTER_PIPES_CONTEXT": "ctx"}  # the plan travels as its file
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"loadgen/{plan.run_id}/pod-test/")
    assert {Path(o["Key"]).name for o in listed["Contents"]} == {
        "plan.json",
        "requests-w000.parquet",
    }


def test_a_pod_without_a_plan_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--work-dir", str(tmp_path), "--results", f"s3://{BUCKET}/x/"]
    assert in_pod.main(argv, {}) == in_pod.EXIT_USAGE
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"in_pod: error: ${in_pod.PLAN_JSON_ENV} or --results:")


def test_a_pod_that_cannot_store_its_rows_fails_in_one_line(
    s3: Any,
    plan: RepetitionPlan,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(in_pod, "run_runner", lambda path, env: 0)
    argv = ["--work-dir", str(tmp_path), "--results", "s3://no-such-bucket-here/x/"]
    assert in_pod.main(argv, {in_pod.PLAN_JSON_ENV: plan.model_dump_json()}, s3=s3) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"in_pod: uploading {tmp_path}/loadgen/{plan.run_id} to s3://no-such")
