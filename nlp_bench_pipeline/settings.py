"""Pipeline-side settings from ``NLP_BENCH_*`` environment variables (pydantic-settings).

The service has its own settings object (``inference_service.settings``); the two packages share
the prefix, never code.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class PipelineSettings(BaseSettings):
    """Where results go and where local platforms keep their working files."""

    model_config = SettingsConfigDict(
        env_prefix="NLP_BENCH_", extra="ignore", protected_namespaces=()
    )

    db: Path = Field(PROJECT_ROOT / "data" / "nlp_bench.duckdb", description="the DuckDB file")
    work_dir: Path = Field(
        PROJECT_ROOT / "data" / "work",
        description="run directories: load-generator Parquet files, platform process logs",
    )


@lru_cache(maxsize=1)
def get_pipeline_settings() -> PipelineSettings:
    return PipelineSettings()
