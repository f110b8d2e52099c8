"""Lambda concurrency and Kubernetes replicas over time, one panel per run.

Two lines a panel: the capacity the platform had — on Lambda-style targets the execution
environments alive (from an environment's first ``init_start`` to its ``evict`` or ``crash``),
on Kubernetes-style targets the pods ready (from each ``pod_ready`` to that pod's next kill or
restart) — and the concurrency it was asked for, the peak of requests in flight per time bucket
(sent and not yet answered: what CloudWatch calls ConcurrentExecutions on Lambda). Negative
times are before the load began: the deploy, the first success, the warming.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.report.chart import (
    FACET_HEIGHT,
    WIDTH,
    Chart,
    finish,
    not_drawn,
    plain,
    run_facets,
    run_ids,
    run_label,
)
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import capacity_steps, in_flight_peaks

SERIES = {
    "environments": "#e8772e",
    "pods ready": "#3b6fb6",
    "requests in flight (peak)": "#7f7f7f",
}
CAPACITY_SERIES = ("environments", "pods ready")
TITLE = "Lambda concurrency and Kubernetes replicas over time"
TEXT = (
    "Execution environments alive (Lambda-style) or pods ready (Kubernetes-style) from the "
    "platform's events, against the peak of requests in flight per time bucket. Seconds from "
    "each run's first scheduled request; before 0, the deploy and warming."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    ids = run_ids(runs)
    return [capacity_chart(runs, capacity_steps(store, ids), in_flight_peaks(store, ids))]


def capacity_rows(
    runs: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any]],
    in_flight: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """Step points per run: capacity changes from events, in-flight peaks per bucket."""
    labels = {run["run_id"]: run_label(run) for run in runs}
    rows = [
        {"run": labels[s["run_id"]], "series": s["measure"], "t_s": s["t_s"], "value": s["value"]}
        for s in steps
        if s["run_id"] in labels
    ]
    rows += [
        {
            "run": labels[p["run_id"]],
            "series": "requests in flight (peak)",
            "t_s": p["t_s"],
            "value": p["value"],
        }
        for p in in_flight
        if p["run_id"] in labels
    ]
    return rows + _run_ends(rows)


def _run_ends(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each capacity line carried on to its run's last time, so the step does not stop early."""
    ends: dict[str, float] = {}
    last: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in rows:
        ends[row["run"]] = max(ends.get(row["run"], row["t_s"]), row["t_s"])
        last[(row["run"], row["series"])] = row
    return [
        {**row, "t_s": ends[run]}
        for (run, series), row in last.items()
        if series in CAPACITY_SERIES and row["t_s"] < ends[run]
    ]


def capacity_chart(
    runs: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any]],
    in_flight: Sequence[Mapping[str, Any]],
) -> Chart:
    rows = capacity_rows(runs, steps, in_flight)
    if not any(row["series"] in CAPACITY_SERIES for row in rows):
        return not_drawn(
            "capacity_timeline", TITLE, TEXT, "no platform event recorded an environment or a pod"
        )
    order = [
        label
        for label in dict.fromkeys(run_label(r) for r in runs)
        if any(row["run"] == label for row in rows)
    ]
    series = [s for s in SERIES if any(row["series"] == s for row in rows)]
    chart = (
        alt.Chart(alt.Data(values=plain(rows)))
        .mark_line(interpolate="step-after")
        .encode(
            x=alt.X("t_s:Q", title="seconds from the first scheduled request"),
            y=alt.Y("value:Q", title="count", axis=alt.Axis(tickMinStep=1, format="d")),
            color=alt.Color(
                "series:N",
                scale=alt.Scale(domain=series, range=[SERIES[s] for s in series]),
                title=None,
            ),
            tooltip=["run:N", "series:N", alt.Tooltip("t_s:Q", format=".1f"), "value:Q"],
        )
        .properties(width=WIDTH, height=FACET_HEIGHT)
        .facet(row=run_facets(order))
        .resolve_scale(y="independent")
    )
    return Chart("capacity_timeline", TITLE, TEXT, finish(chart))
