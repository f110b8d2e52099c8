"""Build steps: the image context digest, the no-engine path, and the model description."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nlp_bench_pipeline.artifacts import image
from nlp_bench_pipeline.artifacts.image import build_image, context_digest, context_files
from nlp_bench_pipeline.artifacts.model_artifact import ModelDescribeError, describe_model

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def context_copy(tmp_path: Path) -> Path:
    for rel in context_files(ROOT):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / rel, tmp_path / rel)
    return tmp_path


def test_context_is_what_the_dockerfile_copies() -> None:
    files = {str(p) for p in context_files(ROOT)}
    assert "infra/docker/Dockerfile" in files
    assert "infra/docker/requirements.txt" in files
    assert "inference_service/app.py" in files
    assert not any("__pycache__" in f or f.startswith("nlp_bench_pipeline") for f in files)


def test_context_digest_is_stable_and_tracks_code_and_model(context_copy: Path) -> None:
    first = context_digest("synthetic", context_copy)
    assert first == context_digest("synthetic", context_copy)
    assert first != context_digest("tiny", context_copy)
    (context_copy / "inference_service" / "app.py").write_text("# changed\n")
    assert context_digest("synthetic", context_copy) != first


def test_without_a_docker_engine_only_the_context_is_recorded(monkeypatch) -> None:
    monkeypatch.setattr(image, "docker_engine", lambda: None)
    build = build_image("synthetic", ROOT)
    assert build.built is False
    assert build.note.startswith("no Docker engine: context only")
    assert build.tag.startswith("nlp-bench-service:")
    assert build.context_digest == context_digest("synthetic", ROOT)


@pytest.mark.slow
def test_model_is_described_from_a_fresh_process() -> None:
    artifact = describe_model("tiny", threads=1)
    assert artifact.model_id == "tiny-distilbert"
    assert artifact.digest.startswith("sha256:")
    assert artifact.parameters > 1_000_000
    assert artifact.accuracy_meaningful is False
    assert artifact.load_seconds > 0


def test_model_that_cannot_load_fails_with_the_reason() -> None:
    with pytest.raises(ModelDescribeError, match="neither 'synthetic'"):
        describe_model("/no/such/dir", threads=1)
