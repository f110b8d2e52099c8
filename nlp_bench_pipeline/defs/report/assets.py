"""[report] What a person reads: the charts, the SRE analysis and the HTML report.

Each asset is a few lines over ``nlp_bench_pipeline.report.build``; they cover the latest
complete runs of the newest run's profile, and write into the ``report`` resource's folder
(``data/report``), where ``benchmark_report`` reads what the other two wrote. The charts are in
the asset's metadata too, as PNGs embedded in Markdown, so the Dagster UI shows them.
"""

import base64
from pathlib import Path

import dagster as dg

from nlp_bench_pipeline.defs.economics.assets import cost_estimates, memory_sweep
from nlp_bench_pipeline.defs.metrics.assets import platform_metrics, run_summary
from nlp_bench_pipeline.defs.report.resources import GroqResource
from nlp_bench_pipeline.defs.resources import MetricStoreResource, ReportResource
from nlp_bench_pipeline.lib.tables import markdown_table
from nlp_bench_pipeline.lib.versions import source_version
from nlp_bench_pipeline.report.build import (
    CHARTS_DIR,
    scope,
    write_analysis_for,
    write_charts_for,
    write_report,
)
from nlp_bench_pipeline.report.charts import WrittenChart
from nlp_bench_pipeline.report.sre import SreAnalysis

REPORT_VERSION = source_version(
    "nlp_bench_pipeline/report",
    "nlp_bench_pipeline/analysis",
    "nlp_bench_pipeline/bench/verdict.py",
    "nlp_bench_pipeline/store/report_queries.py",
    "nlp_bench_pipeline/defs/report",
)
VERDICT_COLUMNS = {
    "scenario": "scenario",
    "target": "target",
    "slo_met": "SLO met",
    "p99_ms": "p99 ms (every request)",
    "p99_ok_ms": "p99 ms (successes)",
    "cold_starts": "cold starts",
    "failed_share": "failed",
    "cost_per_million_usd": "$ / million",
}


@dg.asset(
    deps=[run_summary, platform_metrics, cost_estimates, memory_sweep],
    group_name="report",
    kinds={"altair", "duckdb"},
    code_version=REPORT_VERSION,
    description="Charts of the latest complete runs, from DuckDB: latency percentiles (every "
    "request) and where a warm request's time went, latency over time with the platform's "
    "events, throughput vs offered load, the latency CDF, the cold-start breakdown, Lambda "
    "concurrency and pods over time, and (from the economics tables) cost per million vs "
    "rate and the memory-size sweep. PNG and interactive HTML under data/report/charts; the "
    "PNGs are shown below. Look at each chart's entry ([Show Markdown] opens it) and "
    "`charts_drawn`; a chart with nothing to draw says why instead.",
)
def comparison_charts(
    context: dg.AssetExecutionContext, duckdb: MetricStoreResource, report: ReportResource
) -> dg.MaterializeResult:
    store = duckdb.get_store()
    covered = scope(store)
    written = write_charts_for(store, report.path, covered)
    for chart in written:
        if not chart.drawn:
            context.log.info(f"{chart.name} not drawn: {chart.note}")
    folder = report.path / CHARTS_DIR
    return dg.MaterializeResult(
        metadata={
            "profile": covered.profile or "–",
            "runs": len(covered.runs),
            "charts_drawn": sum(c.drawn for c in written),
            "render_s": dg.MetadataValue.float(round(sum(c.render_s for c in written), 3)),
            "png_bytes": dg.MetadataValue.json({c.name: c.png_bytes for c in written if c.drawn}),
            "folder": dg.MetadataValue.path(str(folder)),
            **{c.name: dg.MetadataValue.md(_chart_markdown(c, folder)) for c in written},
        }
    )


def _chart_markdown(chart: WrittenChart, folder: Path) -> str:
    """The chart's PNG inline (a data URI: the UI's Markdown keeps ``data:`` images), its
    caption, and why it is missing when it is."""
    lines = [f"**{chart.title}**", ""]
    if chart.png is not None:
        encoded = base64.b64encode((folder / chart.png).read_bytes()).decode()
        lines += [f"![{chart.title}](data:image/png;base64,{encoded})", ""]
    if chart.note:
        lines += [f"_{chart.note}_", ""]
    return "\n".join([*lines, chart.description])


