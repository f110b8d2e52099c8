"""The report's headline: each target's peak rate under the p99 bound, per vCPU, with its label.

From the newest peak-rate search of each target (``store.peak.latest_searches``, the report's
profile): per size and policy, the measured search at the bound its rates were chosen for, the
same probes judged at the other bounds (MLPerf's 130 ms), and the simulator's projection of the
same configuration under AWS's rules. On a local target the measured figure is labelled
host-limited with its reasons (docs/schema.md's rule); the headline sentence per target takes
the warmed search of its largest peak. Every probe is listed behind it, VALID or INVALID with
its reason, and its run id, whose rows are in ``requests``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.peak import latest_searches, probes_of


@dataclass(frozen=True)
class PeakFigure:
    """One (target, size, policy, bound): the measured search and its projection."""

    target: str
    size: str
    policy: str
    bound_ms: float
    rates_chosen_for_ms: float
    measured: Mapping[str, Any]
    simulated: Mapping[str, Any] | None
    probes: list[Mapping[str, Any]] = field(default_factory=list)

    @property
    def searched(self) -> bool:
        """The bound whose own search chose the rates (the others are judged on its probes)."""
        return self.bound_ms == self.rates_chosen_for_ms


def peak_figures(store: MetricStore, profile: str | None) -> list[PeakFigure]:
    """Every figure of the newest search per target of ``profile``, with its probes."""
    rows = latest_searches(store, profile)
    if not rows:
        return []
    probes = probes_of(store, [r["search_id"] for r in rows])
    by_search: dict[str, list[Mapping[str, Any]]] = {}
    for probe in probes:
        by_search.setdefault(probe["search_id"], []).append(probe)
    simulated = {_key(r): r for r in rows if r["method"] == "simulated"}
    return [
        PeakFigure(
            target=r["target"],
            size=r["size"],
            policy=r["policy"],
            bound_ms=r["slo_p99_ms"],
            rates_chosen_for_ms=r["rates_chosen_for_ms"],
            measured=r,
            simulated=simulated.get(_key(r)),
            probes=by_search.get(r["search_id"], []),
        )
        for r in rows
        if r["method"] == "measured"
    ]


def headlines(figures: Sequence[PeakFigure]) -> list[PeakFigure]:
    """Per target, the warmed (else any) searched figure with the largest peak."""
    best: dict[str, PeakFigure] = {}
    for figure in figures:
        if not figure.searched:
            continue
        current = best.get(figure.target)
        if current is None or _rank(figure) > _rank(current):
            best[figure.target] = figure
    return list(best.values())


def _rank(figure: PeakFigure) -> tuple[bool, float]:
    return figure.policy == "warmed", figure.measured.get("peak_rps") or 0.0


def _key(row: Mapping[str, Any]) -> tuple[str, str, str, float]:
    return row["target"], row["size"], row["policy"], row["slo_p99_ms"]
