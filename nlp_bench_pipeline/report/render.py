"""Charts to files: a PNG (vl-convert, offline) and an interactive HTML page each.

Nothing is fetched when a chart is drawn or viewed: the PNG is rendered in-process by
vl-convert's embedded Vega, and the HTML pages load the Vega, Vega-Lite and vega-embed
libraries from ``vl_convert.javascript_bundle()`` — written once per chart folder as
:data:`BUNDLE_FILE`, beside the pages (the self-contained report inlines it instead, under
:data:`CONTENT_SECURITY_POLICY`, which forbids any fetch).

Embedding in HTML: JSON inside ``<script>`` is escaped so no text in it (a run's config, a
label) can close the element (``<``, ``>`` and ``&`` become ``\\u003c`` …), and the bundle is
guarded the same way.
"""

from __future__ import annotations

import functools
import html
import json
import re
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vl_convert

from nlp_bench_pipeline.report.chart import Chart

BUNDLE_FILE = "vega-bundle.js"
PNG_SCALE = 1.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Vega compiles expressions with Function(), hence 'unsafe-eval'; nothing may be fetched.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data:; connect-src 'none'; font-src 'none'; base-uri 'none'; form-action 'none'"
)
_SCRIPT_END = re.compile(r"</(script)", re.IGNORECASE)


@functools.cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and vega-embed as one script (``vegaEmbed`` global), safe to inline."""
    return _SCRIPT_END.sub(r"<\\/\1", vl_convert.javascript_bundle())


def png(spec: Mapping[str, Any], scale: float = PNG_SCALE) -> bytes:
    """The chart drawn at its spec's own size (``scale`` 1: one PNG pixel per CSS pixel)."""
    return recompressed(vl_convert.vegalite_to_png(dict(spec), scale=scale))


def recompressed(image: bytes) -> bytes:
    """The same PNG, its image data deflated at zlib's best level.

    vl-convert writes PNGs with its encoder's fastest compression: a chart of antialiased lines
    and text comes out about four times larger than it need be. The scanlines (filters
    included) are kept byte for byte; only their deflate stream is redone, so the picture is
    unchanged.
    """
    if image[:8] != PNG_SIGNATURE:
        raise ValueError("not a PNG")
    chunks, data, pos = [], [], 8
    while pos < len(image):
        (length,) = struct.unpack(">I", image[pos : pos + 4])
        kind, body = image[pos + 4 : pos + 8], image[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IDAT":
            data.append(body)
            if image[pos + 4 : pos + 8] != b"IDAT":  # the last of a run of IDAT chunks
                chunks.append((b"IDAT", zlib.compress(zlib.decompress(b"".join(data)), 9)))
        else:
            chunks.append((kind, body))
    return PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


def script_json(value: Any) -> str:
    """JSON that can sit inside ``<script>`` without ending it or opening a comment."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


EMBED_SCRIPT = """
for (const holder of document.querySelectorAll('[data-chart]')) {
  const spec = JSON.parse(document.getElementById(holder.dataset.chart).textContent);
  vegaEmbed(holder, spec, {renderer: 'svg', actions: false})
    .then(() => { holder.dataset.rendered = 'true'; })
    .catch((error) => {
      holder.dataset.error = String(error);
      holder.textContent = 'This chart could not be drawn: ' + error;
    });
}
"""


def chart_page(chart: Chart, bundle_src: str = BUNDLE_FILE) -> str:
    """One chart as an interactive page loading the bundle from ``bundle_src`` beside it."""
    if chart.spec is None:
        raise ValueError(f"{chart.name} has nothing to draw: {chart.note}")
    title = html.escape(chart.title)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:15px/1.45 system-ui,sans-serif;margin:1rem;color:#222}}
.chart{{width:100%;overflow-x:auto}}</style>
<script src="{html.escape(bundle_src)}"></script></head>
<body><h1>{title}</h1><p>{html.escape(chart.description)}</p>
<div class="chart" data-chart="spec"></div>
<script type="application/json" id="spec">{script_json(chart.spec)}</script>
<script>{EMBED_SCRIPT}</script>
</body></html>
"""


@dataclass(frozen=True)
class ChartFiles:
    """Where one chart's files were written, and the PNG's size in bytes."""

    chart: Chart
    html_path: Path
    png_path: Path
    spec_path: Path
    png_bytes: int


def write_chart(chart: Chart, folder: Path) -> ChartFiles:
    """``<name>.html``, ``<name>.png`` and ``<name>.vl.json`` in ``folder`` (with the bundle)."""
    if chart.spec is None:
        raise ValueError(f"{chart.name} has nothing to draw: {chart.note}")
    folder.mkdir(parents=True, exist_ok=True)
    bundle = folder / BUNDLE_FILE
    if not bundle.exists() or bundle.read_text() != vega_bundle():
        bundle.write_text(vega_bundle())
    image = png(chart.spec)
    png_path = folder / f"{chart.name}.png"
    png_path.write_bytes(image)
    spec_path = folder / f"{chart.name}.vl.json"
    spec_path.write_text(json.dumps(chart.spec))
    html_path = folder / f"{chart.name}.html"
    html_path.write_text(chart_page(chart))
    return ChartFiles(chart, html_path, png_path, spec_path, len(image))
