"""Sections of docs/benchmarks.md, each with machine, date and the ratio to its baseline."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by `make benchmark` (`python -m benchmarks [name ...]`); each section is replaced when its
benchmark runs again, and says on which machine and when it was measured. Every figure is set
against a baseline measured in the same run, so the ratio means something even where the
absolute numbers depend on the machine.
"""


def machine() -> dict[str, str]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        memory = "unknown"
    return {
        "cpu": cpu,
        "cores": str(len(os.sched_getaffinity(0))),
        "memory": memory,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "commit": git_commit(),
    }


def git_commit(root: Path = ROOT) -> str:
    """HEAD's short hash, with ``+changes`` when anything measured differs from it.

    Anything under the repository counts — code, benchmarks, the lock, untracked files that are
    not ignored — except ``docs/``, which the report itself rewrites as sections are written.
    """

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=root
        ).stdout.strip()

    try:
        dirty = git("status", "--porcelain", "--untracked-files=normal", "--", ".", ":!docs")
        return git("rev-parse", "--short", "HEAD") + ("+changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table; floats get two decimals."""

    def cell(value: object) -> str:
        return f"{value:,.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Section:
    """One benchmark's results: prose, tables, and the raw figures for machines to read."""

    key: str
    title: str
    body: str
    passed: bool | None = None  # against its target, where it has one
    figures: dict[str, object] = field(default_factory=dict)
    measured_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def render(self, host: dict[str, str]) -> str:
        verdict = {True: "meets its target", False: "MISSES its target", None: "no target"}
        return "\n".join(
            [
                f"<!-- benchmark:{self.key}:start -->",
                f"## {self.title}",
                "",
                f"Measured {self.measured_at:%Y-%m-%d %H:%M} UTC on {host['cpu']}, "
                f"{host['cores']} cores, {host['memory']}, Python {host['python']}, "
                f"commit {host['commit']}. Result: **{verdict[self.passed]}**.",
                "",
                self.body.strip(),
                "",
                "<details><summary>raw figures</summary>",
                "",
                "```json",
                json.dumps(self.figures, indent=2, default=str),
                "```",
                "</details>",
                f"<!-- benchmark:{self.key}:end -->",
            ]
        )


def write_sections(sections: Sequence[Section], path: Path = REPORT) -> None:
    """Replace (or append) each section in ``path``, leaving the others as they were."""
    text = path.read_text() if path.exists() else HEADER
    host = machine()
    for section in sections:
        block = section.render(host)
        pattern = re.compile(
            rf"<!-- benchmark:{re.escape(section.key)}:start -->.*?"
            rf"<!-- benchmark:{re.escape(section.key)}:end -->",
            re.DOTALL,
        )
        if pattern.search(text):
            text = pattern.sub(lambda _, block=block: block, text)
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
