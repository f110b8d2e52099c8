"""The money: cost per million inferences against request rate, and the memory-size sweep.

Both come from the economics stage's tables (docs/schema.md, "Economics"); before that stage
has run in this store they do not exist, and the charts say so rather than price anything here.

``cost_per_million``: from ``latest_cost_breakeven``, for each traffic shape, the cost curve the
break-even was read from (``curve``: Lambda's and EKS's cost per million inferences at each
sustained mean rate, log-log) with the break-even rate as a rule — the rate from which EKS
stays no dearer (``rate_rps``), its interval from the runs' spread as a band — or no rule where
one platform is cheaper over the whole range (``reason`` says so).

``memory_sweep``: as AWS Lambda Power Tuning draws it, per target of ``latest_memory_sweep``:
warm duration (REPORT ``Duration`` p50, with the p95 above it) and cost per million
invocations against memory size, on two axes; the best sizes by cost, by speed and balanced are
labelled, and sizes not run (the host could not hold them) are listed in the note.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import altair as alt

from nlp_bench_pipeline.report.chart import WIDTH, Chart, finish, log_scale, not_drawn, plain
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import economics_tables, latest_rows

BREAKEVEN_TABLE, SWEEP_TABLE = "cost_breakeven", "memory_sweep"
COST_TITLE = "Cost per million inferences vs request rate"
COST_TEXT = (
    "Lambda's and EKS's cost per million inferences at each sustained mean rate (log-log), per "
    "traffic shape, with the break-even rate from which EKS stays no dearer and its interval."
)
SWEEP_TITLE = "Memory-size sweep (as Lambda Power Tuning draws it)"
SWEEP_TEXT = (
    "Warm function duration (REPORT Duration p50, the p95 dotted) and cost per million "
    "invocations against the memory size, on two axes; the best sizes are labelled."
)
PLATFORM_COLOURS = {"Lambda": "#e8772e", "EKS": "#3b6fb6"}
BEST = {"best_by_cost": "cheapest", "best_by_speed": "fastest", "best_balanced": "balanced"}
PANEL_WIDTH = 240


def build(store: MetricStore, runs: Sequence[Mapping[str, Any]]) -> list[Chart]:
    present = economics_tables(store)
    breakeven = latest_rows(store, BREAKEVEN_TABLE) if BREAKEVEN_TABLE in present else None
    sweep = latest_rows(store, SWEEP_TABLE) if SWEEP_TABLE in present else None
    return [cost_chart(breakeven), sweep_chart(sweep)]


def _missing(table: str) -> str:
    return (
        f"the economics stage has not written `{table}` to this store yet "
        "(materialise the economics assets, then the report again)"
    )


def cost_chart(breakeven: Sequence[Mapping[str, Any]] | None) -> Chart:
    """Both platforms' cost curves per shape, the break-even rule and its interval."""
    rows = cost_rows(breakeven or [])
    if not breakeven:
        return not_drawn("cost_per_million", COST_TITLE, COST_TEXT, _missing(BREAKEVEN_TABLE))
    if not any(row["layer"] == "curve" for row in rows):
        return not_drawn(
            "cost_per_million", COST_TITLE, COST_TEXT, "the break-even table has no cost curve"
        )
    x = alt.X(
        "rate_rps:Q",
        **log_scale([r["rate_rps"] for r in rows], "sustained mean rate, requests/s", "~g"),
    )
    curves = (
        alt.Chart()
        .transform_filter("datum.layer == 'curve'")
        .mark_line()
        .encode(
            x=x,
            y=alt.Y(
                "usd_per_million:Q",
                **log_scale(
                    [r.get("usd_per_million") for r in rows], "$ per million inferences", "$~g"
                ),
            ),
            color=alt.Color(
                "platform:N",
                scale=alt.Scale(
                    domain=list(PLATFORM_COLOURS), range=list(PLATFORM_COLOURS.values())
                ),
                title=None,
            ),
            detail="configuration:N",
            tooltip=[
                "configuration:N",
                alt.Tooltip("rate_rps:Q", format=",.2f"),
                alt.Tooltip("usd_per_million:Q", format="$,.2f"),
            ],
        )
    )
    band = (
        alt.Chart()
        .transform_filter("datum.layer == 'interval'")
        .mark_rect(opacity=0.15, color="#2ca02c")
        .encode(x=x, x2="rate_high_rps:Q")
    )
    rule = (
        alt.Chart()
        .transform_filter("datum.layer == 'breakeven'")
        .mark_rule(color="#2ca02c", strokeWidth=2)
        .encode(x=x, tooltip=["reason:N", alt.Tooltip("rate_rps:Q", format=",.1f")])
    )
    label = (
        alt.Chart()
        .transform_filter("datum.layer == 'breakeven'")
        .mark_text(align="left", dx=4, baseline="top", color="#2ca02c", y=4)
        .encode(x=x, text="label:N")
    )
    chart = (
        alt.layer(band, curves, rule, label, data=alt.Data(values=plain(rows)))
        .properties(width=PANEL_WIDTH, height=200)
        .facet(facet=alt.Facet("shape:N", title=None), columns=2)
    )
    return Chart("cost_per_million", COST_TITLE, COST_TEXT, finish(chart))


