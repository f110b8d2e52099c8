"""Scenarios as declarative, validated configs: a YAML catalog read into pydantic models.

The built-in catalog (``scenarios.yaml`` beside this module) defines ``warm_steady``, ``ramp``,
``burst``, ``cold_start`` and ``soak`` in the profiles ``quick`` and ``full``; a user catalog in the
same format can replace it. Every problem — unknown scenario or profile, negative rate, zero
duration, an empty phase, an unknown key — is a :class:`ScenarioError` that names the scenario,
the profile and the offending field, raised while resolving the config, before anything starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nlp_bench_pipeline.loadgen.corpus import CorpusConfig
from nlp_bench_pipeline.loadgen.schedule import ArrivalSchedule, PhaseName, Segment

BUILTIN_CATALOG = Path(__file__).with_name("scenarios.yaml")
SCENARIO_NAMES = ("warm_steady", "ramp", "burst", "cold_start", "soak")
# What a benchmark runs when no scenario is named, per profile. Soak is a long steady load for
# drift, leaks and evictions, which quick's half minute cannot show (warm_steady measures the
# steady state there): quick leaves it out to keep `make bench` within its 12 minutes, and runs
# it when named. Smoke runs everything, in seconds.
BENCHED_BY_DEFAULT: dict[str, tuple[str, ...]] = {
    "smoke": SCENARIO_NAMES,
    "quick": tuple(name for name in SCENARIO_NAMES if name != "soak"),
    "full": SCENARIO_NAMES,
}
# smoke: seconds per scenario, for tests and CI; quick: minutes for the whole benchmark on a
# laptop; full: the real thing, on a quiet machine or real AWS.
PROFILES = ("smoke", "quick", "full")
Profile = Literal["smoke", "quick", "full"]


class ScenarioError(ValueError):
    """A scenario config that cannot run; the message says which one and why."""


WarmCapacity = Literal["schedule", "warmup", "none"]
# Keys a catalog entry may set for every profile of a scenario (beside its description).
SCENARIO_LEVEL_KEYS = ("warm_capacity",)


class ScenarioConfig(BaseModel):
    """One scenario in one profile, fully resolved: phases, seed, repetitions, bounds, corpus."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    profile: Profile
    description: str = ""
    warmup: list[Segment] = Field(
        min_length=1, description="recorded with phase='warmup', left out of summaries"
    )
    measure: list[Segment] = Field(min_length=1, description="what the summaries are computed on")
    seed: int = Field(ge=0, description="drives the schedule and the payload corpus")
    repetitions: int = Field(1, ge=1, le=100, description="independent runs, each its own run_id")
    max_inflight: int = Field(
        ge=1, le=20_000, description="requests in flight per Locust process; beyond -> dropped"
    )
    timeout_s: float = Field(gt=0, le=900, description="client timeout for one request")
    corpus: CorpusConfig = CorpusConfig()
    warm_capacity: WarmCapacity = Field(
        "warmup",
        description="what the harness warms before the load: the capacity the whole schedule "
        "needs at once (steady scenarios), what the warm-up phase needs (the base rate a ramp or "
        "burst starts from, so its own cold starts are measured), or nothing (cold_start)",
    )

    @model_validator(mode="after")
    def _phases_send_requests(self) -> ScenarioConfig:
        for phase, segments in self.phases():
            if sum(s.expected_requests for s in segments) < 1:
                raise ValueError(f"the {phase} phase schedules no requests (all rates are 0)")
        return self

    def phases(self) -> list[tuple[PhaseName, list[Segment]]]:
        return [("warmup", self.warmup), ("measure", self.measure)]

    @property
    def duration_s(self) -> float:
        return sum(s.duration_s for _, segments in self.phases() for s in segments)

    @property
    def longest_idle_s(self) -> float:
        """The longest stretch at rate 0: a cold-start scenario's idle time, to set eviction by."""
        idle = [
            s.duration_s
            for _, segs in self.phases()
            for s in segs
            if s.rate == 0 and s.final_rate == 0
        ]
        return max(idle, default=0.0)

    def schedule(self, repetition: int = 0) -> ArrivalSchedule:
        """The arrival schedule of one repetition (payload indices drawn over the corpus size)."""
        return ArrivalSchedule.build(
            self.phases(), seed=self.seed, repetition=repetition, corpus_size=self.corpus.size
        )


class ScenarioCatalog(BaseModel):
    """A catalog file: shared defaults, and per scenario a description and one entry per profile."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    defaults: dict[str, Any] = Field(default_factory=dict)
    scenarios: dict[str, dict[str, Any]]

    @property
    def names(self) -> list[str]:
        return sorted(self.scenarios)


def load_catalog(path: Path | None = None) -> ScenarioCatalog:
    """Read a catalog (the built-in one by default); a malformed file fails with its path."""
    path = path or BUILTIN_CATALOG
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f"cannot read scenario catalog {path}: {exc}") from exc
    try:
        return ScenarioCatalog.model_validate(raw)
    except ValidationError as exc:
        raise ScenarioError(f"scenario catalog {path} is malformed:\n{_explain(exc)}") from exc


def load_scenario(
    name: str,
    profile: str = "quick",
    *,
    catalog: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ScenarioConfig:
    """Resolve ``name`` in ``profile``: catalog defaults, the profile's entry, then overrides."""
    entries = load_catalog(catalog)
    where = f"scenario catalog {catalog or BUILTIN_CATALOG}"
    if name not in entries.scenarios:
        raise ScenarioError(
            f"unknown scenario {name!r}; the {where} defines: {', '.join(entries.names)}"
        )
    if profile not in PROFILES:
        raise ScenarioError(f"unknown profile {profile!r}; choose one of: {', '.join(PROFILES)}")
    entry = dict(entries.scenarios[name])
    description = entry.pop("description", "")
    shared = {key: entry.pop(key) for key in SCENARIO_LEVEL_KEYS if key in entry}
    if profile not in entry:
        raise ScenarioError(f"scenario {name!r} has no {profile!r} profile in the {where}")
    unexpected = sorted(set(entry) - set(PROFILES))
    if unexpected:
        raise ScenarioError(f"scenario {name!r} has unknown keys {unexpected} in the {where}")
    fields = _merge(entries.defaults, shared, entry[profile] or {}, overrides or {})
    try:
        return ScenarioConfig.model_validate(
            {"name": name, "profile": profile, "description": description, **fields}
        )
    except ValidationError as exc:
        raise ScenarioError(
            f"scenario {name!r} (profile {profile}) is invalid:\n{_explain(exc)}"
        ) from exc


def _merge(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win; the ``corpus`` mapping is merged key by key rather than replaced."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "corpus" and isinstance(value, Mapping):
                merged[key] = {**merged.get(key, {}), **value}
            else:
                merged[key] = value
    return merged


def _explain(exc: ValidationError) -> str:
    """One line per problem: the field path and pydantic's message."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "(top level)"
        lines.append(f"  - {where}: {error['msg']}")
    return "\n".join(lines)
