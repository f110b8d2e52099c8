"""[economics] The price catalog every economics asset prices with.

Bound here with its default (the catalog shipped with ``nlp_bench_pipeline.costs``) so the stage
loads as it is; a deployment that keeps its own catalog points ``path`` at it in the Launchpad.
"""

from pathlib import Path

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.costs.catalog import DEFAULT_CATALOG, PriceCatalog, load_catalog

MAX_AGE_DAYS = 365


class PricingResource(dg.ConfigurableResource):
    """The pricing catalog file (YAML) and how old a price may be before the check warns."""

    path: str = Field(str(DEFAULT_CATALOG), description="the pricing catalog (YAML)")
    max_age_days: int = Field(MAX_AGE_DAYS, ge=1, description="older prices are flagged")

    def load(self) -> PriceCatalog:
        return load_catalog(Path(self.path))


@dg.definitions
def economics_resources() -> dg.Definitions:
    return dg.Definitions(resources={"pricing": PricingResource()})
