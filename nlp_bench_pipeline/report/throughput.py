"""Throughput against offered load: what each platform served of what it was sent.

Large hollow points are whole runs (``run_summary``: ``offered_rps`` = scheduled requests ÷ the
measure phase's configured length, ``throughput_rps`` = ok responses ÷ the same length, so a run
can never sit above the diagonal); small points are time buckets of the measure phase (requests
intended in the bucket, and those of them that succeeded, per second), so a ramp shows where
serving fell behind. On the dashed diagonal everything offered was served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.report.chart import (
    WIDTH,
    Chart,
    finish,
    not_drawn,
    plain,
    run_ids,
    run_label,
    target_scale,
)
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import throughput_buckets

TITLE = "Throughput vs offered load"
TEXT = (
    "Served (ok) requests per second against offered: large hollow points are whole runs over "
    "the measure phase's configured length, small points its time buckets; on the dashed "
    "diagonal every request offered was served."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    return [throughput_chart(runs, throughput_buckets(store, run_ids(runs)))]


def throughput_chart(
    runs: Sequence[Mapping[str, Any]], buckets: Sequence[Mapping[str, Any]]
) -> Chart:
    by_id = {run["run_id"]: run for run in runs}
    whole = [
        {
            "run": run_label(run),
            "target": run["target"],
            "scenario": run["scenario"],
            "offered_rps": run["offered_rps"],
            "served_rps": run["throughput_rps"],
        }
        for run in runs
        if run.get("offered_rps") is not None and run.get("throughput_rps") is not None
    ]
    if not whole:
        return not_drawn("throughput", TITLE, TEXT, "no run has a measured phase yet")
    parts = [
        {
            "run": run_label(by_id[b["run_id"]]),
            "target": by_id[b["run_id"]]["target"],
            "scenario": by_id[b["run_id"]]["scenario"],
            "offered_rps": b["offered_rps"],
            "served_rps": b["served_rps"],
            "t_s": b["t_s"],
        }
        for b in buckets
        if b["run_id"] in by_id
    ]
    top = max(row["offered_rps"] for row in [*whole, *parts])
    colour = alt.Color("target:N", scale=target_scale(r["target"] for r in whole), title="target")
    x = alt.X("offered_rps:Q", title="offered, requests/s")
    y = alt.Y("served_rps:Q", title="served (ok), requests/s")
    diagonal = (
        alt.Chart(
            alt.Data(
                values=[
                    {"offered_rps": 0, "served_rps": 0},
                    {"offered_rps": top, "served_rps": top},
                ]
            )
        )
        .mark_line(strokeDash=[4, 3], color="#888")
        .encode(x=x, y=y)
    )
    buckets_layer = (
        alt.Chart(alt.Data(values=plain(parts)))
        .mark_point(size=14, filled=True, opacity=0.35)
        .encode(
            x=x,
            y=y,
            color=colour,
            tooltip=[
                "run:N",
                alt.Tooltip("t_s:Q", format=".0f"),
                alt.Tooltip("offered_rps:Q", format=".2f"),
                alt.Tooltip("served_rps:Q", format=".2f"),
            ],
        )
    )
    runs_layer = (
        alt.Chart(alt.Data(values=plain(whole)))
        .mark_point(size=140, filled=False, strokeWidth=2)
        .encode(
            x=x,
            y=y,
            color=colour,
            shape=alt.Shape("scenario:N", title="scenario"),
            tooltip=[
                "run:N",
                alt.Tooltip("offered_rps:Q", format=".2f"),
                alt.Tooltip("served_rps:Q", format=".2f"),
            ],
        )
    )
    chart = alt.layer(diagonal, buckets_layer, runs_layer).properties(width=WIDTH, height=300)
    return Chart("throughput", TITLE, TEXT, finish(chart))
