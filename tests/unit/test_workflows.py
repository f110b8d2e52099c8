"""GitHub Actions workflows: pinned actions, `make test` in CI, OIDC-only image pushes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)\s*(#.*)?$")
VERSION_COMMENT = re.compile(r"^#\s*v\d+\.\d+\.\d+$")


def load(name: str) -> dict[str, Any]:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def uses(workflow: dict[str, Any], action: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(job, step) for every step that uses ``action`` (owner/name)."""
    return [
        (job, step)
        for job in workflow["jobs"].values()
        for step in job.get("steps", [])
        if step.get("uses", "").split("@")[0] == action
    ]


WORKFLOW_FILES = sorted(p.name for p in WORKFLOWS.glob("*.yml"))


def test_the_expected_workflows_exist() -> None:
    assert {"ci.yml", "images.yml"} <= set(WORKFLOW_FILES)


@pytest.mark.parametrize("name", WORKFLOW_FILES)
def test_every_action_is_pinned_to_a_commit_with_its_version_in_a_comment(name: str) -> None:
    lines = [m for m in map(USES_LINE.match, (WORKFLOWS / name).read_text().splitlines()) if m]
    assert lines, f"{name} uses no action"
    for match in lines:
        reference, comment = match.group(1), match.group(2) or ""
        assert PINNED.match(reference), f"{name}: {reference} is not pinned to a 40-hex commit"
        assert VERSION_COMMENT.match(comment.strip()), f"{name}: {reference} has no # vX.Y.Z"
    parsed = [s["uses"] for s in steps(load(name)) if "uses" in s]
    assert sorted(parsed) == sorted(m.group(1) for m in lines)


def test_each_action_is_pinned_to_one_commit_across_workflows() -> None:
    commits: dict[str, set[str]] = {}
    for name in WORKFLOW_FILES:
        for step in steps(load(name)):
            if "uses" in step:
                action, commit = step["uses"].split("@")
                commits.setdefault(action, set()).add(commit)
    assert {a: c for a, c in commits.items() if len(c) > 1} == {}


def test_ci_runs_make_test_on_every_push_and_pull_request() -> None:
    ci = load("ci.yml")
    assert "push" in ci["on"]
    assert "pull_request" in ci["on"]
    assert [s for s in steps(ci) if s.get("run", "").strip() == "make test"]
    for job in ci["jobs"].values():
        assert job["timeout-minutes"] <= 90


def test_ci_caches_pip_downloads_keyed_on_the_lock() -> None:
    ci = load("ci.yml")
    ((job, cache),) = uses(ci, "actions/cache")
    assert cache["with"]["path"] == job["env"]["PIP_CACHE_DIR"]
    assert "hashFiles('requirements.lock'" in cache["with"]["key"]


def test_ci_has_read_only_repository_access() -> None:
    assert load("ci.yml")["permissions"] == {"contents": "read"}


def test_images_build_on_main_only() -> None:
    images = load("images.yml")
    assert images["on"]["push"] == {"branches": ["main"]}
    assert "pull_request" not in images["on"]


def test_images_assume_the_role_through_oidc_and_hold_no_aws_keys() -> None:
    text = (WORKFLOWS / "images.yml").read_text()
    assert "secrets." not in text
    assert "aws-access-key-id" not in text
    assert "aws-secret-access-key" not in text
    images = load("images.yml")
    assert images["permissions"] == {"contents": "read"}
    logins = uses(images, "aws-actions/configure-aws-credentials")
    assert len(logins) == len(images["jobs"])  # every job works with AWS
    for job, step in logins:
        assert job["permissions"] == {"id-token": "write", "contents": "read"}
        assert step["with"]["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"


def test_images_are_one_platform_each_without_attestations_tagged_with_the_sha() -> None:
    images = load("images.yml")
    ((job, build),) = uses(images, "docker/build-push-action")
    settings = build["with"]
    assert settings["provenance"] is False
    assert settings["sbom"] is False
    assert settings["push"] is True
    assert settings["platforms"] == "${{ matrix.platform }}"
    assert settings["tags"].endswith(":${{ matrix.tag }}")
    plan = next(s for s in images["jobs"]["plan"]["steps"] if s.get("id") == "plan")
    assert plan["env"]["SHA"] == "${{ github.sha }}"
    assert "f\"{sha}-{image['arch']}\"" in plan["run"]
    assert '"platform": f"linux/{image[\'arch\']}"' in plan["run"]
    for dockerfile in re.findall(r'"(infra/docker/[\w.]+)"', plan["run"]):
        assert (ROOT / dockerfile).is_file(), dockerfile
    assert job["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"


def test_images_record_every_digest_as_job_output_and_summary() -> None:
    images = load("images.yml")
    build = images["jobs"]["build"]
    record_step = next(s for s in build["steps"] if s.get("name") == "Record the digest")
    assert "steps.build.outputs.digest" in record_step["env"]["REFERENCE"]
    assert "GITHUB_STEP_SUMMARY" in record_step["run"]
    record = images["jobs"]["record"]
    assert set(record["outputs"]) == {"service_amd64", "service_arm64", "pipeline_amd64"}
    digests = next(s for s in record["steps"] if s.get("id") == "digests")
    assert "GITHUB_OUTPUT" in digests["run"]
    assert "GITHUB_STEP_SUMMARY" in digests["run"]


def test_the_repository_variables_used_are_documented() -> None:
    text = (WORKFLOWS / "images.yml").read_text()
    header = text.split("\nname:", 1)[0]
    for variable in set(re.findall(r"vars\.([A-Z_]+)", text)):
        assert f"#   {variable}" in header, variable
