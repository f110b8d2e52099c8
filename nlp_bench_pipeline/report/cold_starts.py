"""Where a cold start's time goes: the host's wait, the platform's init, the first inference.

Lambda-style targets, per run with measured cold requests: the mean over its ok cold requests
of each part — the wait for one of the host's init slots (``init_wait_ms`` of the init the
request waited on; host-limited, AWS inits every environment at once), Init Duration
(``init_ms``), the first inference inside the service (``server_ms``), and the rest of the
latency (gateway, runtime hand-off: latency − the three). Means, so the parts add up to the
mean cold latency.

Kubernetes-style targets, per run: deploy to the first successful prediction
(``time_to_first_success_ms``) split into the first pod's wait for a node (``pending_ms`` of its
``pod_ready`` event), its start → ready (model load included), the first prediction's latency
(``host.warming.first_latency_ms``) and the rest (readiness probe period, Service update: what
remains of the total). EKS's HPA cannot scale to zero, so a deploy is where a pod is cold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.core.records import K8S_STYLE_TARGETS, LAMBDA_STYLE_TARGETS
from nlp_bench_pipeline.report.chart import (
    ROW_HEIGHT,
    WIDTH,
    Chart,
    finish,
    not_drawn,
    plain,
    run_ids,
    run_label,
)
from nlp_bench_pipeline.report.tables import host_details
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import cold_request_parts, first_pods

PARTS = {
    "wait (host init slot / node)": "#bab0ac",
    "init (Init Duration / pod start → ready)": "#e8772e",
    "first inference": "#4c78a8",
    "gateway, probe and the rest": "#d9d9d9",
}
WAIT, INIT, INFERENCE, REST = PARTS
TITLE = "Cold-start breakdown"
TEXT = (
    "Lambda-style: mean over a run's ok cold requests of the wait for a host init slot, Init "
    "Duration, the first inference (server_ms) and the rest of the latency. Kubernetes-style: "
    "deploy to first success split into the first pod's wait for a node, its start → ready "
    "(model load), the first prediction and the rest."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    ids = run_ids(runs)
    return [breakdown_chart(runs, cold_request_parts(store, ids), first_pods(store, ids))]


def breakdown_rows(
    runs: Sequence[Mapping[str, Any]],
    cold_parts: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """One row per run and part, in milliseconds; the parts of a run add up to its total."""
    by_id = {run["run_id"]: run for run in runs}
    rows = []
    for part in cold_parts:
        run = by_id.get(part["run_id"])
        if run is None or run["target"] not in LAMBDA_STYLE_TARGETS:
            continue
        label = f"{run_label(run)} ({part['cold_requests']} cold requests)"
        rows += _split(
            label,
            part["latency_mean_ms"],
            part["wait_mean_ms"],
            part["init_mean_ms"],
            part["server_mean_ms"],
        )
    for pod in pods:
        run = by_id.get(pod["run_id"])
        total = run.get("time_to_first_success_ms") if run else None
        if run is None or run["target"] not in K8S_STYLE_TARGETS or total is None:
            continue
        label = f"{run_label(run)} (deploy)"
        rows += _split(label, total, pod["pending_ms"], pod["ready_ms"], _first_latency(run))
    return rows


def _split(
    label: str, total: float, wait: float | None, init: float | None, inference: float | None
) -> list[dict[str, Any]]:
    parts = {WAIT: wait or 0.0, INIT: init or 0.0, INFERENCE: inference or 0.0}
    parts[REST] = max(0.0, total - sum(parts.values()))
    return [
        {"run": label, "part": part, "ms": value, "total_ms": total}
        for part, value in parts.items()
    ]


def _first_latency(run: Mapping[str, Any]) -> float | None:
    return (host_details(run).get("warming") or {}).get("first_latency_ms")


def breakdown_chart(
    runs: Sequence[Mapping[str, Any]],
    cold_parts: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
) -> Chart:
    rows = breakdown_rows(runs, cold_parts, pods)
    if not rows:
        return not_drawn(
            "cold_start_breakdown",
            TITLE,
            TEXT,
            "no measured cold request and no pod start in these runs",
        )
    order = list(dict.fromkeys(row["run"] for row in rows))
    chart = (
        alt.Chart(alt.Data(values=plain(rows)))
        .mark_bar()
        .encode(
            y=alt.Y("run:N", sort=order, title=None),
            x=alt.X("ms:Q", stack="zero", title="ms"),
            color=alt.Color(
                "part:N",
                scale=alt.Scale(domain=list(PARTS), range=list(PARTS.values())),
                title=None,
            ),
            order=alt.Order("order:Q"),
            tooltip=[
                "run:N",
                "part:N",
                alt.Tooltip("ms:Q", format=",.0f"),
                alt.Tooltip("total_ms:Q", format=",.0f"),
            ],
        )
        .transform_calculate(order=f"indexof({json.dumps(list(PARTS))}, datum.part)")
        .properties(width=WIDTH, height=ROW_HEIGHT * len(order))
    )
    return Chart("cold_start_breakdown", TITLE, TEXT, finish(chart))
