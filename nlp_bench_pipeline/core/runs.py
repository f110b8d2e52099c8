"""A benchmark run as the load generator reports it and as the store keeps it.

``RunSummary`` is what the load generator says when a repetition ends (counts, Locust's own
totals, consistency); ``RunRecord`` is one ``benchmark_runs`` row (identity, provenance,
counts); ``Provenance`` is what the rows were measured with. They live on the ground floor so
the load generator, the store and the benchmark hall exchange them without importing each other.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RunStatus = Literal["complete", "incomplete", "failed"]


class Provenance(BaseModel):
    """What the rows were measured with, recorded on every ``benchmark_runs`` row."""

    model_config = ConfigDict(frozen=True)

    model_id: str | None = None
    model_digest: str | None = None
    image_digest: str | None = None
    code_version: str | None = None
    dagster_run_id: str | None = None
    service_env: dict[str, str] = Field(
        default_factory=dict,
        description="the service settings the plan gave the deployment (NLP_BENCH_SERVICE_ENV)",
    )


class RunSummary(BaseModel):
    """What the runner reports when a run ends: counts, Locust's own totals, consistency."""

    run_id: str
    series_id: str
    scenario: str
    profile: str
    repetition: int
    seed: int
    host: str
    workers: int
    started_at: datetime
    finished_at: datetime
    scheduled: int = Field(description="requests in the schedule, both phases")
    scheduled_measure: int
    rows: int = Field(description="rows found in the Parquet files")
    sent: int
    ok: int
    errors: int
    dropped: int
    locust_requests: int | None = Field(description="Locust's own request count (its stats)")
    locust_failures: int | None
    workers_reported: int = Field(description="Parquet files found, one per Locust process")
    consistent: bool | None = Field(
        description="rows = scheduled = locust_requests + dropped; None if rows are elsewhere"
    )
    problems: list[str] = Field(default_factory=list)
    run_dir: str
    files: list[str]
    config: dict[str, Any] = Field(description="the resolved scenario config")
    generator_host: dict[str, Any] = Field(description="the machine the runner ran on")
    generator_tally: dict[str, int] = Field(
        default_factory=dict,
        description="the generator's own count per outcome (and sent), kept apart from the rows",
    )
    served_model_digests: list[str] = Field(
        default_factory=list, description="model digests the successful responses named"
    )

    @property
    def measure_s(self) -> float:
        """The measure phase's configured length: what its rates are taken over."""
        return float(sum(segment["duration_s"] for segment in self.config.get("measure", [])))


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
    deployed_at: datetime | None = Field(None, description="when the deploy of this run began")
    time_to_first_success_ms: float | None = Field(
        None, ge=0, description="deploy to the first successful prediction"
    )
    measure_s: float | None = Field(None, ge=0, description="the measure phase's length")
    slo_p99_ms: float | None = Field(None, gt=0, description="the run's p99 bound")
    generator_tally: dict[str, int] | None = None

    @field_validator("started_at", "finished_at", "deployed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware (UTC)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _service_env_in_host(cls, data: Any) -> Any:
        """A :class:`Provenance`'s ``service_env`` is kept in ``host`` (``host.service_env``).

        A record is built from a provenance's fields (``**provenance.model_dump()``); the
        service settings have no ``benchmark_runs`` column of their own, so they go in the
        run's ``host`` JSON beside the deployment's details — and only when there are any.
        """
        if not isinstance(data, dict) or "service_env" not in data:
            return data
        data = dict(data)
        service_env = data.pop("service_env")
        if service_env:
            data["host"] = {**(data.get("host") or {}), "service_env": dict(service_env)}
        return data

    @classmethod
    def from_summary(
        cls,
        summary: RunSummary,
        *,
        target: str,
        host: dict[str, Any] | None = None,
        provenance: Provenance | None = None,
        **measured: Any,
    ) -> RunRecord:
        """The record of a finished run: 'complete' only when its counts are consistent.

        ``host`` is merged over the generator's host facts; ``measured`` takes the columns the
        harness measured around the load (``deployed_at``, ``time_to_first_success_ms``,
        ``slo_p99_ms``). The model digest is the one the responses served when they agree on
        one, else the provenance's (the artifact's).
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
            host={
                "generator": summary.generator_host,
                "served_model_digests": summary.served_model_digests,
                **(host or {}),
            },
            **{
                **(provenance or Provenance()).model_dump(),
                **served_digest(summary),
            },
            measure_s=summary.measure_s,
            generator_tally=summary.generator_tally or None,
            **measured,
        )


def served_digest(summary: RunSummary) -> dict[str, str]:
    """``model_digest`` from what was served, when the responses named exactly one."""
    if len(summary.served_model_digests) == 1:
        return {"model_digest": summary.served_model_digests[0]}
    return {}
