"""docs/benchmarks.md says when a figure was measured on a tree that differs from its commit."""

from __future__ import annotations

import subprocess
from pathlib import Path

from benchmarks.report import git_commit


def repo(tmp_path: Path) -> Path:
    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    git("config", "user.email", "t@example.com")
    git("config", "user.name", "t")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "benchmarks.md").write_text("# Benchmarks\n")
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "service.py").write_text("x = 1\n")
    git("add", ".")
    git("commit", "-q", "-m", "init")
    return tmp_path


def test_a_clean_tree_is_just_the_commit(tmp_path: Path) -> None:
    assert not git_commit(repo(tmp_path)).endswith("+changes")


def test_the_reports_own_edits_do_not_mark_the_tree_changed(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "docs" / "benchmarks.md").write_text("# Benchmarks\nnew section\n")
    assert not git_commit(root).endswith("+changes")


def test_an_edited_benchmark_marks_the_tree_changed(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "benchmarks" / "service.py").write_text("x = 2\n")
    assert git_commit(root).endswith("+changes")


def test_a_new_untracked_source_file_marks_the_tree_changed(tmp_path: Path) -> None:
    root = repo(tmp_path)
    (root / "inference_service.py").write_text("new\n")
    assert git_commit(root).endswith("+changes")
