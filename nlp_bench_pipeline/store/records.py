"""What the store is given about a run: one ``benchmark_runs`` row (plain pydantic, no DuckDB)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nlp_bench_pipeline.loadgen.results import RunSummary

RunStatus = Literal["complete", "incomplete", "failed"]


class RunRecord(BaseModel):
    """A run's identity, provenance and counts; the rows come from its Parquet files."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(min_length=1)
    series_id: str = Field(min_length=1)
    target: str = Field(min_length=1)
    scenario: str
    repetition: int = Field(ge=0)
    repetitions: int = Field(ge=1, description="how many repetitions the series plans")
    profile: str
    started_at: datetime
    finished_at: datetime | None = None
    status: RunStatus
    scheduled: int = Field(ge=0)
    locust_requests: int | None = None
    dropped: int = Field(ge=0)
    model_id: str | None = None
    model_digest: str | None = None
    image_digest: str | None = None
    code_version: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    dagster_run_id: str | None = None

    @field_validator("started_at", "finished_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return value

    @classmethod
    def from_summary(
        cls,
        summary: RunSummary,
        *,
        target: str,
        host: dict[str, Any] | None = None,
        **provenance: Any,
    ) -> RunRecord:
        """The record of a finished run: 'complete' only when its counts are consistent.

        ``provenance`` takes the other columns (model_id, model_digest, image_digest,
        code_version, dagster_run_id); ``host`` is merged over the generator's host facts.
        """
        if summary.consistent:
            status: RunStatus = "complete"
        elif summary.rows == 0:
            status = "failed"
        else:
            status = "incomplete"
        return cls(
            run_id=summary.run_id,
            series_id=summary.series_id,
            target=target,
            scenario=summary.scenario,
            repetition=summary.repetition,
            repetitions=int(summary.config.get("repetitions", 1)),
            profile=summary.profile,
            started_at=summary.started_at,
            finished_at=summary.finished_at,
            status=status,
            scheduled=summary.scheduled,
            locust_requests=summary.locust_requests,
            dropped=summary.dropped,
            config=summary.config,
            host={"generator": summary.generator_host, **(host or {})},
            **provenance,
        )
