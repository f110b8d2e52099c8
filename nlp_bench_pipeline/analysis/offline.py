"""The offline analyst: the report's sections derived from the facts by fixed rules.

It answers when no Groq key is set, and when the model's reply is unusable, so an analysis is
always there and always says who wrote it (``author="offline"``). Every number it prints is a
fact, or a ratio, difference or percentage of comparable facts, formatted to a precision the
grounding check accepts (it passes its own check, a test proves it); thresholds that decide
whether a rule fires are never printed, since they are not facts.

The rules read the sections and fields below when they are present and skip silently what is
missing (names as ``run_summary`` and ``platform_metrics`` give them; the caller shapes cost and
tail rows to match):

- ``run_summary``: ``p99_ms``, ``p50_ms``, ``p99_corrected_ms``, ``requests``, ``errors``,
  ``error_rate``, ``dropped``, ``throughput_rps``, ``cold_starts``, ``cold_start_p50_ms`` —
  which target has the lowest p99 per scenario; failed and dropped requests; cold starts above
  p99.
- ``slowest_requests``: per run, ``requests`` (the N slowest ok requests of the measure phase)
  and ``cold_starts`` (how many of them waited on an init) — "p99 on Lambda is cold starts: 9 of
  the 10 slowest requests waited on an init".
- ``platform_metrics``: ``init_p50_ms``, ``init_max_ms``, ``throttles``, ``gateway_timeouts``,
  ``function_timeouts``, ``init_timeouts``, ``crashes``, ``scale_outs``, ``pod_ready_p50_ms``,
  ``nodes_added``, ``peak_cpu_pct`` — memory size, concurrency, HPA target and node type.
- ``costs``: ``cost_per_million_usd`` per target (and ``break_even_rps`` when known) — the
  cheapest target per group.

A target whose name holds ``lambda`` is taken for a Lambda-style one, ``k8s``/``eks``/``kube``
for a Kubernetes-style one (the project's target names). Rows are matched across sections by
their key values (target, scenario, profile, repetition).

A report is read, not searched: the verdict (every scenario's p99 per target) comes first; then
one finding per kind and target (its scenarios joined), ranked by what hurts users most (cold
starts in the tail, failures, queueing, drops, then costs) and by how much; at most
:data:`MAX_FINDINGS` findings and :data:`MAX_RECOMMENDATIONS` recommendations (one per knob and
target) are kept, within the bounds ``sections.py`` sets for any analyst.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from nlp_bench_pipeline.analysis.facts import FactRow, FactsDocument
from nlp_bench_pipeline.analysis.sections import (
    Analysis,
    Evidence,
    Finding,
    Recommendation,
    RecommendationArea,
)

T = TypeVar("T")
AUTHOR = "offline"
# When a rule fires (never printed: thresholds are not facts).
COLD_TAIL_SHARE = 0.5  # of the slowest requests that waited on an init
SLOW_INIT_MS = 1000.0
QUEUEING_RATIO = 3.0  # p99 / p50 that says requests queue
# A report is read, not searched: the most important few, within the sections' own bounds.
MAX_FINDINGS = 8
MAX_RECOMMENDATIONS = 8
MAX_EVIDENCE = 60
MAX_RATIONALE_CHARS = 600
MAX_DETAIL_CHARS = 1000
MAX_CITED = 20  # fact ids per finding or recommendation, as sections.py allows
# Finding ranks: verdict first, then what hurts users most.
VERDICT, COLD_TAIL, FAILURES, QUEUEING, DROPS, COSTS = range(6)
PLATFORM_FAULTS = {
    "throttles": ("throttle", "throttles"),
    "gateway_timeouts": ("gateway timeout", "gateway timeouts"),
    "function_timeouts": ("function timeout", "function timeouts"),
    "init_timeouts": ("init timeout", "init timeouts"),
    "crashes": ("crash", "crashes"),
}


@dataclass(frozen=True)
class _Figure:
    """A fact as printed, with its id for the evidence."""

    text: str
    id: str


Rank = tuple[int, float]  # (kind of finding, minus its severity): lower comes first


@dataclass
class _Notebook:
    """What the rules read and what they have written so far, each with its rank."""

    facts: FactsDocument
    findings: dict[object, tuple[Rank, Finding]] = field(default_factory=dict)
    recommendations: dict[tuple[str, str], tuple[Rank, Recommendation]] = field(
        default_factory=dict
    )

    def rows(self, section: str) -> list[FactRow]:
        return self.facts.section(section)

    def twin(self, section: str, row: FactRow) -> FactRow | None:
        """The row of ``section`` about the same run (same key values)."""
        return next((r for r in self.rows(section) if r.subject == row.subject), None)

    def find(
        self, rank: Rank, title: str, detail: str, *figures: _Figure, group: object = None
    ) -> None:
        """A finding; those of one ``group`` (a kind and a target) become one, their details
        joined, as long as it stays within the bounds of a finding."""
        key = group if group is not None else len(self.findings)
        known = self.findings.get(key)
        if known is None:
            finding = Finding(title=title, detail=detail, evidence=_ids(figures))
            self.findings[key] = (rank, finding)
            return
        known_rank, finding = known
        joined = f"{finding.detail}; {detail}"
        evidence = list(dict.fromkeys([*finding.evidence, *_ids(figures)]))
        if len(joined) > MAX_DETAIL_CHARS or len(evidence) > MAX_CITED:
            return
        merged = finding.model_copy(update={"detail": joined, "evidence": evidence})
        self.findings[key] = (min(known_rank, rank), merged)

    def recommend(
        self,
        rank: Rank,
        area: RecommendationArea,
        target: str,
        action: str,
        why: str,
        *figures: _Figure,
    ) -> None:
        """One recommendation per knob and target; later reasons are added to the first."""
        known = self.recommendations.get((area, target))
        if known is None:
            new = Recommendation(area=area, action=action, rationale=why, evidence=_ids(figures))
            self.recommendations[(area, target)] = (rank, new)
            return
        known_rank, recommendation = known
        rationale = f"{recommendation.rationale}; {why}"
        evidence = list(dict.fromkeys([*recommendation.evidence, *_ids(figures)]))
        if why in recommendation.rationale or len(rationale) > MAX_RATIONALE_CHARS:
            return
        if len(evidence) > MAX_CITED:
            return
        merged = recommendation.model_copy(update={"rationale": rationale, "evidence": evidence})
        self.recommendations[(area, target)] = (min(known_rank, rank), merged)

    def analysis(self, warnings: Sequence[str]) -> Analysis:
        findings = _most_important(self.findings.values(), MAX_FINDINGS) or [
            Finding(
                title="Nothing stands out",
                detail=(
                    "No rule found cold starts in the tail, failed or dropped requests, "
                    "throttles, slow inits or queueing during scale-out in the facts given."
                ),
            )
        ]
        recommendations = _most_important(self.recommendations.values(), MAX_RECOMMENDATIONS)
        cited = [*(i for f in findings for i in f.evidence)]
        cited += [i for r in recommendations for i in r.evidence]
        values = {fact.id: fact.value for fact in self.facts.facts()}
        evidence = [Evidence(fact=i, value=values[i]) for i in dict.fromkeys(cited)]
        return Analysis(
            summary="; ".join(f.title for f in findings[:3]) + ".",
            findings=findings,
            evidence=evidence[:MAX_EVIDENCE],
            recommendations=recommendations,
            author=AUTHOR,
            warnings=list(warnings),
        )


def analyse_offline(facts: FactsDocument, warnings: Sequence[str] = ()) -> Analysis:
    """The sections from ``facts`` by the rules; ``warnings`` say why it answered, if it was
    standing in for the model."""
    notebook = _Notebook(facts)
    for rule in RULES:
        rule(notebook)
    return notebook.analysis(warnings)


def _lowest_p99(nb: _Notebook) -> None:
    """One verdict finding: per scenario, every target's p99, lowest first."""
    groups: dict[tuple, list[FactRow]] = {}
    for row in nb.rows("run_summary"):
        if _number(row, "p99_ms") is not None and "target" in row.subject:
            groups.setdefault(_group_key(row), []).append(row)
    compared = [sorted(rows, key=lambda r: _number(r, "p99_ms")) for rows in groups.values()]
    compared = [rows for rows in compared if len(rows) > 1]
    if not compared:
        return
    parts: list[str] = []
    figures: list[_Figure] = []
    shown: list[list[FactRow]] = []
    for rows in compared:
        listed = [_figure(r, "p99_ms") for r in rows]
        part = _p99_comparison(rows, listed)
        too_long = len("; ".join([*parts, part])) > MAX_DETAIL_CHARS
        if len(figures) + len(listed) > MAX_CITED or too_long:
            parts.append("further scenarios left out")
            break
        parts.append(part)
        figures += listed
        shown.append(rows)
    if not shown:
        return
    winners = {_target(rows[0]) for rows in shown}
    if len(shown) == 1:
        title = f"{_where(shown[0][0]) or 'All runs'}: {winners.pop()} has the lowest p99"
    elif len(winners) == 1:
        title = f"{winners.pop()} has the lowest p99 in every scenario compared"
    else:
        title = "The lowest p99 depends on the scenario"
    nb.find((VERDICT, 0.0), title, "p99 by scenario, lowest first: " + "; ".join(parts), *figures)