def cost_rows(breakeven: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Curve points of both platforms, and the break-even rule and interval, per shape."""
    rows: list[dict[str, Any]] = []
    for study in breakeven:
        shape = study["shape"]
        lam = f"Lambda {study['lambda_memory_mb']} MB {study['lambda_architecture']}"
        eks = f"EKS {study['node_type']}"
        for point in _json(study["curve"]):
            for platform, configuration, column in (
                ("Lambda", lam, "lambda_usd_per_million"),
                ("EKS", eks, "eks_usd_per_million"),
            ):
                if (point.get(column) or 0) > 0:
                    rows.append(
                        {
                            "layer": "curve",
                            "shape": shape,
                            "platform": platform,
                            "configuration": configuration,
                            "rate_rps": point["rate_rps"],
                            "usd_per_million": point[column],
                        }
                    )
        if study.get("rate_rps"):
            rows.append(
                {
                    "layer": "breakeven",
                    "shape": shape,
                    "rate_rps": study["rate_rps"],
                    "label": f"break-even {study['rate_rps']:,.1f} req/s",
                    "reason": study["reason"],
                }
            )
        low, high = study.get("interval_low_rps"), study.get("interval_high_rps")
        if low and high:
            rows.append(
                {"layer": "interval", "shape": shape, "rate_rps": low, "rate_high_rps": high}
            )
    return rows


def sweep_chart(sweep: Sequence[Mapping[str, Any]] | None) -> Chart:
    """Duration and cost against memory size, two axes, per target."""
    if not sweep:
        return not_drawn("memory_sweep", SWEEP_TITLE, SWEEP_TEXT, _missing(SWEEP_TABLE))
    run = [row for row in sweep if row.get("warm_duration_p50_ms") is not None]
    skipped = [row for row in sweep if row.get("warm_duration_p50_ms") is None]
    note = (
        "not run: "
        + "; ".join(
            f"{row['target']} {row['memory_mb']} MB ({row.get('reason') or row['status']})"
            for row in sorted(skipped, key=lambda r: (r["target"], r["memory_mb"]))
        )
        if skipped
        else None
    )
    if not run:
        return not_drawn("memory_sweep", SWEEP_TITLE, SWEEP_TEXT, note or "the sweep is empty")
    points = [
        {
            "target": row["target"],
            "memory_mb": row["memory_mb"],
            "p50_ms": row["warm_duration_p50_ms"],
            "p95_ms": row.get("warm_duration_p95_ms"),
            "usd_per_million": row.get("usd_per_million"),
            "best": ", ".join(name for column, name in BEST.items() if row.get(column)),
        }
        for row in run
    ]
    panels = [
        _sweep_panel([p for p in points if p["target"] == target])
        for target in dict.fromkeys(p["target"] for p in points)
    ]
    chart = alt.vconcat(*panels) if len(panels) > 1 else panels[0]
    return Chart("memory_sweep", SWEEP_TITLE, SWEEP_TEXT, finish(chart), note=note)


def _sweep_panel(points: list[dict[str, Any]]) -> alt.LayerChart:
    """One target's sweep: duration on the left axis, cost on the right (a facet cannot hold
    a layer with a scale of its own, hence a panel per target)."""
    x = alt.X("memory_mb:O", title="memory size, MB")
    base = alt.Chart()
    duration = base.mark_line(point=True, color="#4c78a8").encode(
        x=x,
        y=alt.Y("p50_ms:Q", title="warm duration p50, ms", axis=alt.Axis(titleColor="#4c78a8")),
        tooltip=["memory_mb:O", alt.Tooltip("p50_ms:Q", format=",.1f"), "best:N"],
    )
    p95 = base.mark_line(strokeDash=[3, 3], color="#4c78a8").encode(x=x, y=alt.Y("p95_ms:Q"))
    best = (
        base.transform_filter("datum.best != ''")
        .mark_text(dy=-12, fontWeight="bold", color="#333")
        .encode(x=x, y=alt.Y("p50_ms:Q"), text="best:N")
    )
    cost = base.mark_line(point=True, color="#e8772e").encode(
        x=x,
        y=alt.Y(
            "usd_per_million:Q",
            title="$ per million invocations",
            axis=alt.Axis(titleColor="#e8772e", orient="right"),
        ),
        tooltip=["memory_mb:O", alt.Tooltip("usd_per_million:Q", format="$,.2f")],
    )
    return (
        alt.layer(alt.layer(duration, p95, best), cost, data=alt.Data(values=plain(points)))
        .resolve_scale(y="independent")
        .properties(width=WIDTH, height=240, title=points[0]["target"])
    )


def _json(value: Any) -> list[dict[str, Any]]:
    return json.loads(value) if isinstance(value, str) else list(value or [])
