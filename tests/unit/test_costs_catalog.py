"""The pricing catalog: provenance required, tiers well formed, lookups by region, digest, age."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from nlp_bench_pipeline.costs.catalog import (
    DEFAULT_CATALOG,
    CatalogError,
    CatalogLookupError,
    load_catalog,
    stale_entries,
)
from nlp_bench_pipeline.costs.nodes import allocatable_cpu_m, kube_reserved_cpu_m


def shipped() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_CATALOG.read_text())


def write(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def price(data: dict[str, Any], price_id: str) -> dict[str, Any]:
    return next(p for p in data["prices"] if p["id"] == price_id)


def test_shipped_catalog_loads_with_a_source_and_date_for_every_entry() -> None:
    catalog = load_catalog()
    entries = catalog.entries()
    assert len(entries) > 40
    assert all(entry.source and entry.read for entry in entries)


def test_shipped_catalog_covers_what_the_model_prices() -> None:
    catalog = load_catalog()
    for price_id in (
        "lambda.duration.x86",
        "lambda.duration.arm",
        "lambda.requests",
        "lambda.provisioned.capacity.x86",
        "lambda.provisioned.duration.arm",
        "apigateway.http.requests",
        "apigateway.rest.requests",
        "eks.cluster.standard",
        "eks.cluster.extended",
        "ebs.gp3.storage",
        "vpc.nat_gateway.hours",
        "elb.alb.lcu",
        "cloudwatch.logs.ingest.lambda",
        "ecr.storage",
        "data_transfer.internet_out",
    ):
        assert catalog.price(price_id, "us-east-1").tiers
    assert catalog.fact("month.hours") == 730
    assert {"c7i.xlarge", "c7g.xlarge", "c6i.large"} <= set(catalog.instance_types("us-east-1"))


def test_a_price_without_a_source_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    del price(data, "lambda.requests")["source"]
    with pytest.raises(CatalogError, match=r"prices\[\d+\] \(lambda.requests\): source"):
        load_catalog(write(tmp_path, data))


def test_a_price_without_a_read_date_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    del price(data, "eks.cluster.standard")["read"]
    with pytest.raises(CatalogError, match=r"\(eks.cluster.standard\): read: Field required"):
        load_catalog(write(tmp_path, data))


def test_a_node_type_without_a_source_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    del data["instances"][0]["source"]
    with pytest.raises(CatalogError, match=r"instances\[0\] \(c6i.large\): source"):
        load_catalog(write(tmp_path, data))


def test_tiers_with_a_gap_are_rejected(tmp_path: Path) -> None:
    data = shipped()
    price(data, "lambda.duration.x86")["tiers"][1]["start"] = 7.0e9
    with pytest.raises(CatalogError, match="not contiguous"):
        load_catalog(write(tmp_path, data))


def test_tiers_out_of_order_are_rejected(tmp_path: Path) -> None:
    data = shipped()
    tiers = price(data, "apigateway.rest.requests")["tiers"]
    tiers[1], tiers[2] = tiers[2], tiers[1]
    with pytest.raises(CatalogError, match="not contiguous"):
        load_catalog(write(tmp_path, data))


def test_a_last_tier_with_an_end_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    price(data, "apigateway.http.requests")["tiers"][-1]["end"] = 1.0e12
    with pytest.raises(CatalogError, match="must be open"):
        load_catalog(write(tmp_path, data))


def test_allocatable_cpu_that_disagrees_with_the_eks_formula_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    data["instances"][0]["allocatable_cpu_m"] = 2000  # the vCPUs, not what pods get
    with pytest.raises(CatalogError, match="formula gives 1930m"):
        load_catalog(write(tmp_path, data))


def test_the_same_price_twice_for_a_region_is_rejected(tmp_path: Path) -> None:
    data = shipped()
    data["prices"].append(dict(price(data, "ecr.storage")))
    with pytest.raises(CatalogError, match=r"'ecr\.storage' appears twice"):
        load_catalog(write(tmp_path, data))


def test_eks_ami_reserves_six_one_half_and_a_quarter_percent_of_cores() -> None:
    assert kube_reserved_cpu_m(1) == pytest.approx(60)
    assert kube_reserved_cpu_m(2) == pytest.approx(70)
    assert kube_reserved_cpu_m(4) == pytest.approx(80)
    assert kube_reserved_cpu_m(8) == pytest.approx(90)
    assert allocatable_cpu_m(16) == pytest.approx(16_000 - 110)


def test_lookup_in_a_region_without_the_price_names_the_regions_it_has() -> None:
    catalog = load_catalog()
    with pytest.raises(
        CatalogLookupError, match=r"no price 'lambda.requests' for eu-west-1 \(only us-east-1\)"
    ):
        catalog.price("lambda.requests", "eu-west-1")


def test_a_second_region_is_looked_up_by_its_own_entries(tmp_path: Path) -> None:
    data = shipped()
    data["prices"].append(
        {**price(data, "eks.cluster.standard"), "region": "eu-west-1", "usd": 0.2}
    )
    catalog = load_catalog(write(tmp_path, data))
    assert catalog.price("eks.cluster.standard", "eu-west-1").cost(10) == pytest.approx(2.0)
    assert catalog.price("eks.cluster.standard", "us-east-1").cost(10) == pytest.approx(1.0)


def test_digest_ignores_layout_and_comments(tmp_path: Path) -> None:
    reformatted = write(tmp_path, shipped())  # no comments, another key style
    assert load_catalog(reformatted).digest() == load_catalog().digest()


def test_digest_changes_when_a_price_changes(tmp_path: Path) -> None:
    data = shipped()
    price(data, "lambda.requests")["usd"] = 0.21
    assert load_catalog(write(tmp_path, data)).digest() != load_catalog().digest()


def test_stale_entries_are_those_read_more_than_the_allowed_days_before(tmp_path: Path) -> None:
    data = shipped()
    price(data, "ecr.storage")["read"] = date(2024, 1, 1)
    catalog = load_catalog(write(tmp_path, data))
    stale = stale_entries(catalog, as_of=date(2026, 12, 31), max_age_days=365)
    assert [(s.key, s.age_days) for s in stale] == [("ecr.storage", 1095)]
    assert stale_entries(catalog, as_of=date(2024, 1, 2), max_age_days=365) == []


def test_a_missing_catalog_file_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read the price catalog"):
        load_catalog(tmp_path / "absent.yaml")


def test_tiered_cost_charges_each_band_at_its_rate() -> None:
    rest = load_catalog().price("apigateway.rest.requests", "us-east-1")
    # 15 B calls: 333 M at $3.50, 667 M at $2.80, the remaining 14 B at $2.38 per million.
    assert rest.cost(15e9) == pytest.approx(333 * 3.50 + 667 * 2.80 + 14_000 * 2.38)


def test_free_units_are_the_bottom_of_the_first_tier() -> None:
    duration = load_catalog().price("lambda.duration.x86", "us-east-1")
    assert duration.cost(400_000, free=400_000) == 0
    assert duration.cost(1_000_000, free=400_000) == pytest.approx(600_000 * 0.0000166667)
