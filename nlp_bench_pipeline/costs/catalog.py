"""The pricing catalog: prices, free allowances, node types and platform facts, with provenance.

Prices drift and regions differ, so no rate lives in code: ``catalog.yaml`` holds every figure
with the region it applies to, its unit, its source and the date it was read, and this module
validates it (a figure without a source or a date is refused, tiers must be ordered and leave no
gap) and answers lookups. ``digest()`` fingerprints the validated content, so a change of any
price changes the data version of everything priced with it; ``stale_entries`` finds figures
read too long ago to trust.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    field_validator,
    model_validator,
)

from nlp_bench_pipeline.costs.nodes import allocatable_cpu_m, allocatable_memory_mib

DEFAULT_CATALOG = Path(__file__).with_name("catalog.yaml")
GLOBAL = "global"

Region = Annotated[str, Field(min_length=1)]


class CatalogError(ValueError):
    """The catalog file is missing, unreadable or invalid; the message names the entry."""


class CatalogLookupError(KeyError):
    """The catalog has no entry for this id (in this region)."""

    def __str__(self) -> str:  # KeyError would print the message quoted
        return str(self.args[0])


class _Entry(BaseModel):
    """Provenance every figure carries: where it was read, when, and what is assumed."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    region: Region
    source: HttpUrl
    read: date
    note: str | None = None

    @property
    def key(self) -> str:
        """What the entry is looked up by."""
        raise NotImplementedError


class _Named(_Entry):
    id: str

    @property
    def key(self) -> str:
        return self.id


EntryT = TypeVar("EntryT", bound=_Entry)


