"""Latency over time, one panel per run, with what the platform did marked where it did it.

Each panel: the p50 and p99 from the intended send time of the *ok* requests per time bucket
(``requests`` by ``intended_at``, at most ``max_buckets`` buckets a run), and vertical rules
where failures and platform events fell — cold starts, throttles, timeouts, crashes, evictions,
scale-outs and -ins, pods becoming ready, nodes added (``platform_events``, counted per bucket;
the count is in the tooltip) — and where the measure phase began (the warm-up before it is shown
but is not in any summary). Time is seconds from the run's first scheduled request.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.report.chart import (
    FACET_HEIGHT,
    FAILURE_COLOUR,
    WIDTH,
    Chart,
    finish,
    log_scale,
    not_drawn,
    plain,
    run_facets,
    run_ids,
    run_label,
)
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import event_marks, latency_buckets, measure_starts

MARKS = {
    "failed requests": FAILURE_COLOUR,
    "measure phase begins": "#222222",
    "cold_start": "#e8772e",
    "throttle": "#8e5ea2",
    "timeout": "#d62728",
    "crash": "#000000",
    "evict": "#9e9e9e",
    "scale_out": "#2ca02c",
    "scale_in": "#98df8a",
    "pod_ready": "#1f77b4",
    "node_added": "#17becf",
}
TITLE = "Latency over time, with cold starts, throttles and scale events"
TEXT = (
    "p50 and p99 of the ok requests per time bucket (from the intended send time, log scale); "
    "vertical rules mark failed requests and the platform's events in that bucket, and the "
    "start of the measure phase. Seconds from each run's first scheduled request."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    ids = run_ids(runs)
    rows = timeline_rows(
        runs, latency_buckets(store, ids), event_marks(store, ids), measure_starts(store, ids)
    )
    if not any(row["layer"] == "latency" for row in rows):
        return [not_drawn("latency_timeline", TITLE, TEXT, "no run has an ok request yet")]
    return [Chart("latency_timeline", TITLE, TEXT, finish(timeline_chart(rows, runs)))]


def timeline_rows(
    runs: Sequence[Mapping[str, Any]],
    buckets: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    starts: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One long table for the faceted layers: latency points, and marks (events, failures)."""
    labels = {run["run_id"]: run_label(run) for run in runs}
    rows: list[dict[str, Any]] = []
    for bucket in buckets:
        run = labels.get(bucket["run_id"])
        if run is None:
            continue
        for stat in ("p50", "p99"):
            if bucket[f"{stat}_ms"] is not None:
                rows.append(
                    {
                        "layer": "latency",
                        "run": run,
                        "t_s": bucket["t_s"],
                        "stat": stat,
                        "latency_ms": bucket[f"{stat}_ms"],
                    }
                )
        if bucket["failed"]:
            rows.append(_mark(run, bucket["t_s"], "failed requests", bucket["failed"]))
    rows += [
        _mark(labels[e["run_id"]], e["t_s"], e["kind"], e["events"])
        for e in events
        if e["run_id"] in labels
    ]
    rows += [
        _mark(labels[s["run_id"]], s["measure_start_s"], "measure phase begins", 1)
        for s in starts
        if s["run_id"] in labels and s["measure_start_s"] > 0
    ]
    return rows


def _mark(run: str, t_s: float, kind: str, count: int) -> dict[str, Any]:
    return {"layer": "mark", "run": run, "t_s": t_s, "kind": kind, "count": count}


def timeline_chart(rows: list[dict[str, Any]], runs: Sequence[Mapping[str, Any]]) -> alt.FacetChart:
    order = [
        label
        for label in dict.fromkeys(run_label(r) for r in runs)
        if any(row["run"] == label for row in rows)
    ]
    kinds = [kind for kind in MARKS if any(row.get("kind") == kind for row in rows)]
    x = alt.X("t_s:Q", title="seconds from the first scheduled request")
    lines = (
        alt.Chart()
        .transform_filter("datum.layer == 'latency'")
        .mark_line(point=alt.OverlayMarkDef(size=12))
        .encode(
            x=x,
            y=alt.Y("latency_ms:Q", **log_scale([r.get("latency_ms") for r in rows], "ms")),
            strokeDash=alt.StrokeDash(
                "stat:N",
                scale=alt.Scale(domain=["p50", "p99"], range=[[1, 0], [4, 2]]),
                title="ok requests",
            ),
            color=alt.value("#333333"),
            tooltip=[
                "run:N",
                "stat:N",
                alt.Tooltip("t_s:Q", format=".0f"),
                alt.Tooltip("latency_ms:Q", format=",.1f"),
            ],
        )
    )
    marks = (
        alt.Chart()
        .transform_filter("datum.layer == 'mark'")
        .mark_rule(strokeWidth=2, opacity=0.55)
        .encode(
            x=x,
            color=alt.Color(
                "kind:N",
                scale=alt.Scale(domain=kinds, range=[MARKS[k] for k in kinds]),
                title="marked",
            ),
            tooltip=["run:N", "kind:N", "count:Q", alt.Tooltip("t_s:Q", format=".0f")],
        )
    )
    return (
        alt.layer(marks, lines, data=alt.Data(values=plain(rows)))
        .properties(width=WIDTH, height=FACET_HEIGHT)
        .facet(row=run_facets(order))
    )