def _p99_comparison(rows: list[FactRow], listed: list[_Figure]) -> str:
    """``burst (quick): local-k8s 410 ms, local-lambda 13,210 ms (32.2×)``."""
    part = f"{_where(rows[0]) or 'all runs'}: " + ", ".join(
        f"{_target(r)} {f.text}" for r, f in zip(rows, listed, strict=True)
    )
    best, worst = _number(rows[0], "p99_ms"), _number(rows[-1], "p99_ms")
    return part + (f" ({worst / best:.1f}×)" if best else "")


def _cold_starts_in_the_tail(nb: _Notebook) -> None:
    explained = set()
    for tail in nb.rows("slowest_requests"):
        cold, slowest = _figure(tail, "cold_starts"), _figure(tail, "requests")
        n_cold, n = _number(tail, "cold_starts"), _number(tail, "requests")
        if not (cold and slowest and n and n_cold and n_cold >= COLD_TAIL_SHARE * n):
            continue
        explained.add(_group_key(tail, with_target=True))
        detail = (
            f"{_prefix(tail)}{cold.text} of the {slowest.text} slowest requests waited on an init"
        )
        figures = [cold, slowest]
        summary = nb.twin("run_summary", tail)
        if summary is not None and _figure(summary, "cold_start_p50_ms"):
            cold_p50, p50 = _figure(summary, "cold_start_p50_ms"), _figure(summary, "p50_ms")
            if p50:
                detail += f", a cold request's median {cold_p50.text} against {p50.text}"
                figures += [cold_p50, p50]
        rank = (COLD_TAIL, -n_cold / n)
        title = f"p99 on {_target(tail)} is cold starts"
        nb.find(rank, title, detail, *figures, group=("cold tail", _target(tail)))
        _warm_capacity(nb, rank, tail, detail, figures)
    for row in nb.rows("run_summary"):
        if _group_key(row, with_target=True) in explained:
            continue
        cold, cold_p50, p99 = (
            _figure(row, f) for f in ("cold_starts", "cold_start_p50_ms", "p99_ms")
        )
        if not (cold and cold_p50 and p99 and _number(row, "cold_starts")):
            continue
        if _number(row, "cold_start_p50_ms") < _number(row, "p99_ms"):
            continue
        detail = (
            f"{_prefix(row)}{cold.text} requests waited on an init; their median latency, "
            f"{cold_p50.text}, is above the run's p99 of {p99.text}"
        )
        rank = (COLD_TAIL, -COLD_TAIL_SHARE)
        title = f"Cold starts set p99 on {_target(row)}"
        nb.find(rank, title, detail, cold, cold_p50, p99, group=("cold p99", _target(row)))
        _warm_capacity(nb, rank, row, detail, [cold, cold_p50, p99])


