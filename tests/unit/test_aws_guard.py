"""The expiry guard's rules: what is selected, what is removed, what is only reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from nlp_bench_pipeline.targets.aws.guard import (
    TaggedResource,
    expired_deployments,
    read_expiry,
    teardown_expired,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def resource(
    name: str,
    *,
    hours: float | None,
    managed_by: str = "nlp-bench-pipeline",
    report_only: str | None = None,
) -> TaggedResource:
    expiry = None if hours is None else NOW + timedelta(hours=hours)
    return TaggedResource(
        kind="Lambda function",
        name=name,
        sweeper="fake",
        expiry=expiry,
        managed_by=managed_by,
        report_only=report_only,
    )


@dataclass
class FakeSweeper:
    found: list[TaggedResource]
    failing: set[str] = field(default_factory=set)
    removed: list[str] = field(default_factory=list)
    name: str = "fake"

    def resources(self) -> list[TaggedResource]:
        return list(self.found)

    def remove(self, resource: TaggedResource) -> None:
        if resource.name in self.failing:
            raise RuntimeError("AccessDenied")
        self.removed.append(resource.name)


def test_past_expiry_is_selected_and_the_future_only_with_everything() -> None:
    sweeper = FakeSweeper(
        [resource("old", hours=-1), resource("new", hours=1), resource("edge", hours=0)]
    )
    assert [r.name for r in expired_deployments([sweeper], now=NOW)] == ["old", "edge"]
    everything = expired_deployments([sweeper], now=NOW, everything=True)
    assert [r.name for r in everything] == ["old", "new", "edge"]


def test_a_resource_without_a_readable_expiry_is_listed_but_never_removed() -> None:
    sweeper = FakeSweeper([resource("unknown", hours=None)])
    (found,) = expired_deployments([sweeper], now=NOW)
    (result,) = teardown_expired([sweeper], [found])
    assert result.action == "left"
    assert sweeper.removed == []


def test_terraforms_and_report_only_resources_are_left_with_what_removes_them() -> None:
    terraform = resource("tf", hours=-1, managed_by="terraform")
    alb = resource("alb", hours=-1, report_only="its controller deletes it")
    sweeper = FakeSweeper([terraform, alb])
    results = teardown_expired([sweeper], [terraform, alb])
    assert [(r.action, r.note) for r in results] == [
        ("left", "Terraform's: terraform destroy"),
        ("left", "its controller deletes it"),
    ]
    assert sweeper.removed == []


def test_a_dry_run_removes_nothing() -> None:
    sweeper = FakeSweeper([resource("old", hours=-1)])
    (result,) = teardown_expired([sweeper], sweeper.found, dry_run=True)
    assert result.action == "would remove"
    assert result.line().startswith("would remove Lambda function old (expiry 2026-12-01T11:00:00Z")
    assert sweeper.removed == []


def test_one_failure_does_not_stop_the_rest() -> None:
    sweeper = FakeSweeper([resource("a", hours=-1), resource("b", hours=-1)], failing={"a"})
    results = teardown_expired([sweeper], sweeper.found)
    assert [(r.resource.name, r.action) for r in results] == [("a", "failed"), ("b", "removed")]
    assert results[0].note == "RuntimeError: AccessDenied"


def test_an_unreadable_expiry_tag_reads_as_none() -> None:
    assert read_expiry({"expiry": "soon"}, "expiry") is None
    assert read_expiry({}, "expiry") is None
    assert read_expiry({"expiry": "2026-12-01T12:00:00Z"}, "expiry") == NOW
