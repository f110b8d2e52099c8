"""What a person reads: the charts, the HTML report and the SRE analysis of a benchmark.

Plain Python, no Dagster: one module per chart family (``latency``, ``timeline``,
``throughput``, ``distribution``, ``cold_starts``, ``capacity``, ``costs``) builds Altair charts
from the store's aggregate queries (``store/report_queries.py``); ``render`` draws them offline
(vl-convert); ``tables``, ``page`` and ``build`` make the self-contained report; ``sre`` feeds
the analysis package its facts. The Dagster assets (``defs/report/``) and ``nlp-bench report``
call ``build``. docs/report.md describes every chart and what it is drawn from.
"""