class Tier(BaseModel):
    """A band of the monthly volume, [start, end) in the price's units; end None = no limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: float = Field(ge=0)
    end: float | None = None
    usd: float = Field(ge=0)

    @model_validator(mode="after")
    def _not_empty(self) -> Tier:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"tier end {self.end} is not above its start {self.start}")
        return self


class Price(_Named):
    """A rate in USD per ``per`` units, flat (``usd``) or tiered over the monthly volume."""

    service: str
    unit: str
    per: float = Field(1.0, gt=0, description="units the USD figures are quoted for")
    tiers: tuple[Tier, ...]

    @model_validator(mode="before")
    @classmethod
    def _flat_is_one_tier(cls, data: Any) -> Any:
        if isinstance(data, dict) and "usd" in data:
            if "tiers" in data:
                raise ValueError("give either usd or tiers, not both")
            data = {**data, "tiers": [{"start": 0, "end": None, "usd": data["usd"]}]}
            del data["usd"]
        return data

    @field_validator("tiers")
    @classmethod
    def _ordered_and_contiguous(cls, tiers: tuple[Tier, ...]) -> tuple[Tier, ...]:
        if not tiers:
            raise ValueError("a price needs at least one tier")
        if tiers[0].start != 0:
            raise ValueError(f"the first tier starts at {tiers[0].start}, not 0")
        for before, after in itertools.pairwise(tiers):
            if before.end is None or after.start != before.end:
                raise ValueError(
                    f"tiers are not contiguous: one ends at {before.end}, the next starts at "
                    f"{after.start}"
                )
        if tiers[-1].end is not None:
            raise ValueError(f"the last tier ends at {tiers[-1].end}; it must be open (end: null)")
        return tiers

    def cost(self, quantity: float, *, free: float = 0.0) -> float:
        """USD for ``quantity`` units in a month, the first ``free`` of them not charged.

        Tiers count the whole month's volume, free units included: free units are the bottom
        of the first tiers, so they lower the bill at the rate they would have cost.
        """
        if quantity < 0 or free < 0:
            raise ValueError(f"negative quantity ({quantity}) or free allowance ({free})")
        return self._tiered(quantity) - self._tiered(min(quantity, free))

    def _tiered(self, quantity: float) -> float:
        total = 0.0
        for tier in self.tiers:
            if quantity <= tier.start:
                break
            top = quantity if tier.end is None else min(quantity, tier.end)
            total += (top - tier.start) * tier.usd
        return total / self.per


class InstanceType(_Entry):
    """An EC2 node type: on-demand price, shape, and what EKS leaves to pods."""

    type: str
    arch: Literal["x86", "arm"]
    vcpus: int = Field(gt=0)
    memory_gib: float = Field(gt=0)
    max_pods: int = Field(gt=0)
    allocatable_cpu_m: float = Field(gt=0)
    allocatable_memory_mib: float = Field(gt=0)
    usd_per_hour: float = Field(gt=0)

    @property
    def key(self) -> str:
        return self.type

    @model_validator(mode="after")
    def _allocatable_by_the_eks_formula(self) -> InstanceType:
        cpu = allocatable_cpu_m(self.vcpus)
        memory = allocatable_memory_mib(self.memory_gib, self.max_pods)
        if max(abs(cpu - self.allocatable_cpu_m), abs(memory - self.allocatable_memory_mib)) > 0.5:
            raise ValueError(
                f"{self.type}: allocatable {self.allocatable_cpu_m}m / "
                f"{self.allocatable_memory_mib} MiB, but the EKS AMI's formula gives {cpu:g}m / "
                f"{memory:g} MiB"
            )
        return self


class Allowance(_Named):
    """A free monthly quantity (the Lambda free tier)."""

    unit: str
    quantity: float = Field(ge=0)


class Fact(_Named):
    """A platform figure the model needs that is not a price (hours in a month, log line sizes)."""

    unit: str
    value: float


class PriceCatalog(BaseModel):
    """The validated catalog; look entries up by id (and region)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: Literal[1]
    currency: Literal["USD"]
    prices: tuple[Price, ...]
    instances: tuple[InstanceType, ...]
    allowances: tuple[Allowance, ...] = ()
    facts: tuple[Fact, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> PriceCatalog:
        for section in (self.prices, self.instances, self.allowances, self.facts):
            seen: set[tuple[str, str]] = set()
            for entry in section:
                if (entry.key, entry.region) in seen:
                    raise ValueError(f"{entry.key!r} appears twice for region {entry.region}")
                seen.add((entry.key, entry.region))
        return self

    def price(self, price_id: str, region: str) -> Price:
        return _find(self.prices, "price", price_id, region)

    def instance(self, instance_type: str, region: str) -> InstanceType:
        return _find(self.instances, "node type", instance_type, region)

    def allowance(self, allowance_id: str, region: str = GLOBAL) -> Allowance:
        return _find(self.allowances, "allowance", allowance_id, region)

    def fact(self, fact_id: str, region: str = GLOBAL) -> float:
        return _find(self.facts, "fact", fact_id, region).value

    def instance_types(self, region: str) -> list[str]:
        return [i.type for i in self.instances if i.region == region]

    def entries(self) -> list[_Entry]:
        return [*self.prices, *self.instances, *self.allowances, *self.facts]

    def digest(self) -> str:
        """sha256 of the canonical content: the same figures give the same digest, whatever the
        YAML's layout or comments."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def _find(entries: Sequence[EntryT], kind: str, key: str, region: str) -> EntryT:
    """The entry for ``key`` in ``region``, or one valid in every region (``global``)."""
    matches = [e for e in entries if e.key == key]
    for entry in matches:
        if entry.region in (region, GLOBAL):
            return entry
    if not matches:
        raise CatalogLookupError(f"the catalog has no {kind} {key!r}")
    regions = ", ".join(sorted(e.region for e in matches))
    raise CatalogLookupError(f"the catalog has no {kind} {key!r} for {region} (only {regions})")


@dataclass(frozen=True)
class StaleEntry:
    """A figure read more than the allowed number of days before the reference date."""

    kind: str
    key: str
    region: str
    read: date
    age_days: int


def stale_entries(catalog: PriceCatalog, *, as_of: date, max_age_days: int) -> list[StaleEntry]:
    """Entries whose ``read`` date is more than ``max_age_days`` before ``as_of``, oldest first."""
    stale = []
    for entry in catalog.entries():
        age = (as_of - entry.read).days
        if age > max_age_days:
            kind = type(entry).__name__.lower()
            stale.append(StaleEntry(kind, entry.key, entry.region, entry.read, age))
    return sorted(stale, key=lambda s: (s.read, s.kind, s.key))


def load_catalog(path: Path | None = None) -> PriceCatalog:
    """Read and validate a catalog (default: the one shipped next to this module)."""
    path = path or DEFAULT_CATALOG
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogError(f"cannot read the price catalog {path}: {exc}") from exc
    try:
        return PriceCatalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(f"invalid price catalog {path}: {_describe(exc, data)}") from exc


def _describe(exc: ValidationError, data: Any) -> str:
    """Each error as ``section[i] (its id): field: message``, so a reader finds the entry."""
    messages = []
    for error in exc.errors():
        loc = list(error["loc"])
        where = ".".join(str(part) for part in loc)
        section = data.get(loc[0]) if isinstance(data, dict) and loc else None
        if isinstance(section, list) and len(loc) >= 2 and isinstance(loc[1], int):
            entry = section[loc[1]]
            if isinstance(entry, dict):
                name = entry.get("id") or entry.get("type")
                field = ".".join(str(part) for part in loc[2:]) or "entry"
                where = f"{loc[0]}[{loc[1]}] ({name}): {field}"
        messages.append(f"{where}: {error['msg']}")
    return "; ".join(messages)
