"""Every chart of a report: built from the store, written to a folder, read back for the report.

The ``comparison_charts`` asset builds and writes them; ``benchmark_report`` reads the folder's
manifest (``charts.json``) and the specs beside it, so the report shows exactly the charts the
asset made — and a chart family that had nothing to draw is in the manifest with its note.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.report import (
    capacity,
    cold_starts,
    costs,
    distribution,
    latency,
    throughput,
    timeline,
)
from nlp_bench_pipeline.report.chart import Chart
from nlp_bench_pipeline.report.render import write_chart
from nlp_bench_pipeline.store.database import MetricStore

FAMILIES = (latency, timeline, throughput, distribution, cold_starts, capacity, costs)
MANIFEST = "charts.json"


@dataclass(frozen=True)
class WrittenChart:
    """One chart of the manifest: what it is, and its files (none when it was not drawn)."""

    name: str
    title: str
    description: str
    note: str | None
    png: str | None
    html: str | None
    png_bytes: int | None
    render_s: float

    @property
    def drawn(self) -> bool:
        return self.png is not None


def build_charts(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    """Every family's charts for ``runs`` (rows of ``report_queries.report_runs``)."""
    return [chart for family in FAMILIES for chart in family.build(store, runs)]


def write_charts(charts: Sequence[Chart], folder: Path) -> list[WrittenChart]:
    """Each drawn chart's PNG, HTML and spec in ``folder``, and the manifest listing them all."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for chart in charts:
        started = time.perf_counter()
        files = write_chart(chart, folder) if chart.drawn else None
        written.append(
            WrittenChart(
                name=chart.name,
                title=chart.title,
                description=chart.description,
                note=chart.note,
                png=files.png_path.name if files else None,
                html=files.html_path.name if files else None,
                png_bytes=files.png_bytes if files else None,
                render_s=round(time.perf_counter() - started, 3),
            )
        )
        if files is None:  # an earlier report's files of this chart would mislead
            for suffix in (".png", ".html", ".vl.json"):
                (folder / f"{chart.name}{suffix}").unlink(missing_ok=True)
    (folder / MANIFEST).write_text(json.dumps([vars(w) for w in written], indent=1))
    return written


def read_charts(folder: Path) -> list[Chart]:
    """The charts of ``folder``'s manifest with their specs; FileNotFoundError without one."""
    manifest = json.loads((folder / MANIFEST).read_text())
    charts = []
    for entry in manifest:
        spec_path = folder / f"{entry['name']}.vl.json"
        spec = json.loads(spec_path.read_text()) if entry["png"] else None
        charts.append(
            Chart(
                name=entry["name"],
                title=entry["title"],
                description=entry["description"],
                spec=spec,
                note=entry["note"],
            )
        )
    return charts
