"""The three steps from a metric store to a report folder, as the assets and ``nlp-bench report``
run them: charts, analysis, page.

The folder (``data/report`` by default; the caller passes it) holds::

    index.html                          the report (self-contained)
    history/report-<newest run>-<profile>.html   the same, kept per run series
    charts/<name>.png|.html|.vl.json    each chart, and charts.json listing them all
    analysis.json                       the analysis, its facts and its grounding

A report covers the latest complete series of every (target, scenario) of one profile — the
newest run's, unless the caller names one — and, as its headline, the newest peak-rate search of
each target of that profile (``report.peak``). The probes of a search are runs of scenario
``peak`` at rates the search chose; they are shown with their search, not as a scenario. Each
step reads what the one before it wrote, so ``benchmark_report`` shows exactly the charts and
the analysis their assets made.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlp_bench_pipeline.analysis import DEFAULT_MODELS
from nlp_bench_pipeline.report.charts import WrittenChart, build_charts, read_charts, write_charts
from nlp_bench_pipeline.report.page import render_page
from nlp_bench_pipeline.report.peak import peak_figures
from nlp_bench_pipeline.report.sre import SreAnalysis, analyse, fact_sections, read_analysis
from nlp_bench_pipeline.report.sre import write_analysis as save_analysis
from nlp_bench_pipeline.report.tables import VerdictRow, slo_rows, verdict_rows
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.peak import PEAK_SCENARIO
from nlp_bench_pipeline.store.report_queries import (
    economics_tables,
    latest_rows,
    newest_profile,
    report_runs,
)

CHARTS_DIR = "charts"
HISTORY_DIR = "history"
INDEX = "index.html"


@dataclass(frozen=True)
class Scope:
    """The runs a report covers."""

    profile: str | None
    runs: list[dict[str, Any]]

    @property
    def newest_finish(self) -> dt.datetime | None:
        return max((r["finished_at"] for r in self.runs if r.get("finished_at")), default=None)


def scope(store: MetricStore, profile: str | None = None) -> Scope:
    """The latest complete runs of ``profile`` (default: the newest run's profile), peak-rate
    probes left to the headline."""
    chosen = profile or newest_profile(store)
    runs = report_runs(store, chosen) if chosen else []
    return Scope(profile=chosen, runs=[r for r in runs if r["scenario"] != PEAK_SCENARIO])


def write_charts_for(store: MetricStore, folder: Path, covered: Scope) -> list[WrittenChart]:
    """Step 1: every chart of ``covered`` into ``folder/charts``."""
    return write_charts(build_charts(store, covered.runs), folder / CHARTS_DIR)


def write_analysis_for(
    store: MetricStore,
    folder: Path,
    covered: Scope,
    *,
    api_key: str | None,
    models: Sequence[str] = DEFAULT_MODELS,
    base_url: str | None = None,
) -> SreAnalysis:
    """Step 2: the SRE analysis of ``covered`` into ``folder/analysis.json``."""
    result = analyse(
        fact_sections(store, covered.runs), api_key=api_key, models=models, base_url=base_url
    )
    save_analysis(result, folder)
    return result


@dataclass(frozen=True)
class ReportFiles:
    """What ``write_report`` wrote, and the verdict it put at the top."""

    index: Path
    dated: Path
    charts_drawn: int
    charts_missing: int
    bytes: int
    verdicts: list[VerdictRow]


def write_report(
    store: MetricStore, folder: Path, covered: Scope, *, now: dt.datetime | None = None
) -> ReportFiles:
    """Step 3: ``index.html`` and its dated copy from the runs, the charts and the analysis."""
    now = now or dt.datetime.now(dt.UTC)
    notes = []
    try:
        charts = read_charts(folder / CHARTS_DIR)
    except FileNotFoundError:
        charts = []
        notes.append(
            "No charts were made for these runs (the comparison_charts asset has not run)."
        )
    try:
        analysis: SreAnalysis | None = read_analysis(folder)
    except FileNotFoundError:
        analysis = None
    verdicts = verdict_rows(covered.runs, _estimates(store))
    html = render_page(
        runs=covered.runs,
        verdicts=verdicts,
        slo=slo_rows(covered.runs),
        charts=charts,
        analysis=analysis,
        profile=covered.profile,
        generated_at=now,
        notes=notes,
        peak=peak_figures(store, covered.profile),
    )
    index = folder / INDEX
    folder.mkdir(parents=True, exist_ok=True)
    index.write_text(html)
    dated = folder / HISTORY_DIR / dated_name(covered, now)
    dated.parent.mkdir(exist_ok=True)
    dated.write_text(html)
    drawn = sum(chart.drawn for chart in charts)
    return ReportFiles(index, dated, drawn, len(charts) - drawn, len(html.encode()), verdicts)


def dated_name(covered: Scope, now: dt.datetime) -> str:
    """``report-<newest run's finish, UTC>-<profile>.html``: one file per run series, so
    rendering the same runs again replaces it and a new benchmark adds one."""
    stamp = (covered.newest_finish or now).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"report-{stamp}-{covered.profile or 'none'}.html"


def _estimates(store: MetricStore) -> list[Mapping[str, Any]]:
    if "cost_estimates" not in economics_tables(store):
        return []
    return latest_rows(store, "cost_estimates")
