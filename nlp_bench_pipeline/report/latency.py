"""Latency percentiles per target and scenario, and where a warm request's time went.

``latency_percentiles``: p50, p90, p99 and p99.9 from the intended send time (``*_corrected_ms``
of ``run_summary``) over *every* scheduled request of the measure phase, failures ranked slowest
(docs/adr/0037). A percentile that lands on a failed or dropped request has no latency: it is
named in red at the right of the run's row, never drawn at a made-up latency. The
successes' own p99 (``p99_ok_ms``) stands beside them as a hollow diamond, so the gap between
the two is the failures' doing.

``service_time``: the mean latency of the warm ok requests split into the time inside the
service process — its wait for the inference thread (``requests.queue_ms``), the forward pass
(``requests.inference_ms``) and the rest of ``server_ms`` (parsing, the envelope) — and outside
it (``latency_ms − server_ms``: the gateway or Service proxy, the network, the runtime's
hand-off). Means, so the parts add up to the bar; runs stored before the split show all of the
service's time as its rest.
Cold requests are left out here; their time is broken down in ``cold_start_breakdown``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.report.chart import (
    FAILURE_COLOUR,
    ROW_HEIGHT,
    WIDTH,
    Chart,
    finish,
    log_scale,
    not_drawn,
    plain,
    run_ids,
    run_label,
    target_scale,
)
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import service_split

PERCENTILES = {
    "p50": "p50_corrected_ms",
    "p90": "p90_corrected_ms",
    "p99": "p99_corrected_ms",
    "p99.9": "p999_corrected_ms",
}
FLAGS = {
    "p50": "p50_is_failure",
    "p90": "p90_is_failure",
    "p99": "p99_is_failure",
    "p99.9": "p999_is_failure",
}
PARTS = (
    "queue in the service",
    "inference",
    "rest of the service",
    "outside the service (gateway, proxy, network)",
)
# One colour a part: queue orange (waiting), inference blue (the model), the rest of the service
# teal, outside grey — so the queue/inference split reads from the picture.
PART_COLOURS = ("#f58518", "#4c78a8", "#72b7b2", "#bab0ac")

PERCENTILES_TITLE = "Latency percentiles, every request counted"
PERCENTILES_TEXT = (
    "p50–p99.9 from the intended send time over every scheduled request of the measure phase; "
    "red text at the right names the percentiles that land on a failed or dropped request; "
    "the hollow diamond is the successes' own p99. Log scale."
)
SERVICE_TITLE = "Where a warm request's time went"
SERVICE_TEXT = (
    "Mean latency of the warm ok requests: inside the service process — the wait for the "
    "inference thread, the forward pass, and the rest (parsing, the envelope) — and outside it "
    "(latency − server_ms: gateway or proxy, network)."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    return [percentiles_chart(runs), service_time_chart(runs, service_split(store, run_ids(runs)))]


def percentiles_chart(runs: Sequence[Mapping[str, Any]]) -> Chart:
    """The percentile ladder of every run, failures marked, the ok-only p99 beside it."""
    points = percentile_points(runs)
    if not points:
        return not_drawn(
            "latency_percentiles",
            PERCENTILES_TITLE,
            PERCENTILES_TEXT,
            "no run has measured requests yet",
        )
    labels = list(dict.fromkeys(p["run"] for p in points))
    y = alt.Y("run:N", sort=labels, title=None)
    x = alt.X(
        "latency_ms:Q",
        **log_scale([p["latency_ms"] for p in points], "latency from intended send, ms"),
    )
    colour = alt.Color("target:N", scale=target_scale(p["target"] for p in points), title="target")
    base = alt.Chart(alt.Data(values=plain(points)))
    tooltip = ["run:N", "percentile:N", alt.Tooltip("latency_ms:Q", format=",.1f"), "sample:N"]
    measured = base.transform_filter("datum.kind == 'measured'")
    ladder = measured.mark_rule(color="#999").encode(
        y=y, x=alt.X("min(latency_ms):Q"), x2=alt.X2("max(latency_ms):Q")
    )
    dots = measured.mark_point(filled=True, size=60).encode(
        y=y,
        x=x,
        color=colour,
        shape=alt.Shape("percentile:N", sort=list(PERCENTILES), title="percentile"),
        tooltip=tooltip,
    )
    ok_only = (
        base.transform_filter("datum.kind == 'ok_only'")
        .mark_point(shape="diamond", filled=False, size=90, strokeWidth=1.5)
        .encode(y=y, x=x, color=colour, tooltip=tooltip)
    )
    failures = (
        base.transform_filter("datum.kind == 'failure'")
        .mark_text(align="left", dx=8, color=FAILURE_COLOUR, fontWeight="bold")
        .encode(y=y, x=alt.value("width"), text="percentile:N", tooltip=["run:N", "sample:N"])
    )
    chart = alt.layer(ladder, dots, ok_only, failures).properties(
        width=WIDTH, height=ROW_HEIGHT * len(labels)
    )
    return Chart("latency_percentiles", PERCENTILES_TITLE, PERCENTILES_TEXT, finish(chart))


def percentile_points(runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per run: a point per percentile with a latency (``measured``), the ok-only p99, and one
    ``failure`` label naming the percentiles that land on failures, right of the others."""
    points = []
    for run in runs:
        if not run.get("requests"):
            continue
        common = {"run": run_label(run), "target": run["target"], "sample": _sample(run)}
        measured = {
            name: run[column]
            for name, column in PERCENTILES.items()
            if not run.get(FLAGS[name]) and (run.get(column) or 0) > 0
        }
        points += [
            {**common, "percentile": name, "kind": "measured", "latency_ms": value}
            for name, value in measured.items()
        ]
        ok_p99 = run.get("p99_ok_ms") or 0
        if ok_p99 > 0:
            points.append(
                {
                    **common,
                    "percentile": "p99 of successes",
                    "kind": "ok_only",
                    "latency_ms": ok_p99,
                }
            )
        failed = [name for name in PERCENTILES if run.get(FLAGS[name])]
        if failed:
            text = "✕ " + ", ".join(failed) + (" fails" if len(failed) == 1 else " fail")
            points.append({**common, "percentile": text, "kind": "failure", "latency_ms": None})
    return points


