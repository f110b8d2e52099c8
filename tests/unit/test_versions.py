"""Code versions move with the code they name, and only with it."""

from __future__ import annotations

import shutil
from pathlib import Path

from nlp_bench_pipeline.defs.bench.assets import CODE_VERSION
from nlp_bench_pipeline.lib.versions import PROJECT_ROOT, data_version, source_version

BENCH_CODE = ("nlp_bench_pipeline/bench", "nlp_bench_pipeline/loadgen", "nlp_bench_pipeline/store")


def copy_of(tmp_path: Path) -> Path:
    for package in BENCH_CODE:
        shutil.copytree(PROJECT_ROOT / package, tmp_path / package,
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    return tmp_path


def test_the_version_changes_when_a_file_of_the_benchmark_code_changes(tmp_path) -> None:
    root = copy_of(tmp_path)
    before = source_version(*BENCH_CODE, root=root)
    assert before == source_version(*BENCH_CODE, root=root)
    cell = root / "nlp_bench_pipeline" / "bench" / "cell.py"
    cell.write_text(cell.read_text() + "\n# changed\n")
    assert source_version(*BENCH_CODE, root=root) != before


def test_a_file_outside_the_named_packages_does_not_change_it(tmp_path) -> None:
    root = copy_of(tmp_path)
    before = source_version(*BENCH_CODE, root=root)
    (root / "README.md").write_text("unrelated")
    assert source_version(*BENCH_CODE, root=root) == before


def test_the_benchmark_runs_record_a_digest_not_a_constant() -> None:
    assert CODE_VERSION != "1"
    assert len(CODE_VERSION) == 16


def test_data_versions_change_with_any_input() -> None:
    assert data_version("sha256:a", "img", "code", "{}") != data_version(
        "sha256:b", "img", "code", "{}"
    )
