"""Code versions that move with the code: a digest of the source an asset depends on.

Dagster re-materialises (and the store records) by ``code_version``; a constant "1" never
changed through a dozen commits that changed what the benchmark measures. The version of an
asset is the sha256 of the files of the packages it runs — their relative paths and bytes — so
any edit to them is a new version, and an edit elsewhere is not.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from nlp_bench_pipeline.core.processes import code_root

SOURCE_SUFFIXES = frozenset({".py", ".sql", ".yaml", ".yml", ".json", ".txt", ".in"})
SKIPPED_PARTS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache"})
PROJECT_ROOT = code_root("nlp_bench_pipeline")


def source_files(root: Path, packages: Iterable[str]) -> list[Path]:
    """The source files under each of ``packages`` (paths relative to ``root``), sorted."""
    found: set[Path] = set()
    for package in packages:
        base = root / package
        candidates = [base] if base.is_file() else base.rglob("*")
        for path in candidates:
            if (
                path.is_file()
                and path.suffix in SOURCE_SUFFIXES
                and not (SKIPPED_PARTS & set(path.parts))
            ):
                found.add(path.relative_to(root))
    return sorted(found)


def source_version(*packages: str, root: Path = PROJECT_ROOT) -> str:
    """A short digest of the sources of ``packages`` (e.g. ``"nlp_bench_pipeline/store"``)."""
    hasher = hashlib.sha256()
    for rel in source_files(root, packages):
        hasher.update(str(rel).encode() + b"\0" + (root / rel).read_bytes() + b"\0")
    return hasher.hexdigest()[:16]


def data_version(*parts: object) -> str:
    """A digest of what an output was made from (model, image, code, configuration)."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]
