"""The latency distribution per target: a CDF per scenario, every request counted.

For each run, the latency from the intended send time of its ok requests at a fixed grid of
quantiles (DuckDB's ``quantile_cont``, finer towards the tail), with each probability scaled by
the share that succeeded: a failed or dropped request has no latency and ranks after every
success (as ``run_summary``'s percentiles rank it), so a curve that tops out at 0.9 says 10 %
failed. A scenario per panel, a target per colour; log-scaled latency.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt
import numpy as np

from nlp_bench_pipeline.report.chart import (
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
from nlp_bench_pipeline.store.report_queries import latency_quantiles

# 0 to 0.9 in steps of 0.02, then the tail in steps of 0.005 to 0.99, 0.001 to 0.999, and 1.
PROBABILITIES = [
    float(p)
    for p in np.unique(
        np.round(
            np.concatenate(
                [
                    np.arange(0, 0.9, 0.02),
                    np.arange(0.9, 0.99, 0.005),
                    np.arange(0.99, 0.999, 0.001),
                    [0.999, 1.0],
                ]
            ),
            4,
        )
    )
]
PANEL_WIDTH = 170
PANEL_HEIGHT = 140
TITLE = "Latency CDF per target"
TEXT = (
    "Share of the measure phase's requests answered ok within a latency (from the intended "
    "send time, log scale); failed and dropped requests never arrive, so a curve that stops "
    "short of 1 shows its failures. One panel per scenario."
)


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    return [cdf_chart(runs, latency_quantiles(store, run_ids(runs), PROBABILITIES))]


def cdf_points(
    runs: Sequence[Mapping[str, Any]], quantiles: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """(latency, share of every request at or below it) per run, on the probability grid."""
    by_id = {run["run_id"]: run for run in runs}
    points = []
    for row in quantiles:
        run = by_id.get(row["run_id"])
        if run is None or not row["ok"] or row["quantiles_ms"] is None:
            continue
        served = row["ok"] / row["requests"]
        for p, latency in zip(PROBABILITIES, row["quantiles_ms"], strict=True):
            if latency is not None and latency > 0:
                points.append(
                    {
                        "run": run_label(run),
                        "target": run["target"],
                        "scenario": run["scenario"],
                        "latency_ms": latency,
                        "share": p * served,
                    }
                )
    return points


def cdf_chart(runs: Sequence[Mapping[str, Any]], quantiles: Sequence[Mapping[str, Any]]) -> Chart:
    points = cdf_points(runs, quantiles)
    if not points:
        return not_drawn("latency_cdf", TITLE, TEXT, "no run has an ok request yet")
    chart = (
        alt.Chart(alt.Data(values=plain(points)))
        .mark_line()
        .encode(
            x=alt.X("latency_ms:Q", **log_scale([p["latency_ms"] for p in points], "latency, ms")),
            y=alt.Y(
                "share:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
                title="requests within",
            ),
            color=alt.Color(
                "target:N", scale=target_scale(p["target"] for p in points), title="target"
            ),
            detail="run:N",
            tooltip=[
                "run:N",
                alt.Tooltip("latency_ms:Q", format=",.1f"),
                alt.Tooltip("share:Q", format=".1%"),
            ],
        )
        .properties(width=PANEL_WIDTH, height=PANEL_HEIGHT)
        .facet(facet=alt.Facet("scenario:N", title=None), columns=3)
    )
    return Chart("latency_cdf", TITLE, TEXT, finish(chart))