@dg.asset(
    deps=[run_summary, platform_metrics, cost_estimates],
    group_name="report",
    kinds={"python", "duckdb"},
    code_version=REPORT_VERSION,
    description="A short SRE report on the latest complete runs — findings, evidence, "
    "recommendations — written by a Groq-hosted Llama model when GROQ_API_KEY is set, "
    "otherwise by the offline analyst's rules, from the same bounded facts (aggregates only: "
    "no key, hostname, path or raw row). Its check holds every number to those facts. Look at "
    "`summary`, `findings` and `recommendations`, `written_by` (the model or the offline "
    "rules) and `grounded` (every number found in the facts).",
)
def sre_analysis(
    context: dg.AssetExecutionContext,
    duckdb: MetricStoreResource,
    report: ReportResource,
    groq: GroqResource,
) -> dg.MaterializeResult:
    store = duckdb.get_store()
    result = write_analysis_for(
        store,
        report.path,
        scope(store),
        api_key=groq.api_key,
        models=groq.models,
        base_url=groq.base_url,
    )
    for warning in result.analysis.warnings:
        context.log.warning(warning)
    context.log.info(f"analysis written by {_author(result)}")
    return dg.MaterializeResult(metadata=analysis_metadata(result))


def _author(result: SreAnalysis) -> str:
    if result.by_model:
        return f"the Groq model {result.analysis.author.removeprefix('groq:')}"
    return f"the offline analyst ({result.why_offline})"


def analysis_metadata(result: SreAnalysis) -> dict[str, dg.MetadataValue]:
    analysis = result.analysis
    findings = "\n".join(f"- **{f.title}**: {f.detail}" for f in analysis.findings)
    recommendations = "\n".join(
        f"- **{r.action}** ({r.area}): {r.rationale}" for r in analysis.recommendations
    )
    return {
        "written_by": dg.MetadataValue.text(_author(result)),
        "author": dg.MetadataValue.text(analysis.author),
        "summary": dg.MetadataValue.md(analysis.summary),
        "findings": dg.MetadataValue.md(findings or "none"),
        "recommendations": dg.MetadataValue.md(recommendations or "none"),
        "warnings": dg.MetadataValue.json(analysis.warnings),
        "grounded": dg.MetadataValue.bool(result.grounding.grounded),
        "numbers_checked": dg.MetadataValue.int(result.grounding.numbers_checked),
        "fact_rows": dg.MetadataValue.int(len(result.facts.rows)),
        "facts_bytes": dg.MetadataValue.int(len(result.facts.to_prompt_json().encode())),
        "facts": dg.MetadataValue.md(f"```json\n{result.facts.to_prompt_json()}\n```"),
    }


@dg.asset(
    deps=[comparison_charts, sre_analysis],
    group_name="report",
    kinds={"html"},
    code_version=REPORT_VERSION,
    description="The benchmark report: one self-contained HTML file (data/report/index.html, "
    "and a dated copy per run series under history/) with the verdict per scenario, the "
    "charts, MLPerf-style SLO results, the analysis, the run configuration, the model and "
    "image digests and the host notes. Nothing is fetched when it is opened. Look at "
    "`verdict` (per scenario and target) and open `report` in a browser.",
)
def benchmark_report(
    context: dg.AssetExecutionContext, duckdb: MetricStoreResource, report: ReportResource
) -> dg.MaterializeResult:
    store = duckdb.get_store()
    covered = scope(store)
    files = write_report(store, report.path, covered)
    context.log.info(f"report: {files.index} ({files.bytes:,} bytes)")
    verdicts = [vars(row) for row in files.verdicts]
    return dg.MaterializeResult(
        metadata={
            "report": dg.MetadataValue.path(str(files.index)),
            "dated_copy": dg.MetadataValue.path(str(files.dated)),
            "bytes": dg.MetadataValue.int(files.bytes),
            "charts_drawn": dg.MetadataValue.int(files.charts_drawn),
            "charts_not_drawn": dg.MetadataValue.int(files.charts_missing),
            "verdict": dg.MetadataValue.md(markdown_table(verdicts, VERDICT_COLUMNS)),
        }
    )
