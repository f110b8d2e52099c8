"""[economics] The pricing catalog as an asset: its data version is its digest, so a changed
price makes everything priced with it stale; a check warns when a price is over a year old."""

from datetime import UTC, datetime

import dagster as dg

from nlp_bench_pipeline.costs.catalog import CatalogError, PriceCatalog, stale_entries
from nlp_bench_pipeline.defs.economics.metadata import table
from nlp_bench_pipeline.defs.economics.resources import PricingResource
from nlp_bench_pipeline.lib.versions import source_version

CATALOG_VERSION = source_version(
    "nlp_bench_pipeline/costs/catalog.py", "nlp_bench_pipeline/costs/nodes.py"
)
PRICE_COLUMNS = (
    ("id", "string"),
    ("region", "string"),
    ("unit", "string"),
    ("usd", "float"),
    ("per", "float"),
    ("tiers", "int"),
    ("read", "string"),
    ("source", "string"),
)
STALE_COLUMNS = (("kind", "string"), ("key", "string"), ("region", "string"), ("read", "string"),
                 ("age_days", "int"))  # fmt: skip


def load(pricing: PricingResource) -> PriceCatalog:
    """The catalog, or a Failure naming the entry that is wrong."""
    try:
        return pricing.load()
    except CatalogError as exc:
        raise dg.Failure(str(exc)) from exc


@dg.asset(
    group_name="economics",
    kinds={"yaml"},
    code_version=CATALOG_VERSION,
    description="The pricing catalog (nlp_bench_pipeline/costs/catalog.yaml): every price with "
    "region, unit, tiers, source and the date it was read. Its data version is the digest of "
    "the validated content, so a changed price makes the cost assets stale.",
)
def price_catalog(pricing: PricingResource) -> dg.MaterializeResult:
    catalog = load(pricing)
    prices = [
        {
            "id": p.id,
            "region": p.region,
            "unit": p.unit,
            "usd": p.tiers[0].usd,
            "per": p.per,
            "tiers": len(p.tiers),
            "read": p.read.isoformat(),
            "source": str(p.source),
        }
        for p in catalog.prices
    ]
    reads = sorted(entry.read for entry in catalog.entries())
    return dg.MaterializeResult(
        data_version=dg.DataVersion(catalog.digest()),
        metadata={
            "digest": catalog.digest(),
            "path": dg.MetadataValue.path(pricing.path),
            "entries": len(catalog.entries()),
            "node_types": len(catalog.instances),
            "regions": sorted({entry.region for entry in catalog.entries()}),
            "oldest_read": reads[0].isoformat(),
            "newest_read": reads[-1].isoformat(),
            "prices": table(prices, PRICE_COLUMNS),
        },
    )


@dg.asset_check(
    asset=price_catalog,
    description="Warns when any price or figure of the catalog was read more than the pricing "
    "resource's max_age_days (365) ago: prices drift, so an old one should be re-read.",
)
def prices_read_within_a_year(pricing: PricingResource) -> dg.AssetCheckResult:
    catalog = load(pricing)
    today = datetime.now(UTC).date()
    stale = stale_entries(catalog, as_of=today, max_age_days=pricing.max_age_days)
    rows = [
        {"kind": s.kind, "key": s.key, "region": s.region, "read": s.read.isoformat(),
         "age_days": s.age_days}
        for s in stale
    ]  # fmt: skip
    description = (
        f"every figure read within {pricing.max_age_days} days of {today}"
        if not stale
        else f"{len(stale)} figure(s) read more than {pricing.max_age_days} days before {today}, "
        f"oldest {stale[0].key} ({stale[0].read}): re-read them at their source"
    )
    return dg.AssetCheckResult(
        passed=not stale,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={"stale": table(rows, STALE_COLUMNS), "as_of": today.isoformat()},
    )
