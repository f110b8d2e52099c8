"""What every chart shares: the record a chart family returns, the targets' colours, run labels.

A chart family (one module each: ``latency``, ``timeline``, ``throughput``, ``distribution``,
``cold_starts``, ``capacity``, ``costs``) reads aggregate rows from the store and returns
:class:`Chart` records: a Vega-Lite spec built with Altair, or no spec and a note saying why
there is nothing to draw (no cold starts, no economics tables yet) — the report shows the note
where the chart would be, so a missing chart is never silent.

Specs carry their data inline (a few hundred rows at most) and a fixed width, the PNG's and
the page's alike: on a phone a chart scrolls sideways inside its own box (squeezed to the
screen's width its labels would leave the plot no room), the page itself does not.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import altair as alt

WIDTH = 520
ROW_HEIGHT = 22
FACET_HEIGHT = 90
# Lambda-style targets warm, Kubernetes-style cool; AWS a shade darker than its local emulator.
TARGET_COLOURS = {
    "local-lambda": "#e8772e",
    "aws-lambda": "#a34a12",
    "local-k8s": "#3b6fb6",
    "aws-eks": "#1c3c70",
}
OTHER_COLOURS = ("#5a9e4b", "#8e5ea2", "#7f7f7f", "#c9a227")
FAILURE_COLOUR = "#c0392b"


@dataclass(frozen=True)
class Chart:
    """One chart: ``name`` is its file stem; ``spec`` is None when there is nothing to draw."""

    name: str
    title: str
    description: str
    spec: dict[str, Any] | None
    note: str | None = None

    @property
    def drawn(self) -> bool:
        return self.spec is not None


def not_drawn(name: str, title: str, description: str, why: str) -> Chart:
    """A chart with nothing to draw, and the sentence the report shows in its place."""
    return Chart(name=name, title=title, description=description, spec=None, note=why)


def target_scale(targets: Iterable[str]) -> alt.Scale:
    """The same colour for a target in every chart."""
    domain = sorted(set(targets))
    others = iter(OTHER_COLOURS * (len(domain) // len(OTHER_COLOURS) + 1))
    return alt.Scale(domain=domain, range=[TARGET_COLOURS.get(t) or next(others) for t in domain])


def run_label(run: Mapping[str, Any]) -> str:
    """``local-lambda · burst`` (with `` r1`` when its series has several repetitions)."""
    label = f"{run['target']} · {run['scenario']}"
    if (run.get("repetitions") or 1) > 1:
        label += f" r{run['repetition']}"
    return label


def finish(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The Vega-Lite spec of ``chart`` with the report's shared look."""
    spec = (
        chart.configure(background="white")  # legible on the Dagster UI's dark theme too
        .configure_view(stroke=None)
        .configure_axis(labelFontSize=11, titleFontSize=11, labelLimit=220, gridColor="#ececec")
        .configure_legend(orient="bottom", columns=4, labelLimit=220)
        .to_dict()
    )
    return spec


def plain(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows as JSON values: Decimal → float, timestamps → ISO text, NaN and ±inf → None."""
    return [{key: _plain(value) for key, value in row.items()} for row in rows]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def log_scale(values: Iterable[float | None], title: str, label_format: str = ",~r") -> dict:
    """A log-scaled axis ticked and gridded at powers of ten only (a grid line per minor tick
    blurs the chart and doubles its PNG), spanning ``values``; keyword arguments for a channel."""
    present = [v for v in values if v is not None and v > 0]
    low = math.floor(math.log10(min(present, default=1.0)))
    high = math.ceil(math.log10(max(present, default=10.0)))
    ticks = [10.0**k for k in range(low, max(high, low + 1) + 1)]
    return {
        "scale": alt.Scale(type="log", domain=[ticks[0], ticks[-1]]),
        "axis": alt.Axis(values=ticks, format=label_format),
        "title": title,
    }


def run_facets(order: Sequence[str]) -> alt.Row:
    """One panel per run, its label above it, in ``order``."""
    header = alt.Header(
        labelAngle=0,
        labelAlign="left",
        labelAnchor="start",
        labelOrient="top",
        labelFontWeight="bold",
    )
    return alt.Row("run:N", sort=list(order), title=None, header=header)


def run_ids(runs: Iterable[Mapping[str, Any]]) -> list[str]:
    return [run["run_id"] for run in runs]


def by_run(rows: Iterable[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    """Rows grouped by ``run_id``, in the order they came."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["run_id"], []).append(row)
    return grouped