def _sample(run: Mapping[str, Any]) -> str:
    sample = f"{run['requests']:,} requests, {run.get('failed_share') or 0:.1%} failed"
    return sample + (" (too few for a p99)" if run.get("p99_too_few") else "")


def _parts(row: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """Queue, inference, the rest of the service, outside it (older runs: all in the rest)."""
    queue, inference = row.get("queue_mean_ms") or 0.0, row.get("inference_mean_ms") or 0.0
    rest = row["server_mean_ms"] - queue - inference
    return queue, inference, rest, row["outside_mean_ms"]


def service_time_chart(
    runs: Sequence[Mapping[str, Any]], split: Sequence[Mapping[str, Any]]
) -> Chart:
    """Stacked bars: mean time inside and outside the service, warm ok requests."""
    labels = {run["run_id"]: run_label(run) for run in runs}
    rows = []
    for row in split:
        if row["cold_start"] or row["run_id"] not in labels:
            continue
        for index, (part, value) in enumerate(zip(PARTS, _parts(row), strict=True)):
            rows.append(
                {
                    "run": labels[row["run_id"]],
                    "part": part,
                    "index": index,  # the stacking order: PARTS's, from the bar's start
                    "mean_ms": max(0.0, value),
                    "requests": row["requests"],
                }
            )
    if not rows:
        return not_drawn(
            "service_time",
            SERVICE_TITLE,
            SERVICE_TEXT,
            "no warm request was served with the service's timing",
        )
    order = [label for label in labels.values() if any(r["run"] == label for r in rows)]
    chart = (
        alt.Chart(alt.Data(values=plain(rows)))
        .mark_bar()
        .encode(
            y=alt.Y("run:N", sort=order, title=None),
            x=alt.X("mean_ms:Q", stack="zero", title="mean latency of warm ok requests, ms"),
            color=alt.Color(
                "part:N",
                scale=alt.Scale(domain=list(PARTS), range=list(PART_COLOURS)),
                sort=list(PARTS),
                title=None,
            ),
            order=alt.Order("index:Q", sort="ascending"),
            tooltip=["run:N", "part:N", alt.Tooltip("mean_ms:Q", format=",.1f"), "requests:Q"],
        )
        .properties(width=WIDTH, height=ROW_HEIGHT * len(order))
    )
    return Chart("service_time", SERVICE_TITLE, SERVICE_TEXT, finish(chart))
