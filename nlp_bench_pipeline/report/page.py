"""The benchmark report: one self-contained HTML file a person reads on a laptop or a phone.

Self-contained means nothing is fetched when it is opened: the styles are inline, the fonts are
the system's, and the Vega libraries are inlined once (``render.vega_bundle()``) with one
``vegaEmbed`` per chart, each spec in its own ``<script type="application/json">``. A
Content-Security-Policy meta tag forbids every fetch, so a chart that tried would fail visibly
rather than phone home.

Every text the page embeds — labels, run configurations, host notes, model ids, the analysis
(an LLM's reply included) — goes through ``html.escape`` into the markup or ``script_json``
into a script, so a value holding ``</script><img src=x onerror=…>`` shows as text.

Order, most important first: the headline — each target's peak rate under the p99 bound, per
vCPU, host-limited where it was measured locally, with the simulator's projection — then the
verdict per scenario, the charts, the SLO results
(MLPerf-style VALID/INVALID with every reason), the analysis, then the run configuration,
provenance (model, image, code digests) and host notes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from nlp_bench_pipeline.bench.host_load import FOREIGN_LOAD_BOUND, busy, describe
from nlp_bench_pipeline.report.chart import Chart
from nlp_bench_pipeline.report.peak import PeakFigure, headlines
from nlp_bench_pipeline.report.render import (
    CONTENT_SECURITY_POLICY,
    EMBED_SCRIPT,
    script_json,
    vega_bundle,
)
from nlp_bench_pipeline.report.sre import SreAnalysis
from nlp_bench_pipeline.report.tables import (
    SloRow,
    VerdictRow,
    host_details,
    run_config,
    winners,
)

STYLE = """
:root{color-scheme:light;--ink:#1f2328;--muted:#59636e;--line:#d8dee4;--ok:#1a7f37;--bad:#cf222e}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);
background:#fff}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.6rem;margin:.5rem 0}
h2{font-size:1.25rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1.05rem;margin:1.25rem 0 .25rem}
p,li{max-width:75ch}.muted{color:var(--muted)}.small{font-size:.875rem}
nav a{margin-right:.75rem;white-space:nowrap}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;font-size:.9rem;min-width:100%}
th,td{border-bottom:1px solid var(--line);padding:.35rem .5rem;text-align:left;vertical-align:top}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.met{color:var(--ok);font-weight:600}.missed{color:var(--bad);font-weight:600}
figure{margin:1rem 0 2rem}figcaption{font-size:.875rem;color:var(--muted);max-width:75ch}
.chart{width:100%;overflow-x:auto;min-height:2rem}
.note{border-left:4px solid #d4a72c;background:#fff8c5;padding:.5rem .75rem;max-width:75ch}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.5rem;font-size:.8rem;
max-height:24rem;overflow:auto}
details{margin:.25rem 0}summary{cursor:pointer}td code{word-break:break-all}
.headline{font-size:1.1rem;max-width:75ch}
@media (max-width:600px){body{font-size:15px}main{padding:.6rem}h1{font-size:1.3rem}
th,td{padding:.3rem .35rem}}
"""


def render_page(
    *,
    runs: Sequence[Mapping[str, Any]],
    verdicts: Sequence[VerdictRow],
    slo: Sequence[SloRow],
    charts: Sequence[Chart],
    analysis: SreAnalysis | None,
    profile: str | None,
    generated_at: dt.datetime,
    notes: Sequence[str] = (),
    peak: Sequence[PeakFigure] = (),
) -> str:
    """The whole report as one HTML document."""
    drawn = [chart for chart in charts if chart.drawn]
    specs = "\n".join(
        f'<script type="application/json" id="spec-{i}">{script_json(c.spec)}</script>'
        for i, c in enumerate(drawn)  # type: ignore[arg-type]
    )
    body = "\n".join(
        [
            _header(runs, profile, generated_at, notes),
            _peak_section(peak),
            _verdict_section(verdicts),
            _charts_section(charts, drawn),
            _slo_section(slo),
            _analysis_section(analysis),
            _configuration_section(runs),
            _provenance_section(runs),
            _host_section(runs),
        ]
    )
    scripts = (
        f"<script>{vega_bundle()}</script>\n{specs}\n<script>{EMBED_SCRIPT}</script>"
        if drawn
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY, quote=False)}">
<title>nlp-bench report{escape(f" — {profile}" if profile else "")}</title>
<style>{STYLE}</style></head>
<body><main>
{body}
</main>
{scripts}
</body></html>
"""


