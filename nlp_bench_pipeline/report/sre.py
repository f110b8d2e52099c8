"""The SRE analysis of a report's runs: facts from the store, an analyst, the grounding check.

The facts are aggregate rows only, and few of them (``analysis.facts`` bounds the document to
``max_bytes`` and filters out anything that looks like a key, a hostname or a path):

- ``run_summary`` — per run, the figures a reader of the report looks at (:data:`RUN_FIELDS`,
  and ``host_limited_share`` as ``machine_limited_share``: the facts filter drops any field
  named for a host);
- ``slowest_requests`` — per run, how many of its ten slowest ok requests were cold starts or
  host-limited (``machine_limited``);
- ``platform_metrics`` — per run, what the platform did (:data:`PLATFORM_FIELDS`);
- ``costs`` and ``breakeven`` — the economics stage's chosen configurations and break-even
  rates, when its tables exist in the store.

Who writes the analysis: the Groq model when the caller passes a key (the Dagster layer reads
``GROQ_API_KEY`` through ``dg.EnvVar``), else the offline rules; either way ``Analysis.author``
says which, and ``why_offline`` says why the rules answered. The key goes to the ``groq`` client
and nowhere else: it is not in the facts, the result or any file this module writes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from nlp_bench_pipeline.analysis import (
    DEFAULT_MODELS,
    Analysis,
    FactsDocument,
    FactSection,
    GroundingReport,
    analyse_offline,
    analyse_with_groq,
    build_facts,
    check_grounding,
)
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.platform_metrics import platform_figures
from nlp_bench_pipeline.store.report_queries import economics_tables, latest_rows, slowest_requests

ANALYSIS_FILE = "analysis.json"
SLOWEST_N = 10
MAX_FACT_BYTES = 8192
RUN_FIELDS = (
    "requests",
    "ok",
    "errors",
    "dropped",
    "error_rate",
    "failed_share",
    "offered_rps",
    "throughput_rps",
    "p50_ms",
    "p99_ms",
    "p99_corrected_ms",
    "p99_is_failure",
    "p99_ok_ms",
    "p99_platform_ms",
    "cold_starts",
    "cold_start_p50_ms",
    "cold_start_init_p50_ms",
    "cold_start_wait_p50_ms",
    "time_to_first_success_ms",
    "slo_p99_ms",
    "slo_met",
    "scale_out_served",
)
PLATFORM_FIELDS = (
    "init_p50_ms",
    "init_max_ms",
    "throttles",
    "gateway_timeouts",
    "function_timeouts",
    "init_timeouts",
    "crashes",
    "evictions",
    "scale_outs",
    "pod_ready_p50_ms",
    "nodes_added",
    "peak_cpu_pct",
    "peak_rss_mb",
)
NO_KEY = "GROQ_API_KEY is not set"


class SreAnalysis(BaseModel):
    """The analysis, the facts it was written from, and whether its numbers are grounded."""

    model_config = ConfigDict(frozen=True)

    analysis: Analysis
    facts: FactsDocument
    grounding: GroundingReport
    why_offline: str | None = None

    @property
    def by_model(self) -> bool:
        return self.analysis.author != "offline"


def fact_sections(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[FactSection]:
    """The aggregate rows the analysts read (see the module docstring)."""
    ids = [run["run_id"] for run in runs]
    keyed = {run["run_id"]: _key(run) for run in runs}
    sections = [
        FactSection(
            "run_summary",
            [
                {**keyed[r["run_id"]], **_pick(r, RUN_FIELDS), **_renamed(r, "host_limited_share")}
                for r in runs
            ],
        ),
        FactSection(
            "slowest_requests",
            [
                {
                    **keyed[row["run_id"]],
                    **_pick(row, ("requests", "cold_starts")),
                    **_renamed(row, "host_limited"),
                }
                for row in slowest_requests(store, ids, SLOWEST_N)
            ],
        ),
        FactSection(
            "platform_metrics",
            [
                {**keyed[row["run_id"]], **_pick(row, PLATFORM_FIELDS)}
                for row in platform_figures(store, ids)
            ],
        ),
    ]
    return sections + _economics_sections(store)


def _key(run: Mapping[str, Any]) -> dict[str, Any]:
    """A run's key fields; the repetition only where its series has more than one."""
    key = {name: run[name] for name in ("target", "scenario", "profile")}
    if (run.get("repetitions") or 1) > 1:
        key["repetition"] = run["repetition"]
    return key


def _pick(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {name: row[name] for name in fields if row.get(name) is not None}


def _renamed(row: Mapping[str, Any], field: str) -> dict[str, Any]:
    """``host_limited*`` as ``machine_limited*``: the facts filter drops any field named for a
    host (it would drop a hostname), and these count requests the local machine limited."""
    value = row.get(field)
    return {} if value is None else {field.replace("host_", "machine_", 1): value}


def _economics_sections(store: MetricStore) -> list[FactSection]:
    present = economics_tables(store)
    sections = []
    if "cost_estimates" in present:
        chosen = [row for row in latest_rows(store, "cost_estimates") if row["chosen"]]
        sections.append(
            FactSection(
                "costs",
                [
                    {
                        "target": row["platform"],
                        "traffic": row["traffic_profile"],
                        "mean_rps": row["mean_rps"],
                        "cost_per_million_usd": row["usd_per_million_inferences"],
                        "month_usd": row["usd_per_month"],
                        "meets_slo": row["meets_slo"],
                    }
                    for row in chosen
                ],
                keys=("target", "traffic"),
            )
        )
    if "cost_breakeven" in present:
        sections.append(
            FactSection(
                "breakeven",
                [
                    {
                        "shape": row["shape"],
                        "break_even_rps": row["rate_rps"],
                        "interval_low_rps": row["interval_low_rps"],
                        "interval_high_rps": row["interval_high_rps"],
                        "cheaper_below": row["cheaper_below"],
                        "lambda_memory_mb": row["lambda_memory_mb"],
                        "pod_capacity_rps": row["pod_capacity_rps"],
                    }
                    for row in latest_rows(store, "cost_breakeven")
                ],
                keys=("shape",),
            )
        )
    return sections


def analyse(
    sections: Sequence[FactSection],
    *,
    api_key: str | None,
    models: Sequence[str] = DEFAULT_MODELS,
    base_url: str | None = None,
    timeout_s: float = 60.0,
    max_fact_bytes: int = MAX_FACT_BYTES,
) -> SreAnalysis:
    """The analysis of ``sections``: by Groq with ``api_key``, else by the offline rules."""
    facts = build_facts(sections, max_bytes=max_fact_bytes)
    if api_key:
        analysis = analyse_with_groq(
            facts, api_key=api_key, models=models, base_url=base_url, timeout_s=timeout_s
        )
        why = "; ".join(analysis.warnings) if analysis.author == "offline" else None
    else:
        analysis, why = analyse_offline(facts), NO_KEY
    return SreAnalysis(
        analysis=analysis,
        facts=facts,
        grounding=check_grounding(analysis, facts),
        why_offline=why,
    )


def write_analysis(result: SreAnalysis, folder: Path) -> Path:
    """``analysis.json`` in ``folder``: what ``benchmark_report`` and the check read."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / ANALYSIS_FILE
    path.write_text(result.model_dump_json(indent=1))
    return path


def read_analysis(folder: Path) -> SreAnalysis:
    """The analysis ``write_analysis`` left in ``folder``; FileNotFoundError without one."""
    return SreAnalysis.model_validate(json.loads((folder / ANALYSIS_FILE).read_text()))