def _warm_capacity(
    nb: _Notebook, rank: Rank, row: FactRow, why: str, figures: list[_Figure]
) -> None:
    """Cold starts outside the cold-start scenario are what provisioned concurrency removes."""
    if _is_lambda(row) and row.subject.get("scenario") != "cold_start":
        nb.recommend(
            rank,
            "provisioned_concurrency",
            _target(row),
            f"Provision concurrency for {_target(row)} to cover its peak (or keep environments "
            "warm), so requests do not wait on an init",
            why,
            *figures,
        )


def _slow_inits(nb: _Notebook) -> None:
    for row in nb.rows("platform_metrics"):
        init_p50 = _number(row, "init_p50_ms")
        if not _is_lambda(row) or init_p50 is None or init_p50 < SLOW_INIT_MS:
            continue
        figures = [f for f in (_figure(row, "init_p50_ms"), _figure(row, "init_max_ms")) if f]
        why = f"{_prefix(row)}init p50 {figures[0].text}"
        if len(figures) > 1:
            why += f", max {figures[1].text}"
        nb.recommend(
            (COLD_TAIL, 0.0),
            "memory_size",
            _target(row),
            f"Try a larger memory size for {_target(row)}: Lambda gives a function CPU in "
            "proportion to its memory, and the init loads the model on that CPU",
            why,
            *figures,
        )