def _header(
    runs: Sequence[Mapping[str, Any]],
    profile: str | None,
    generated_at: dt.datetime,
    notes: Sequence[str],
) -> str:
    targets = sorted({run["target"] for run in runs})
    scenarios = sorted({run["scenario"] for run in runs})
    finished = max((run["finished_at"] for run in runs if run.get("finished_at")), default=None)
    facts = (
        f"{len(runs)} runs of {len(scenarios)} scenarios on {', '.join(targets) or 'no target'}"
        f"; profile {profile or '–'}; newest run finished {_time(finished)}; "
        f"generated {_time(generated_at)}"
    )
    caveat = (
        "Local targets on one machine: read the figures as the shape of each platform's "
        "behaviour, not as AWS's absolute numbers; the host notes say where the machine bent them."
        if any(run["target"].startswith("local-") for run in runs)
        else ""
    )
    note_html = "".join(f'<p class="note">{escape(note)}</p>' for note in notes)
    return f"""<header><h1>Serverless or Kubernetes? The benchmark's answer</h1>
<p class="muted">{escape(facts)}</p>
{f'<p class="small">{escape(caveat)}</p>' if caveat else ""}
{note_html}
<nav class="small"><a href="#peak">Peak rate</a>
<a href="#verdict">Verdict</a><a href="#charts">Charts</a>
<a href="#slo">SLO results</a><a href="#analysis">Analysis</a>
<a href="#configuration">Configuration</a><a href="#provenance">Provenance</a>
<a href="#host">Host</a></nav></header>"""


def _peak_section(figures: Sequence[PeakFigure]) -> str:
    if not figures:
        return (
            '<section id="peak"><h2>Peak rate under the SLO</h2><p class="small muted">No '
            "peak-rate search of this profile in the store yet: <code>nlp-bench peak</code> "
            "(or the <code>peak</code> job) finds it.</p></section>"
        )
    sentences = "".join(f'<p class="headline">{_peak_sentence(f)}</p>' for f in headlines(figures))
    rows = "".join(_peak_row(f) for f in figures)
    details = "".join(_peak_details(f) for f in figures)
    first = figures[0].measured
    return f"""<section id="peak"><h2>Peak rate under the SLO</h2>
{sentences}
<div class="scroll"><table id="peak-table"><thead><tr><th>target</th><th>size</th>
<th>policy</th><th class="num">p99 bound</th><th class="num">peak</th>
<th class="num">per vCPU</th><th>result</th><th>label</th><th class="num">projected</th>
<th class="num">projected per vCPU</th></tr></thead><tbody>{rows}</tbody></table></div>
{details}
<p class="small muted">As MLPerf LoadGen's FindPeakPerformance: a probe at a starting rate, the
rate doubled until a probe is INVALID, then bisected; the peak is the highest VALID rate probed
below the lowest INVALID one. Each probe is a run of scenario <code>peak</code> of at least
{first.get("min_duration_s") or 0:g} s and {first.get("min_requests") or 0:,} requests, VALID when
its p99 from the intended send time over every request — failures and drops count as misses — is
within the bound (the SLO results' own verdict). Warmed: the capacity the rate needs is ready
before the load; cold: scale-out happens inside the probe. A bound in italics is judged on the
rates another bound's search chose. Projected: the scale simulator, AWS's rules, the same
configuration, service times calibrated from the probes.</p></section>"""


def _peak_sentence(figure: PeakFigure) -> str:
    measured = figure.measured
    where = f"{escape(figure.size)}, {escape(figure.policy)}"
    bound = _ms(figure.bound_ms)
    if measured.get("peak_rps") is None:
        lowest = next(
            (p for p in figure.probes if p["rate_rps"] == measured.get("upper_rps")), None
        )
        why = lowest["reason"] if lowest else measured.get("reason") or ""
        text = (
            f"<strong>{escape(figure.target)}</strong> held p99 ≤ {bound} at no probed rate, "
            f"down to {_rps(measured.get('upper_rps'))} ({where}): {escape(str(why))}"
        )
    else:
        text = (
            f"<strong>{escape(figure.target)}</strong> holds "
            f"<strong>{_rps(measured['peak_rps'])}</strong>{_per_vcpu(measured)} with p99 ≤ "
            f"{bound} ({where})"
        )
    if measured.get("host_limited"):
        text += ' — <span class="missed">host-limited</span>'
    projected = figure.simulated
    if projected is not None and projected.get("peak_rps") is not None:
        text += (
            f"; projected under AWS's rules: {_rps(projected['peak_rps'])}{_per_vcpu(projected)}"
        )
    elif projected is not None:
        text += "; the projection under AWS's rules holds it at no probed rate either"
    return text + "."


