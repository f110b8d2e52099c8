"""The DuckDB metric store: schema migrations, ingestion of runs, and the queries on them.

Plain Python, no Dagster: ``MetricStore`` is the one way in (docs/schema.md describes the tables).
"""

from nlp_bench_pipeline.core.runs import RunRecord
from nlp_bench_pipeline.store.database import MetricStore, StoreError
from nlp_bench_pipeline.store.ingest import IngestReport

__all__ = ["IngestReport", "MetricStore", "RunRecord", "StoreError"]