def _failed_requests(nb: _Notebook) -> None:
    for row, errors, requests, share in _runs_with(nb, "errors"):
        detail = f"{_prefix(row)}{errors.text} of {requests.text} requests failed"
        figures = [errors, requests]
        rate = _figure(row, "error_rate")
        if rate:
            detail += f" ({rate.text})"
            figures.append(rate)
        platform = nb.twin("platform_metrics", row)
        faults = [
            (name, _figure(platform, name))
            for name in PLATFORM_FAULTS
            if platform is not None and _number(platform, name)
        ]
        if faults:
            detail += "; the platform saw " + ", ".join(
                _counted(f, *PLATFORM_FAULTS[name]) for name, f in faults
            )
            figures += [f for _, f in faults]
        rank = (FAILURES, -share)
        title = f"{_target(row)} failed requests"
        nb.find(rank, title, detail, *figures, group=("failed", _target(row)))
        for name, figure in faults:
            _fault_remedy(nb, rank, row, name, figure)


def _fault_remedy(nb: _Notebook, rank: Rank, row: FactRow, fault: str, figure: _Figure) -> None:
    why = f"{_prefix(row)}{_counted(figure, *PLATFORM_FAULTS[fault])}"
    if fault == "throttles" and _is_lambda(row):
        nb.recommend(
            rank,
            "concurrency",
            _target(row),
            f"Raise {_target(row)}'s concurrency limit (reserved or account concurrency) or "
            "smooth the bursts it receives",
            why,
            figure,
        )
    elif fault in ("gateway_timeouts", "init_timeouts") and _is_lambda(row):
        nb.recommend(
            rank,
            "provisioned_concurrency",
            _target(row),
            f"Provision concurrency for {_target(row)} so no request waits on an init longer "
            "than the gateway will",
            why,
            figure,
        )


def _scaling_lag(nb: _Notebook) -> None:
    for platform in nb.rows("platform_metrics"):
        if not _is_kubernetes(platform):
            continue
        summary = nb.twin("run_summary", platform)
        scale_outs = _figure(platform, "scale_outs")
        if summary is not None and scale_outs and _number(platform, "scale_outs"):
            _queueing_during_scale_out(nb, summary, platform, scale_outs)
        nodes = _figure(platform, "nodes_added")
        if nodes and _number(platform, "nodes_added"):
            figures = [nodes]
            why = f"{_prefix(platform)}{_counted(nodes, 'node', 'nodes')} added"
            cpu = _figure(platform, "peak_cpu_pct")
            if cpu:
                why += f", peak CPU {cpu.text} of a core"
                figures.append(cpu)
            nb.recommend(
                (QUEUEING, 0.0),
                "node_type",
                _target(platform),
                f"Pick a node type with room for more replicas of {_target(platform)} (or keep "
                "a spare node), so scaling out does not wait for a new node",
                why,
                *figures,
            )


def _queueing_during_scale_out(
    nb: _Notebook, summary: FactRow, platform: FactRow, scale_outs: _Figure
) -> None:
    p99, p50 = _number(summary, "p99_ms"), _number(summary, "p50_ms")
    if not (p99 and p50 and p99 >= QUEUEING_RATIO * p50):
        return
    figures = [_figure(summary, "p99_ms"), _figure(summary, "p50_ms"), scale_outs]
    detail = (
        f"{_prefix(summary)}p99 {figures[0].text} is {p99 / p50:.1f}× p50 {figures[1].text} with "
        f"{_counted(scale_outs, 'scale-out', 'scale-outs')}"
    )
    ready = _figure(platform, "pod_ready_p50_ms")
    if ready:
        detail += f"; a new pod took {ready.text} to be ready (median)"
        figures.append(ready)
    rank = (QUEUEING, -p99 / p50)
    title = f"{_target(summary)} queues while it scales out"
    nb.find(rank, title, detail, *figures, group=("queueing", _target(summary)))
    nb.recommend(
        rank,
        "hpa_target",
        _target(summary),
        f"Lower the HPA's CPU target for {_target(summary)} (or scale on request rate) so it "
        "scales out before requests queue",
        detail,
        *figures,
    )


def _dropped_requests(nb: _Notebook) -> None:
    for row, dropped, requests, share in _runs_with(nb, "dropped"):
        detail = (
            f"{_prefix(row)}{dropped.text} of {requests.text} requests were never sent, the "
            "generator's in-flight limit being full"
        )
        figures = [dropped, requests]
        throughput = _figure(row, "throughput_rps")
        if throughput:
            detail += f"; it served {throughput.text}"
            figures.append(throughput)
        rank = (DROPS, -share)
        title = f"{_target(row)} could not keep up"
        nb.find(rank, title, detail, *figures, group=("drops", _target(row)))
        nb.recommend(
            rank,
            "batch_size",
            _target(row),
            f"Serve {_target(row)}'s requests in larger batches (or add capacity): it fell "
            "behind the offered rate",
            detail,
            *figures,
        )


