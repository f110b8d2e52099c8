"""The import rules of docs/architecture.md, checked on every module's source.

Each package may import only the packages its row allows (imports inside functions count too);
the plain-Python packages import no Dagster and no settings; the pipeline imports nothing of the
service but its dependency-free contract. A new package must be given a row here and in the doc.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "nlp_bench_pipeline"
CONTRACT = "inference_service.contract"

# package → the project packages its modules may import (besides itself and the contract).
ALLOWED: dict[str, set[str]] = {
    "core": set(),
    "settings": set(),
    "store": {"core"},
    "targets": {"core", "client"},
    "loadgen": {"core", "store"},
    "artifacts": {"core"},
    "costs": {"core", "store"},
    "simulate": {"core", "store", "costs", "targets", "loadgen"},
    "sweep": {"core", "targets", "client", "costs"},
    "analysis": {"core"},
    "client": {"core"},
    "report": {"core", "store", "costs", "simulate", "analysis", "bench"},
    "bench": {"core", "store", "targets", "loadgen", "client"},
    "peak": {"core", "store", "bench", "loadgen", "targets", "simulate", "costs", "sweep"},
    "lib": {"core", "bench", "targets", "store"},
    "defs": {"*"},
    "cli": {"*"},
    "definitions": {"defs"},
}
# Packages that know nothing of Dagster (dagster-pipes is allowed where the runner reports).
NO_DAGSTER = {"core", "store", "targets", "loadgen", "artifacts", "costs", "simulate",
              "sweep", "analysis", "client", "report", "bench", "peak"}  # fmt: skip
PIPES_ALLOWED = {"nlp_bench_pipeline/loadgen/reporting.py"}


@functools.cache
def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def package_of(path: Path) -> str:
    parts = path.relative_to(PIPELINE).parts
    return parts[0].removesuffix(".py")


def pipeline_modules() -> list[Path]:
    return sorted(
        p for p in PIPELINE.rglob("*.py") if p.name != "__init__.py" or p.parent != PIPELINE
    )


# Every source is parsed once, as the suite is collected: CPython 3.11's AST validator raises
# "SystemError: AST constructor recursion depth mismatch" for an ast.parse made after a test
# (hypothesis) has moved the recursion limit.
for _source in [*pipeline_modules(), *(ROOT / "inference_service").rglob("*.py")]:
    imports_of(_source)


@pytest.mark.parametrize("path", pipeline_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_what_its_package_may(path: Path) -> None:
    package = package_of(path)
    assert package in ALLOWED, f"{package} has no import rule: add it here and to the doc"
    allowed = ALLOWED[package]
    entry_point = path.name == "__main__.py"
    for name in imports_of(path):
        if name.startswith("inference_service"):
            assert name == CONTRACT, f"{path.name} imports {name}: only {CONTRACT} is shared"
            continue
        if not name.startswith("nlp_bench_pipeline."):
            continue
        other = name.split(".")[1]
        if other == package or "*" in allowed:
            continue
        if other == "settings" and entry_point:
            continue  # standalone entry points read the settings
        assert other in allowed, f"{path.relative_to(ROOT)} ({package}) imports {name}"


@pytest.mark.parametrize(
    "path",
    [p for p in pipeline_modules() if package_of(p) in NO_DAGSTER],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_plain_python_packages_import_no_dagster(path: Path) -> None:
    rel = str(path.relative_to(ROOT))
    for name in imports_of(path):
        top = name.split(".")[0]
        if top == "dagster_pipes" and rel in PIPES_ALLOWED:
            continue
        assert not top.startswith("dagster"), f"{rel} imports {name}"


def test_the_ground_floor_imports_nothing_of_the_project() -> None:
    for path in (PIPELINE / "core").rglob("*.py"):
        for name in imports_of(path):
            assert not name.startswith(
                ("nlp_bench_pipeline", "inference_service")
            ) or name.startswith("nlp_bench_pipeline.core"), f"{path.name} imports {name}"


def test_the_service_imports_nothing_of_the_pipeline_and_its_contract_nothing_at_all() -> None:
    service = ROOT / "inference_service"
    for path in service.rglob("*.py"):
        assert not any(n.startswith("nlp_bench_pipeline") for n in imports_of(path)), path.name
    contract = imports_of(service / "contract.py")
    assert all(name.split(".")[0] in {"__future__", "importlib", "collections", "pathlib",
                                       "typing"} for name in contract), contract  # fmt: skip


def test_the_architecture_page_lists_every_package_of_the_rules() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text()
    missing = [package for package in ALLOWED if f"`{package}`" not in page]
    assert not missing, f"docs/architecture.md does not describe {missing}"