def _peak_row(figure: PeakFigure) -> str:
    measured, projected = figure.measured, figure.simulated or {}
    bound = _ms(figure.bound_ms) if figure.searched else f"<em>{_ms(figure.bound_ms)}</em>"
    label = (
        '<span class="missed">host-limited</span>' if measured.get("host_limited") else "platform"
    )
    return (
        f"<tr><td>{escape(figure.target)}</td><td>{escape(figure.size)}</td>"
        f'<td>{escape(figure.policy)}</td><td class="num">{bound}</td>'
        f'<td class="num">{_rps(measured.get("peak_rps"))}</td>'
        f'<td class="num">{_rps(measured.get("per_vcpu_rps"))}</td>'
        f"<td>{escape(str(measured.get('status')))}</td><td>{label}</td>"
        f'<td class="num">{_rps(projected.get("peak_rps"))}</td>'
        f'<td class="num">{_rps(projected.get("per_vcpu_rps"))}</td></tr>'
    )


def _peak_details(figure: PeakFigure) -> str:
    measured = figure.measured
    reasons = "".join(
        f"<li>host-limited: {escape(str(r))}</li>"
        for r in measured.get("host_limited_reasons") or []
    )
    projection = (
        f"<li>projection: {escape(str(figure.simulated.get('reason')))}</li>"
        if figure.simulated is not None
        else ""
    )
    probes = "".join(
        f'<tr><td class="num">{p["probe"] + 1}</td><td>{escape(str(p["step"]))}</td>'
        f'<td class="num">{_rps(p["rate_rps"])}</td>'
        f'<td><span class="{"met" if p["verdict"] == "VALID" else "missed"}">'
        f"{escape(str(p['verdict']))}</span></td><td>{escape(str(p['reason']))}</td>"
        f'<td class="num">{_ms(p.get("p99_corrected_ms"))}</td>'
        f'<td class="num">{_share(p.get("failed_share"))}</td>'
        f"<td><code>{escape(str(p.get('run_id') or '–'))}</code></td></tr>"
        for p in figure.probes
    )
    summary = (
        f"{figure.target} · {figure.size} · {figure.policy} · p99 ≤ {_ms(figure.bound_ms)}: "
        f"{len(figure.probes)} probes"
    )
    return f"""<details><summary>{escape(summary)}</summary>
<ul class="small"><li>{escape(str(measured.get("reason")))}</li>{reasons}{projection}</ul>
<div class="scroll"><table><thead><tr><th class="num">#</th><th>step</th><th class="num">rate</th>
<th>result</th><th>why</th><th class="num">p99</th><th class="num">failed</th><th>run</th></tr>
</thead><tbody>{probes}</tbody></table></div></details>"""


def _per_vcpu(row: Mapping[str, Any]) -> str:
    if row.get("per_vcpu_rps") is None:
        return ""
    return f" ({_rps(row['per_vcpu_rps'])} per vCPU, {row['vcpus']:g} vCPU)"


def _rps(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g} req/s"


def _verdict_section(rows: Sequence[VerdictRow]) -> str:
    if not rows:
        return (
            '<section id="verdict"><h2>Verdict</h2><p>No complete benchmark run in the store '
            "yet: run <code>make bench</code>.</p></section>"
        )
    met = winners(rows)
    lines = []
    for scenario, targets in met.items():
        who = ", ".join(targets) if targets else "no target"
        lines.append(f"<li><strong>{escape(scenario)}</strong>: {escape(who)} met the SLO</li>")
    body = []
    for row in rows:
        slo = (
            '<span class="met">met</span>'
            if row.slo_met
            else '<span class="missed">missed</span>'
            if row.slo_met is False
            else "–"
        )
        p99 = (
            _ms(row.p99_ms)
            if row.p99_ms is not None
            else f'<span class="missed">failed</span> ({row.failed_share:.1%} failed)'
        )
        cost = (
            f'<span title="{escape(row.cost_basis or "")}">${row.cost_per_million_usd:,.2f}</span>'
            if row.cost_per_million_usd is not None
            else "–"
        )
        body.append(
            f"<tr><td>{escape(row.scenario)}</td><td>{escape(row.target)}</td><td>{slo}</td>"
            f'<td class="num">{p99}</td><td class="num">{_ms(row.p99_ok_ms)}</td>'
            f'<td class="num">{_ms(row.slo_p99_ms)}</td>'
            f'<td class="num">{row.cold_starts:,}</td>'
            f'<td class="num">{row.failed_share:.1%}</td><td class="num">{cost}</td></tr>'
        )
    return f"""<section id="verdict"><h2>Verdict</h2>
<ul>{"".join(lines)}</ul>
<div class="scroll"><table id="verdict-table">
<thead><tr><th>scenario</th><th>target</th><th>SLO</th><th class="num">p99</th>
<th class="num">p99 of successes</th><th class="num">bound</th><th class="num">cold starts</th>
<th class="num">failed</th><th class="num">$ / million</th></tr></thead>
<tbody>{"".join(body)}</tbody></table></div>
<p class="small muted">p99 from the intended send time over every scheduled request of the
measure phase, failures ranked slowest (the worst repetition); "failed" where it lands on a
failed or dropped request. Cost: the economics stage's chosen configuration at the traffic nearest
this scenario's offered rate (hover for which), where it has run.</p></section>"""


