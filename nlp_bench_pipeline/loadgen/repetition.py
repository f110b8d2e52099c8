"""One repetition of a benchmark cell, resolved once, and where its files go.

The parent (the benchmark hall, or the command line for a standalone run) resolves a
:class:`RepetitionPlan` — scenario, run id, deployment spec, provenance — and writes it to
``plan.json`` in the run directory. The load generator's runner (a Dagster Pipes child) and every
Locust process read that file (``NLP_BENCH_LOADGEN_PLAN``) instead of resolving anything again;
each Locust process rebuilds the same schedule and corpus from it, deterministic in the seed, so
nothing large travels between processes or machines.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from inference_service.contract import PREDICT_PATH
from nlp_bench_pipeline.core.deployments import Deployment, DeploymentSpec
from nlp_bench_pipeline.core.runs import Provenance
from nlp_bench_pipeline.loadgen.scenarios import ScenarioConfig
from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule

PLAN_ENV = "NLP_BENCH_LOADGEN_PLAN"
PLAN_FILE = "plan.json"
LOCUST_STATS_FILE = "locust-stats.json"
LOCUST_LOG_FILE = "locust.log"
SUMMARY_FILE = "summary.json"
REQUESTS_GLOB = "requests-w*.parquet"
# Time allowed after the last request's timeout for Locust to write files and exit.
EXIT_MARGIN_S = 20.0


def requests_file(run_dir: Path, worker_index: int) -> Path:
    """The Parquet file of one Locust process's rows."""
    return run_dir / f"requests-w{worker_index:03d}.parquet"


def progress_file(run_dir: Path, worker_index: int) -> Path:
    """A small JSON file each Locust process rewrites every few seconds (counts so far)."""
    return run_dir / f"progress-w{worker_index:03d}.json"


def endpoint_url(host: str) -> str:
    """``host`` as a base URL without a trailing slash; anything but http(s) is refused."""
    if not host.startswith(("http://", "https://")):
        raise ValueError(f"host {host!r} must be an http:// or https:// URL")
    return host.rstrip("/")


class RepetitionPlan(BaseModel):
    """One repetition of one scenario against one endpoint, split over ``workers`` processes.

    ``host`` is empty until the platform is deployed (:meth:`aimed_at`); ``deployment`` and
    ``provenance`` say what is measured, for the run's record.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
    series_id: str = Field(min_length=1, description="shared by the repetitions of one invocation")
    target: str = Field("external", min_length=1, description="the platform measured")
    host: str | None = Field(
        None, description="base URL of the endpoint, e.g. http://127.0.0.1:8000"
    )
    path: str = Field(PREDICT_PATH, pattern=r"^/")
    scenario: ScenarioConfig
    repetition: int = Field(0, ge=0)
    workers: int = Field(1, ge=1, le=1024, description="Locust processes, one share each")
    run_dir: Path
    start_lead_s: float = Field(
        1.0, gt=0, le=60, description="from test start to the first intended send"
    )
    deployment: DeploymentSpec | None = Field(None, description="what the target deploys")
    provenance: Provenance = Field(default_factory=Provenance)
    slo_p99_ms: float | None = Field(None, gt=0, description="the p99 bound the run is judged by")
    auth: dict[str, str] | None = Field(
        None, description="the API's authorisation and region (aws-lambda): how to sign"
    )
    mode: Literal["http", "direct"] = Field(
        "http", description="through the endpoint, or Lambda's Invoke API directly (bypassing it)"
    )
    function_name: str | None = Field(None, description="direct mode: the function to invoke")
    qualifier: str | None = Field(None, description="direct mode: its alias or version")

    @field_validator("host")
    @classmethod
    def _http_url(cls, host: str | None) -> str | None:
        return None if host is None else endpoint_url(host)

    @classmethod
    def resolve(
        cls,
        scenario: ScenarioConfig,
        *,
        series_id: str,
        target: str,
        work_dir: Path,
        repetitions: list[int] | None = None,
        **fields: object,
    ) -> list[RepetitionPlan]:
        """The plans of ``repetitions`` (default: all) of a resolved scenario.

        The one place a run id is derived: stable in (series, target, scenario, profile,
        repetition), so a retried run replaces its own rows.
        """
        wanted = list(range(scenario.repetitions)) if repetitions is None else repetitions
        plans = []
        for repetition in wanted:
            if not 0 <= repetition < scenario.repetitions:
                raise ValueError(
                    f"repetition {repetition} is outside 0..{scenario.repetitions - 1} "
                    f"(scenario {scenario.name!r} has {scenario.repetitions} repetition(s))"
                )
            run_id = f"{series_id}-{target}-{scenario.name}-{scenario.profile}-r{repetition}"
            plans.append(
                cls(
                    run_id=run_id,
                    series_id=series_id,
                    target=target,
                    scenario=scenario,
                    repetition=repetition,
                    run_dir=Path(work_dir) / "loadgen" / run_id,
                    **fields,
                )
            )
        return plans

    def aimed_at(self, deployment: Deployment | str) -> RepetitionPlan:
        """This plan against a deployed endpoint (and, for an authorised API, how to sign)."""
        if isinstance(deployment, str):
            return self.model_validate({**self.model_dump(), "host": deployment})
        details = deployment.details
        auth = (
            {"authorization": details["authorization"], "region": details.get("region") or ""}
            if details.get("authorization")
            else None
        )
        return self.model_validate({**self.model_dump(), "host": deployment.endpoint, "auth": auth})

    @property
    def measure_s(self) -> float:
        """The measure phase's configured length: what its rates are taken over."""
        return float(sum(segment.duration_s for segment in self.scenario.measure))

    @property
    def target_host(self) -> str:
        """The endpoint; a plan is only run once it has one."""
        if not self.host:
            raise ValueError(f"run {self.run_id} has no host: deploy the target first")
        return self.host

    def schedule(self) -> ArrivalSchedule:
        return self.scenario.schedule(self.repetition)

    @property
    def deadline_s(self) -> float:
        """The longest a healthy run can take: lead, schedule, last timeout, exit margin."""
        return (
            self.start_lead_s + self.scenario.duration_s + self.scenario.timeout_s + EXIT_MARGIN_S
        )

    def clear_earlier_attempt(self) -> None:
        """Remove what an earlier attempt of this run id left in its directory.

        A retried run keeps its run id, and so its directory: without this the new summary could
        count the old attempt's rows or Locust stats, or a crashed attempt's summary be ingested
        as the new run. Only the parent calls it (:meth:`prepare`); workers on one host share
        the directory.
        """
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def prepare(self) -> Path:
        """Clear an earlier attempt's files and write ``plan.json``: what a launcher does first."""
        self.clear_earlier_attempt()
        return self.write()

    def write(self) -> Path:
        """Write ``plan.json`` into the run directory (created if needed) and return its path."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / PLAN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: Path) -> RepetitionPlan:
        return cls.model_validate_json(Path(path).read_text())