def _runs_with(nb: _Notebook, count: str) -> Iterator[tuple[FactRow, _Figure, _Figure, float]]:
    """Run summaries with some ``count`` (``errors``, ``dropped``) among their requests: the
    row, that count and the requests as printed, and the share of the requests it is."""
    for row in nb.rows("run_summary"):
        counted, requests = _figure(row, count), _figure(row, "requests")
        number = _number(row, count)
        if counted and requests and number:
            yield row, counted, requests, number / max(1.0, _number(row, "requests") or 1.0)


def _cheapest(nb: _Notebook) -> None:
    groups: dict[tuple, list[FactRow]] = {}
    for row in nb.rows("costs"):
        if _number(row, "cost_per_million_usd") is not None and "target" in row.subject:
            groups.setdefault(_group_key(row), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: _number(r, "cost_per_million_usd"))
        listed = [_figure(r, "cost_per_million_usd") for r in rows]
        detail = "per million requests: " + ", ".join(
            f"{_target(r)} {f.text}" for r, f in zip(rows, listed, strict=True)
        )
        figures = list(listed)
        for row in rows:
            even = _figure(row, "break_even_rps")
            if even:
                detail += f"; {_target(row)} breaks even at {even.text}"
                figures.append(even)
        title = f"{_where(rows[0]) or 'Cost'}: {_target(rows[0])} costs least per request"
        nb.find((COSTS, 0.0), title, detail, *figures)


RULES: tuple[Callable[[_Notebook], None], ...] = (
    _lowest_p99,
    _cold_starts_in_the_tail,
    _failed_requests,
    _dropped_requests,
    _slow_inits,
    _scaling_lag,
    _cheapest,
)


def _number(row: FactRow | None, name: str) -> float | None:
    value = None if row is None else row.values.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _figure(row: FactRow | None, name: str) -> _Figure | None:
    """The fact printed the way the report prints it, or None when the row lacks it."""
    value = _number(row, name)
    if row is None or value is None:
        return None
    return _Figure(_format(name, value, row.values[name]), f"{row.label} {name}")


def _format(name: str, value: float, raw: object) -> str:
    unit = name.rpartition("_")[2]
    if unit == "ms":
        return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"
    if name.endswith("_rate") or name.endswith("_share"):
        return _percent(value * 100)
    if unit == "pct":
        return f"{value:.0f} %"
    if unit == "usd":
        return f"${value:,.2f}" if value >= 0.1 else f"${value:.4f}"
    if unit == "rps":
        return f"{value:,.1f} requests/s"
    if isinstance(raw, int):
        return f"{raw:,}"
    return f"{value:,.2f}"


def _most_important(ranked: Iterable[tuple[Rank, T]], limit: int) -> list[T]:
    """The ``limit`` best-ranked items; equal ranks keep the order the rules wrote them in."""
    return [item for _, item in sorted(ranked, key=lambda pair: pair[0])[:limit]]


def _percent(pct: float) -> str:
    """One decimal, or two significant digits below 0.1 % (so 1 in 6,000 is not "0.0 %")."""
    decimals = 1 if pct == 0 or pct >= 0.1 else 1 - math.floor(math.log10(pct))
    return f"{pct:.{decimals}f} %"


def _counted(figure: _Figure, singular: str, plural: str) -> str:
    return f"{figure.text} {singular if figure.text == '1' else plural}"


def _ids(figures: Sequence[_Figure | None]) -> list[str]:
    return list(dict.fromkeys(f.id for f in figures if f))


def _target(row: FactRow) -> str:
    return str(row.subject.get("target", "the target"))


def _prefix(row: FactRow) -> str:
    """``burst (quick): `` before a detail, or nothing for a row named by its target alone."""
    where = _where(row)
    return f"{where}: " if where else ""


def _where(row: FactRow) -> str:
    """The row's key values other than the target: ``burst (quick, repetition=0)``."""
    parts = [
        v if isinstance(v, str) else f"{k}={v}" for k, v in row.subject.items() if k != "target"
    ]
    if len(parts) < 2:
        return "".join(parts)
    return f"{parts[0]} ({', '.join(parts[1:])})"


def _group_key(row: FactRow, with_target: bool = False) -> tuple:
    return tuple(sorted((k, v) for k, v in row.subject.items() if with_target or k != "target"))


def _is_lambda(row: FactRow) -> bool:
    return "lambda" in _target(row).lower()


def _is_kubernetes(row: FactRow) -> bool:
    return any(word in _target(row).lower() for word in ("k8s", "eks", "kube"))