def _charts_section(charts: Sequence[Chart], drawn: Sequence[Chart]) -> str:
    index = {chart.name: i for i, chart in enumerate(drawn)}
    figures = []
    for chart in charts:
        note = f'<p class="note">{escape(chart.note)}</p>' if chart.note else ""
        holder = (
            f'<div class="chart" data-chart="spec-{index[chart.name]}" '
            f'data-name="{escape(chart.name)}"></div>'
            if chart.drawn
            else ""
        )
        figures.append(
            f'<figure id="chart-{escape(chart.name)}"><h3>{escape(chart.title)}</h3>'
            f"{holder}{note}<figcaption>{escape(chart.description)}</figcaption></figure>"
        )
    return f'<section id="charts"><h2>Charts</h2>{"".join(figures)}</section>'


def _slo_section(rows: Sequence[SloRow]) -> str:
    body = []
    for row in rows:
        run, verdict = row.run, row.verdict
        css = "met" if verdict.valid else "missed"
        body.append(
            f"<tr><td>{escape(run['target'])}</td><td>{escape(run['scenario'])}</td>"
            f'<td class="num">{run["repetition"]}</td>'
            f'<td><span class="{css}">{verdict.verdict}</span></td>'
            f"<td>{escape(verdict.describe())}</td>"
            f'<td class="num">{_ms(run.get("p99_corrected_ms"))}</td>'
            f'<td class="num">{_ms(run.get("slo_p99_ms"))}</td>'
            f'<td class="num">{run.get("requests") or 0:,}</td>'
            f'<td class="num">{_seconds(run.get("measure_s"))}</td></tr>'
        )
    return f"""<section id="slo"><h2>SLO results</h2>
<p class="small">MLPerf-style: a run is VALID when its p99 from the intended send time over every
request (failures count as misses) is within the bound and the run was long enough to say so
(a minimum measured duration and request count); otherwise INVALID, with every reason.</p>
<div class="scroll"><table id="slo-table"><thead><tr><th>target</th><th>scenario</th>
<th class="num">rep</th><th>result</th><th>why</th><th class="num">p99</th>
<th class="num">bound</th><th class="num">requests</th><th class="num">measured</th></tr></thead>
<tbody>{"".join(body)}</tbody></table></div></section>"""


def _analysis_section(result: SreAnalysis | None) -> str:
    if result is None:
        return (
            '<section id="analysis"><h2>Analysis</h2><p class="note">No analysis was written '
            "for these runs (the <code>sre_analysis</code> asset has not run).</p></section>"
        )
    analysis = result.analysis
    author = (
        f"written by the Groq model {analysis.author.removeprefix('groq:')}"
        if result.by_model
        else "written by the offline analyst (rules over the same facts)"
    )
    why = f" — {result.why_offline}" if result.why_offline else ""
    grounding = result.grounding
    grounded = (
        f'<span class="met">every number grounded</span> ({grounding.numbers_checked} checked)'
        if grounding.grounded
        else f'<span class="missed">not grounded</span>: {escape(grounding.describe())}'
    )
    findings = "".join(
        f"<li><strong>{escape(f.title)}</strong><br>{escape(f.detail)}{_cited(f.evidence)}</li>"
        for f in analysis.findings
    )
    recommendations = "".join(
        f"<li><strong>{escape(r.action)}</strong> <span class='muted small'>"
        f"({escape(r.area)})</span><br>{escape(r.rationale)}{_cited(r.evidence)}</li>"
        for r in analysis.recommendations
    )
    evidence = "".join(
        f'<tr><td>{escape(e.fact)}</td><td class="num">{escape(str(e.value))}</td></tr>'
        for e in analysis.evidence
    )
    warnings = "".join(f'<p class="note">{escape(w)}</p>' for w in analysis.warnings)
    return f"""<section id="analysis"><h2>Analysis</h2>
<p class="small muted" id="analysis-author">{escape(author + why)}; {grounded}</p>{warnings}
<p id="analysis-summary">{escape(analysis.summary)}</p>
<h3>Findings</h3><ol>{findings}</ol>
<h3>Recommendations</h3><ol>{recommendations or "<li>none</li>"}</ol>
<details><summary>Evidence ({len(analysis.evidence)} facts)</summary><div class="scroll">
<table><thead><tr><th>fact</th><th class="num">value</th></tr></thead><tbody>{evidence}</tbody>
</table></div></details></section>"""


