"""The chart families on hand-made runs: what each draws, what it refuses to invent, the files."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest

from nlp_bench_pipeline.report import cold_starts, costs, distribution, latency
from nlp_bench_pipeline.report.build import scope
from nlp_bench_pipeline.report.charts import build_charts, read_charts, write_charts
from nlp_bench_pipeline.report.render import png, recompressed
from nlp_bench_pipeline.store import report_queries as q
from nlp_bench_pipeline.store.database import MetricStore
from tests.unit.test_report_rows import (
    COLD,
    COLD_LATENCY_MS,
    COLD_SERVER_MS,
    INIT_MS,
    LAMBDA_BURST,
    THROTTLED,
    WAIT_MS,
    add_economics,
    build_report_store,
)

CHARTS = (
    "latency_percentiles",
    "service_time",
    "latency_timeline",
    "throughput",
    "latency_cdf",
    "cold_start_breakdown",
    "capacity_timeline",
    "cost_per_million",
    "memory_sweep",
)
MAX_PNG_BYTES = 150_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> MetricStore:
    store = build_report_store(tmp_path_factory.mktemp("charts"))
    add_economics(store)
    return store


@pytest.fixture(scope="module")
def runs(store: MetricStore) -> list[dict]:
    return scope(store).runs


def test_every_chart_family_draws_from_the_runs(store, runs) -> None:
    charts = build_charts(store, runs)
    assert [c.name for c in charts] == list(CHARTS)
    assert all(c.drawn for c in charts), [c.note for c in charts if not c.drawn]


def test_a_percentile_on_a_failure_is_named_never_given_a_latency(runs) -> None:
    points = latency.percentile_points(runs)
    burst = [p for p in points if p["run"] == "local-lambda · burst"]
    failure = [p for p in burst if p["kind"] == "failure"]
    assert [p["percentile"] for p in failure] == ["✕ p99, p99.9 fail"]
    assert failure[0]["latency_ms"] is None
    assert {p["percentile"] for p in burst if p["kind"] == "measured"} == {"p50", "p90"}
    ok_only = [p for p in burst if p["kind"] == "ok_only"]
    assert ok_only[0]["latency_ms"] > 3000  # the successes' p99 is a cold start


def test_the_cdf_tops_out_at_the_share_that_succeeded(store, runs) -> None:
    quantiles = q.latency_quantiles(store, [LAMBDA_BURST], distribution.PROBABILITIES)
    points = distribution.cdf_points(runs, quantiles)
    assert max(p["share"] for p in points) == pytest.approx((120 - len(THROTTLED)) / 120)


def test_the_cold_start_parts_add_up_to_what_the_user_waited(store, runs) -> None:
    rows = cold_starts.breakdown_rows(
        runs, q.cold_request_parts(store, [r["run_id"] for r in runs]), []
    )
    parts = {r["part"]: r["ms"] for r in rows if r["run"].startswith("local-lambda · burst")}
    assert parts == pytest.approx(
        {
            cold_starts.WAIT: WAIT_MS,
            cold_starts.INIT: INIT_MS,
            cold_starts.INFERENCE: COLD_SERVER_MS,
            cold_starts.REST: COLD_LATENCY_MS - WAIT_MS - INIT_MS - COLD_SERVER_MS,
        },
        abs=0.01,
    )
    assert f"({len(COLD)} cold requests)" in rows[0]["run"]


def test_a_pod_start_is_the_kubernetes_cold_start(store, runs) -> None:
    ids = [r["run_id"] for r in runs]
    rows = cold_starts.breakdown_rows(runs, [], q.first_pods(store, ids))
    parts = {r["part"]: r["ms"] for r in rows if r["run"].startswith("local-k8s · burst")}
    assert parts[cold_starts.INIT] == 2500.0
    assert sum(parts.values()) == pytest.approx(4100.0)  # deploy → first success


def test_no_economics_tables_yet_is_said_not_drawn(tmp_path: Path) -> None:
    store = build_report_store(tmp_path)  # the tables exist (migration 0005) but are empty
    charts = costs.build(store, [])
    assert [c.drawn for c in charts] == [False, False]
    assert all("economics stage has not written" in c.note for c in charts)


def test_the_cost_chart_marks_the_break_even_and_the_sweep_lists_what_was_not_run(store) -> None:
    breakeven = q.latest_rows(store, "cost_breakeven")
    rows = costs.cost_rows(breakeven)
    (rule,) = [r for r in rows if r["layer"] == "breakeven"]
    assert rule["rate_rps"] == 100.0
    assert {r["platform"] for r in rows if r["layer"] == "curve"} == {"Lambda", "EKS"}
    sweep = costs.sweep_chart(q.latest_rows(store, "memory_sweep"))
    assert sweep.drawn
    assert sweep.note == "not run: local-lambda 10240 MB (the host cannot hold it)"


def test_charts_are_written_as_small_pngs_and_pages_and_read_back(store, runs, tmp_path) -> None:
    written = write_charts(build_charts(store, runs), tmp_path)
    for chart in written:
        image = (tmp_path / chart.png).read_bytes()
        assert image.startswith(b"\x89PNG")
        assert len(image) <= MAX_PNG_BYTES, chart.name
        page = (tmp_path / chart.html).read_text()
        assert 'src="vega-bundle.js"' in page
        assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)  # nothing from a CDN
    assert [c.name for c in read_charts(tmp_path)] == list(CHARTS)


def test_an_undrawn_chart_leaves_no_stale_files(store, runs, tmp_path) -> None:
    charts = build_charts(store, runs)
    write_charts(charts, tmp_path)
    empty = [
        c if c.name != "throughput" else costs.not_drawn(c.name, c.title, "", "gone")
        for c in charts
    ]
    written = write_charts(empty, tmp_path)
    assert not (tmp_path / "throughput.png").exists()
    assert next(c for c in written if c.name == "throughput").note == "gone"


def test_recompression_keeps_every_pixel_and_shrinks_the_file(store, runs) -> None:
    chart = latency.percentiles_chart(runs)
    import vl_convert

    original = vl_convert.vegalite_to_png(chart.spec, scale=1)
    smaller = recompressed(original)
    assert _pixels(smaller) == _pixels(original)
    assert len(smaller) < len(original)
    assert png(chart.spec) == smaller


def _pixels(image: bytes) -> tuple[bytes, bytes]:
    """The header and the inflated (still filtered) scanlines."""
    pos, header, data = 8, b"", b""
    while pos < len(image):
        (length,) = struct.unpack(">I", image[pos : pos + 4])
        kind, body = image[pos + 4 : pos + 8], image[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        data += body if kind == b"IDAT" else b""
        pos += 12 + length
    return header, zlib.decompress(data)
