"""What an analyst writes: the sections of a short SRE report, the same for every analyst.

The Groq model is asked for :class:`AnalysisSections` as JSON and its reply is validated
against it; the offline rules build the same objects. :class:`Analysis` adds who wrote it and
what went wrong on the way (a model that was not found, a reply that was not JSON), so a reader
always knows whether a model or the rules speak. Bounds on lengths keep a runaway reply out of
the report: a reply over them is malformed, and the offline analyst answers instead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

RecommendationArea = Literal[
    "memory_size",
    "provisioned_concurrency",
    "concurrency",
    "hpa_target",
    "node_type",
    "batch_size",
    "other",
]
AREAS: tuple[str, ...] = RecommendationArea.__args__

FactValue = float | int | str | bool


class Finding(BaseModel):
    """Something the figures show, with the facts that show it."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    title: str = Field(max_length=200)
    detail: str = Field(max_length=1200)
    evidence: list[str] = Field(default_factory=list, max_length=20)


class Evidence(BaseModel):
    """A number and the fact it is: ``fact`` is a fact id of the facts document."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    fact: str = Field(max_length=300)
    value: FactValue


class Recommendation(BaseModel):
    """A change to make, which knob it turns, and why."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    area: RecommendationArea
    action: str = Field(max_length=400)
    rationale: str = Field(max_length=1200)
    evidence: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("area", mode="before")
    @classmethod
    def _unknown_area_is_other(cls, value: object) -> object:
        return value if value in AREAS else "other"


class AnalysisSections(BaseModel):
    """The report's body: what an analyst (model or rules) is asked to write."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    summary: str = Field(max_length=1200)
    findings: list[Finding] = Field(max_length=12)
    evidence: list[Evidence] = Field(max_length=60)
    recommendations: list[Recommendation] = Field(max_length=12)


class Analysis(AnalysisSections):
    """The sections, who wrote them (``groq:<model>`` or ``offline``) and any warnings."""

    author: str
    warnings: list[str] = Field(default_factory=list)