def _cited(ids: Sequence[str]) -> str:
    if not ids:
        return ""
    return f'<br><span class="small muted">from: {escape("; ".join(ids))}</span>'


def _configuration_section(runs: Sequence[Mapping[str, Any]]) -> str:
    items = []
    for run in runs:
        deployment = host_details(run).get("deployment") or {}
        shown = {
            "scenario": run_config(run),
            "deployment": deployment.get("config"),
            "limits": deployment.get("limits"),
            "replicas": deployment.get("replicas"),
            "cpu": deployment.get("cpu"),
            "warming": host_details(run).get("warming"),
        }
        text = json.dumps({k: v for k, v in shown.items() if v is not None}, indent=1)
        items.append(
            f"<details><summary>{escape(_label(run))}</summary><pre>{escape(text)}</pre></details>"
        )
    return f'<section id="configuration"><h2>Run configuration</h2>{"".join(items)}</section>'


def _provenance_section(runs: Sequence[Mapping[str, Any]]) -> str:
    body = "".join(
        f"<tr><td>{escape(_label(run))}</td><td>{escape(str(run.get('model_id') or '–'))}</td>"
        f"<td><code>{escape(str(run.get('model_digest') or '–'))}</code></td>"
        f"<td><code>{escape(str(run.get('image_digest') or '–'))}</code></td>"
        f"<td><code>{escape(str(run.get('code_version') or '–'))}</code></td>"
        f"<td>{escape(_time(run.get('started_at')))}</td></tr>"
        for run in runs
    )
    return f"""<section id="provenance"><h2>Provenance</h2><div class="scroll"><table>
<thead><tr><th>run</th><th>model</th><th>model digest (served)</th><th>image digest</th>
<th>code version</th><th>started</th></tr></thead><tbody>{body}</tbody></table></div></section>"""


def _host_section(runs: Sequence[Mapping[str, Any]]) -> str:
    items = []
    for run in runs:
        host = host_details(run)
        deployment = host.get("deployment") or {}
        limited = deployment.get("host_limited") or []
        notes = deployment.get("notes") or {}
        lines = [
            f"host-limited share of requests: {_share(run.get('host_limited_share'))}; the "
            f"platform's own p99 without them: {_ms(run.get('p99_platform_ms'))}",
        ]
        if limited:
            lines.append("host-limited: " + "; ".join(str(x) for x in limited))
        if isinstance(notes, Mapping):
            lines += [f"{name}: {note}" for name, note in notes.items()]
        else:
            lines += [str(note) for note in notes]
        load = host.get("host_load")
        if load:
            lines.append(
                "host load: "
                + describe(load)
                + (
                    f" — over the {FOREIGN_LOAD_BOUND:.0%} bound (quiet_host): these figures "
                    "describe a busy machine as much as the platform"
                    if busy(load)
                    else ""
                )
            )
        generator = host.get("generator")
        if generator:
            lines.append("load generator: " + json.dumps(generator, sort_keys=True))
        items.append(
            f"<details><summary>{escape(_label(run))}</summary><ul>"
            + "".join(f"<li>{escape(line)}</li>" for line in lines)
            + "</ul></details>"
        )
    return f"""<section id="host"><h2>Host and host-limited notes</h2>
<p class="small">Where the machine running the local targets could not hold AWS's numbers, the
target says so; requests that met such a limit are counted in every headline figure and named
here.</p>{"".join(items)}</section>"""


def _label(run: Mapping[str, Any]) -> str:
    label = f"{run['target']} · {run['scenario']} · {run['profile']}"
    return label + (
        f" · repetition {run['repetition']}" if (run.get("repetitions") or 1) > 1 else ""
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms"


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:g} s"


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _time(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
