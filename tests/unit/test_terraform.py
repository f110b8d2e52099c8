"""The Terraform under infra/terraform, read with python-hcl2: documented, authorised, least
privilege, tagged. (No terraform binary or AWS account is needed; test_terraform_cli adds
`terraform fmt`/`validate` where a binary is on PATH.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
MODULES = TERRAFORM / "modules"
ENV = TERRAFORM / "envs" / "bench"
CONFIGURATIONS = [*sorted(p for p in MODULES.iterdir() if p.is_dir()), ENV]
# AWS-managed policies a role may carry; each is the narrowest AWS offers for its job.
MANAGED_POLICIES = {
    "AmazonEKSClusterPolicy",
    "AmazonEKSWorkerNodePolicy",
    "AmazonEKS_CNI_Policy",
    "AmazonEC2ContainerRegistryPullOnly",
}


def unquote(value: Any) -> Any:
    """python-hcl2 keeps a string literal's quotes; expressions come as ${...}."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def clean(node: Any) -> Any:
    """The parsed tree without python-hcl2's bookkeeping keys and with literal quotes removed."""
    if isinstance(node, dict):
        return {unquote(k): clean(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [clean(v) for v in node]
    return unquote(node)


def parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return hcl2.load(handle)


@cache
def configuration(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of a directory's .tf files, merged by block type (raw tree; read
    only, shared between tests)."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for kind, blocks in parse(path).items():
            if not kind.startswith("__"):
                merged.setdefault(kind, []).extend(blocks)
    return merged


def labelled(config: dict[str, list[Any]], kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(type, name, body) of every `resource` or `data` block."""
    for block in config.get(kind, []):
        for type_, named in block.items():
            for name, body in named.items():
                yield unquote(type_), unquote(name), body


def named(config: dict[str, list[Any]], kind: str) -> dict[str, dict[str, Any]]:
    """name → body of every `variable`, `output` or `module` block."""
    return {unquote(n): body for block in config.get(kind, []) for n, body in block.items()}


def everything() -> Iterator[tuple[Path, dict[str, list[Any]]]]:
    for directory in CONFIGURATIONS:
        yield directory, configuration(directory)


def policy_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    for directory, config in everything():
        for type_, name, body in labelled(config, "data"):
            if type_ == "aws_iam_policy_document":
                for statement in body.get("statement", []):
                    yield f"{directory.name}/{name}", statement
                for dynamic in body.get("dynamic", []):
                    for content in dynamic.get('"statement"', {}).get("content", []):
                        yield f"{directory.name}/{name} (dynamic)", content


TF_FILES = sorted(TERRAFORM.rglob("*.tf"))


@pytest.mark.parametrize("path", TF_FILES, ids=lambda p: str(p.relative_to(TERRAFORM)))
def test_every_file_parses(path: Path) -> None:
    assert parse(path)


def test_the_expected_modules_exist() -> None:
    expected = {"ecr", "lambda_api", "eks", "app_server", "budgets", "results_bucket"}
    assert expected <= {p.name for p in MODULES.iterdir() if p.is_dir()}


@pytest.mark.parametrize("directory", CONFIGURATIONS, ids=lambda p: p.name)
def test_every_variable_has_a_description_and_a_type(directory: Path) -> None:
    variables = named(configuration(directory), "variable")
    assert variables
    for name, body in variables.items():
        assert unquote(body.get("description", "")).strip(), f"{directory.name}: {name}"
        assert "type" in body, f"{directory.name}: variable {name} has no type"


@pytest.mark.parametrize("directory", CONFIGURATIONS, ids=lambda p: p.name)
def test_every_output_has_a_description(directory: Path) -> None:
    outputs = named(configuration(directory), "output")
    assert outputs
    for name, body in outputs.items():
        assert unquote(body.get("description", "")).strip(), f"{directory.name}: output {name}"


@pytest.mark.parametrize("directory", CONFIGURATIONS, ids=lambda p: p.name)
def test_terraform_and_every_provider_are_pinned(directory: Path) -> None:
    (settings,) = clean(configuration(directory)["terraform"])
    assert settings["required_version"].startswith(">= 1.")
    (providers,) = settings["required_providers"]
    for name, requirement in providers.items():
        assert requirement["source"].startswith("hashicorp/"), name
        assert re.fullmatch(r"~> \d+\.\d+", requirement["version"]), f"{name} is not pinned"


def test_every_configuration_pins_the_same_provider_versions() -> None:
    versions: dict[str, set[str]] = {}
    for _, config in everything():
        (settings,) = clean(config["terraform"])
        for name, requirement in settings["required_providers"][0].items():
            versions.setdefault(name, set()).add(requirement["version"])
    assert {n: v for n, v in versions.items() if len(v) > 1} == {}


def test_only_the_environment_configures_providers() -> None:
    for directory in CONFIGURATIONS:
        providers = configuration(directory).get("provider", [])
        assert bool(providers) == (directory == ENV), directory.name


def test_every_resource_is_tagged_project_owner_and_expiry() -> None:
    providers = {unquote(k): clean(v) for b in configuration(ENV)["provider"] for k, v in b.items()}
    (default_tags,) = providers["aws"]["default_tags"]
    tags = default_tags["tags"]
    assert tags["project"] == "${var.project}"
    assert tags["owner"] == "${var.owner}"
    assert tags["expiry"] == "${var.expiry}"
    variables = named(configuration(ENV), "variable")
    # Nobody deploys without saying who owns it and until when.
    assert "default" not in variables["owner"]
    assert "default" not in variables["expiry"]
    assert variables["expiry"]["validation"]


def test_the_environment_has_no_active_remote_backend_only_a_commented_one() -> None:
    (settings,) = clean(configuration(ENV)["terraform"])
    assert "backend" not in settings
    assert '# backend "s3" {' in (ENV / "versions.tf").read_text()


def test_the_environment_uses_every_module() -> None:
    sources = {unquote(b["source"]) for b in named(configuration(ENV), "module").values()}
    for _, config in everything():
        sources |= {
            f"../../modules/{Path(unquote(b['source'])).name}"
            for b in named(config, "module").values()
        }
    for module in MODULES.iterdir():
        assert f"../../modules/{module.name}" in sources, f"module {module.name} is unused"


def test_the_http_api_authorises_every_route() -> None:
    config = configuration(MODULES / "lambda_api")
    routes = [clean(b) for t, _, b in labelled(config, "resource") if t == "aws_apigatewayv2_route"]
    assert routes
    variables = clean(named(config, "variable"))
    for route in routes:
        assert route["authorization_type"] == "${var.authorization}"
    authorization = variables["authorization"]
    assert authorization["default"] in ("AWS_IAM", "JWT")
    (rule,) = authorization["validation"]
    assert rule["condition"] == '${contains(["AWS_IAM", "JWT"], var.authorization)}'
    assert '"NONE"' not in (MODULES / "lambda_api" / "main.tf").read_text()


def test_the_http_api_throttles_its_default_route() -> None:
    config = configuration(MODULES / "lambda_api")
    (stage,) = [
        clean(b) for t, _, b in labelled(config, "resource") if t == "aws_apigatewayv2_stage"
    ]
    (settings,) = stage["default_route_settings"]
    assert settings["throttling_rate_limit"] == "${var.throttle_rate_limit}"
    assert settings["throttling_burst_limit"] == "${var.throttle_burst_limit}"
    assert stage["access_log_settings"]


def test_lambda_concurrency_is_opt_in() -> None:
    variables = clean(named(configuration(MODULES / "lambda_api"), "variable"))
    assert variables["reserved_concurrency"]["default"] is None
    assert variables["provisioned_concurrency"]["default"] == 0
    assert set(variables) >= {"memory_mb", "timeout_s", "architecture", "image_uri"}


def test_lambda_and_the_app_server_run_images_pinned_by_digest() -> None:
    for module, variable in (("lambda_api", "image_uri"), ("app_server", "pipeline_image")):
        (rule,) = clean(named(configuration(MODULES / module), "variable"))[variable]["validation"]
        assert "@sha256:[0-9a-f]{64}" in rule["condition"], module


def test_no_allow_statement_grants_every_action_of_a_service() -> None:
    statements = list(policy_statements())
    assert len(statements) > 20
    for where, statement in statements:
        statement = clean(statement)
        if statement.get("effect", "Allow") != "Allow":
            continue
        for action in statement["actions"]:
            assert action != "*", where
            assert not re.fullmatch(r"[\w-]+:\*", action), f"{where}: {action}"
        assert "not_actions" not in statement, where


def test_every_allow_on_any_resource_says_why() -> None:
    for where, statement in policy_statements():
        body = clean(statement)
        if body.get("effect", "Allow") == "Allow" and body.get("resources") == ["*"]:
            assert statement.get("__comments__"), f"{where}: {body.get('sid')} on * needs a reason"


def test_roles_carry_only_the_narrow_aws_managed_policies() -> None:
    attachments = 0
    for directory, config in everything():
        for type_, name, body in labelled(config, "resource"):
            if type_ == "aws_iam_role_policy_attachment":
                attachments += 1
                text = str(clean(body))
                found = set(
                    re.findall(r"(?:Amazon|AWS)\w+|\w*(?:Administrator|FullAccess)\w*", text)
                )
                assert found, f"{directory.name}/{name} attaches no named AWS policy"
                assert found <= MANAGED_POLICIES, f"{directory.name}/{name}: {found}"
    assert attachments


def test_inline_policies_come_from_policy_documents() -> None:
    for directory, config in everything():
        for type_, name, body in labelled(config, "resource"):
            if type_ in ("aws_iam_role_policy", "aws_iam_policy"):
                policy = clean(body)["policy"]
                assert re.fullmatch(
                    r"\$\{(data\.aws_iam_policy_document\.\w+(\[0\])?\.json|var\.policy_json)\}",
                    policy,
                ), f"{directory.name}/{name}: {policy}"


def test_the_app_server_has_no_way_in_but_ssm() -> None:
    config = configuration(MODULES / "app_server")
    resources = {(t, n): clean(b) for t, n, b in labelled(config, "resource")}
    assert not [t for t, _ in resources if t == "aws_vpc_security_group_ingress_rule"]
    assert "ingress" not in resources[("aws_security_group", "this")]
    instance = resources[("aws_instance", "this")]
    assert "key_name" not in instance
    assert instance["associate_public_ip_address"] is False
    assert instance["metadata_options"][0]["http_tokens"] == "required"
    assert instance["root_block_device"][0]["encrypted"] is True
    services = {
        action.split(":")[0]
        for where, statement in policy_statements()
        if where.startswith("app_server/")
        for action in clean(statement)["actions"]
    }
    assert services - {"sts"} == {"ecr", "s3", "ssm", "ssmmessages"}


def test_the_ui_binds_loopback_only() -> None:
    script = (MODULES / "app_server" / "user_data.sh.tftpl").read_text()
    assert "--network host" in script
    assert "ui --port" in script  # nlp-bench ui binds 127.0.0.1
    assert " -p " not in script


def test_nodes_require_imdsv2_and_encrypted_volumes() -> None:
    config = configuration(MODULES / "eks")
    (template,) = [
        clean(b) for t, _, b in labelled(config, "resource") if t == "aws_launch_template"
    ]
    assert template["metadata_options"][0]["http_tokens"] == "required"
    assert template["metadata_options"][0]["http_put_response_hop_limit"] == 1
    assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] is True


def test_the_node_groups_match_what_the_manifests_select() -> None:
    text = (MODULES / "eks" / "main.tf").read_text()
    assert '"nlp-bench/role" = "service"' in text
    assert '"nlp-bench/role" = "loadgen"' in text
    assert '{ key = "nlp-bench/role", value = "loadgen", effect = "NO_SCHEDULE" }' in text
    deployment = yaml.safe_load((ROOT / "infra/k8s/service/deployment.yaml").read_text())
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"nlp-bench/role": "service"}
    pod = yaml.safe_load((ROOT / "infra/k8s/loadgen/runner-pod.yaml").read_text())
    spec = pod["spec"]
    assert spec["nodeSelector"] == {"nlp-bench/role": "loadgen"}
    assert spec["tolerations"] == [
        {"key": "nlp-bench/role", "operator": "Equal", "value": "loadgen", "effect": "NoSchedule"}
    ]


def test_the_cluster_has_irsa_the_load_balancer_controller_and_an_autoscaler() -> None:
    config = configuration(MODULES / "eks")
    types = {t for t, _, _ in labelled(config, "resource")}
    assert {"aws_eks_cluster", "aws_eks_node_group", "aws_iam_openid_connect_provider"} <= types
    releases = {
        (r := clean(b))["chart"]: r
        for t, _, b in labelled(config, "resource")
        if t == "helm_release"
    }
    assert set(releases) == {"aws-load-balancer-controller", "cluster-autoscaler"}
    for release in releases.values():
        assert re.fullmatch(r"\$\{var\.\w+_chart_version\}", release["version"])
    addons = {
        clean(b)["addon_name"] for t, _, b in labelled(config, "resource") if t == "aws_eks_addon"
    }
    assert addons == {"metrics-server", "vpc-cni"}  # the HPA's metrics; NetworkPolicy enforcement


def test_the_registry_keeps_tags_immutable_and_scans_on_push() -> None:
    config = configuration(MODULES / "ecr")
    resources = {t: clean(b) for t, _, b in labelled(config, "resource")}
    repository = resources["aws_ecr_repository"]
    assert repository["image_tag_mutability"] == "IMMUTABLE"
    assert repository["image_scanning_configuration"][0]["scan_on_push"] is True
    assert "aws_ecr_lifecycle_policy" in resources


def test_the_results_bucket_is_private_encrypted_and_versioned() -> None:
    config = configuration(MODULES / "results_bucket")
    resources = {t: clean(b) for t, _, b in labelled(config, "resource")}
    block = resources["aws_s3_bucket_public_access_block"]
    assert all(
        block[k] is True
        for k in (
            "block_public_acls",
            "block_public_policy",
            "ignore_public_acls",
            "restrict_public_buckets",
        )
    )
    versioning = resources["aws_s3_bucket_versioning"]["versioning_configuration"][0]
    assert versioning["status"] == "Enabled"
    assert "aws_s3_bucket_server_side_encryption_configuration" in resources


def test_the_budget_alarms_by_email() -> None:
    config = configuration(MODULES / "budgets")
    (budget,) = [clean(b) for t, _, b in labelled(config, "resource") if t == "aws_budgets_budget"]
    assert budget["time_unit"] == "MONTHLY"
    assert {n["notification_type"] for n in budget["notification"]} == {"ACTUAL", "FORECASTED"}
    for notification in budget["notification"]:
        assert notification["subscriber_email_addresses"] == "${var.alert_emails}"


def test_the_deploy_guide_reads_only_outputs_that_exist() -> None:
    guide = (ROOT / "docs" / "deploy-aws.md").read_text()
    read = set(re.findall(r"\$TF output -(?:raw|json) (\w+)", guide))
    assert read >= {"region", "service_repository_url", "lambda", "eks", "app_server", "tags"}
    assert read <= set(named(configuration(ENV), "output"))
    variables = set(re.findall(r'-var "(\w+)=', guide))
    assert variables
    assert variables <= set(named(configuration(ENV), "variable"))
