"""What one load-test run is, as every Locust process needs it, and where its files go.

The runner writes the plan to ``plan.json`` in the run directory and points the Locust processes
at it (``NLP_BENCH_LOADGEN_PLAN``). Each process rebuilds the same schedule and corpus from it —
they are deterministic in the seed — so nothing large travels between processes or machines.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

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


def run_id_for(series_id: str, target: str, scenario: str, profile: str, repetition: int) -> str:
    """The run id of one repetition: stable, so a retried run replaces its own rows."""
    return f"{series_id}-{target}-{scenario}-{profile}-r{repetition}"


def requests_file(run_dir: Path, worker_index: int) -> Path:
    """The Parquet file of one Locust process's rows."""
    return run_dir / f"requests-w{worker_index:03d}.parquet"


def progress_file(run_dir: Path, worker_index: int) -> Path:
    """A small JSON file each Locust process rewrites every few seconds (counts so far)."""
    return run_dir / f"progress-w{worker_index:03d}.json"


class LoadPlan(BaseModel):
    """One repetition of one scenario against one endpoint, split over ``workers`` processes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
    series_id: str = Field(min_length=1, description="shared by the repetitions of one invocation")
    host: str = Field(description="base URL of the endpoint, e.g. http://127.0.0.1:8000")
    path: str = Field("/predict", pattern=r"^/")
    scenario: ScenarioConfig
    repetition: int = Field(0, ge=0)
    workers: int = Field(1, ge=1, le=1024, description="Locust processes, one share each")
    run_dir: Path
    start_lead_s: float = Field(
        1.0, gt=0, le=60, description="from test start to the first intended send"
    )

    @field_validator("host")
    @classmethod
    def _http_url(cls, host: str) -> str:
        if not host.startswith(("http://", "https://")):
            raise ValueError(f"host {host!r} must be an http:// or https:// URL")
        return host.rstrip("/")

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
        as the new run. Only the master calls it; workers on the same host share the directory.
        """
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def write(self) -> Path:
        """Write ``plan.json`` into the run directory (created if needed) and return its path."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run_dir / PLAN_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        os.replace(tmp, path)
        return path

    @classmethod
    def read(cls, path: Path) -> LoadPlan:
        return cls.model_validate_json(Path(path).read_text())
