"""The deployers' IAM role (infra/terraform/modules/deployer_role) against its documentation, and
the identities around it: who may assume it, the ceiling of the roles it creates, the load
generator's role, the Kubernetes rights, and the Terraform output in-region load reads."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import yaml

from nlp_bench_pipeline.loadgen.in_region import TERRAFORM_OUTPUT, InRegionLoad
from nlp_bench_pipeline.targets.aws_eks.kube import KINDS
from nlp_bench_pipeline.targets.aws_eks.manifests import Hpa, render_manifests
from nlp_bench_pipeline.targets.aws_eks.runner_pod import render_loadgen_space

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "infra" / "terraform" / "modules" / "deployer_role"
ENV = ROOT / "infra" / "terraform" / "envs" / "bench"
GUIDE = ROOT / "docs" / "deploy-aws.md"
RBAC = ROOT / "infra" / "k8s" / "rbac" / "deployers.yaml"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/nlp-bench-service@sha256:" + "ab" * 32


def unquoted(node: Any) -> Any:
    """python-hcl2's tree without its bookkeeping keys and the quotes around literals."""
    if isinstance(node, dict):
        return {unquoted(k): unquoted(v) for k, v in node.items() if not str(k).startswith("__")}
    if isinstance(node, list):
        return [unquoted(v) for v in node]
    if isinstance(node, str) and len(node) >= 2 and node[0] == node[-1] == '"':
        return node[1:-1]
    return node


def blocks(directory: Path, kind: str) -> dict[str, Any]:
    """``type.name`` (resources, data) or ``name`` (variables, outputs, modules) → body."""
    found: dict[str, Any] = {}
    for path in sorted(directory.glob("*.tf")):
        for block in unquoted(hcl2.load(path.open())).get(kind, []):
            for key, body in block.items():
                if kind in ("resource", "data"):
                    for name, inner in body.items():
                        found[f"{key}.{name}"] = inner
                else:
                    found[key] = body
    return found


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements, its dynamic ones' content included."""
    found = list(document.get("statement", []))
    for dynamic in document.get("dynamic", []):
        found += dynamic["statement"]["content"]
    return found


def policy(name: str, directory: Path = MODULE) -> dict[str, dict[str, Any]]:
    """Sid → statement of one ``aws_iam_policy_document``."""
    return {
        s["sid"]: s
        for s in statements(blocks(directory, "data")[f"aws_iam_policy_document.{name}"])
    }


def documented() -> dict[str, tuple[set[str], str]]:
    """Sid → (actions, where) of the table in the guide's "What the deployers may do"."""
    section = GUIDE.read_text().split("## What the deployers may do", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and (sid := re.fullmatch(r"`(\w+)`", cells[0])):
            rows[sid.group(1)] = (set(re.findall(r"`([a-z0-9-]+:[A-Za-z]+)`", cells[1])), cells[2])
    return rows


def test_the_role_may_do_exactly_what_the_guide_lists_statement_for_statement() -> None:
    granted = {sid: set(s["actions"]) for sid, s in policy("this").items()}
    table = documented()
    assert len(table) >= 15
    assert {sid: actions for sid, (actions, _) in table.items()} == granted


def test_only_actions_without_a_resource_type_are_granted_on_every_resource() -> None:
    table = documented()
    for sid, statement in policy("this").items():
        everywhere = statement["resources"] == ["*"]
        assert everywhere == table[sid][1].startswith("`*`"), sid
    unscoped = {a for s in policy("this").values() if s["resources"] == ["*"] for a in s["actions"]}
    assert unscoped == {
        "lambda:GetAccountSettings",
        "lambda:ListFunctions",
        "iam:ListRoles",
        "cloudwatch:GetMetricData",
        "tag:GetResources",
    }


def test_every_statement_is_scoped_to_what_the_pipeline_makes() -> None:
    statements_ = policy("this")
    (local_values,) = [b for b in unquoted(hcl2.load((MODULE / "main.tf").open()))["locals"]]
    assert local_values["functions"].endswith("function:${var.function_prefix}*")
    assert local_values["execution_roles"].endswith("role${var.execution_role_path}*")
    assert local_values["function_logs"].endswith("log-group:/aws/lambda/${var.function_prefix}*")
    assert statements_["LambdaFunctions"]["resources"] == ["${local.functions}"]
    for sid in (
        "ExecutionRoles",
        "ExecutionRolesWithinTheBoundary",
        "PassExecutionRolesToLambdaOnly",
    ):
        assert statements_[sid]["resources"] == ["${local.execution_roles}"], sid
    assert statements_["TheCluster"]["resources"] == ["${statement.value.arn}"]
    assert statements_["ListResults"]["resources"] == ["${var.results_bucket_arn}"]
    assert statements_["ReadTheLoadGeneratorsRows"]["resources"] == [
        "${var.results_bucket_arn}/${var.results_prefix}/*"
    ]
    variables = blocks(MODULE, "variable")
    assert variables["function_prefix"]["default"] == "nlp-bench"
    assert variables["execution_role_path"]["default"] == "/nlp-bench/"  # the deployer's ROLE_PATH
    assert variables["results_prefix"]["default"] == InRegionLoad.model_fields["key_prefix"].default


def test_roles_are_created_only_within_the_boundary_and_passed_only_to_lambda() -> None:
    statements_ = policy("this")
    (boundary,) = statements_["ExecutionRolesWithinTheBoundary"]["condition"]
    assert boundary == {
        "test": "ArnEquals",
        "variable": "iam:PermissionsBoundary",
        "values": ["${aws_iam_policy.execution_boundary.arn}"],
    }
    (passed,) = statements_["PassExecutionRolesToLambdaOnly"]["condition"]
    assert passed["variable"] == "iam:PassedToService"
    assert passed["values"] == ["lambda.amazonaws.com"]
    (ceiling,) = policy("execution_boundary").values()
    assert set(ceiling["actions"]) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    role = blocks(MODULE, "resource")["aws_iam_role.this"]
    assert "path" not in role  # not under /nlp-bench/: it cannot rewrite its own policy


def test_the_app_server_and_the_pipelines_service_account_may_assume_it() -> None:
    trust = policy("trust")
    assert trust["AssumedByRoles"]["actions"] == ["sts:AssumeRole"]
    web = trust["AssumedByThePipelinesServiceAccount"]
    assert web["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert {c["variable"].rsplit(":", 1)[1] for c in web["condition"]} == {"sub", "aud"}
    module = blocks(ENV, "module")["deployer_role"]
    assert "module.app_server[0].role_arn" in str(module["trusted_role_arns"])
    variables = blocks(ENV, "variable")
    instance = yaml.safe_load((ROOT / "infra" / "dagster" / "dagster.yaml").read_text())
    launcher = instance["run_launcher"]["config"]
    assert variables["pipeline_namespace"]["default"] == launcher["job_namespace"]
    assert variables["pipeline_service_account"]["default"] == launcher["service_account_name"]
    app_server = policy("this", ROOT / "infra" / "terraform" / "modules" / "app_server")
    assert app_server["ActAsTheDeployers"] == {
        "sid": "ActAsTheDeployers",
        "actions": ["sts:AssumeRole"],
        "resources": ["${statement.value}"],
    }


def test_the_load_generators_pods_may_only_write_their_rows() -> None:
    (written,) = policy("loadgen", ENV)["WriteResults"]["resources"]
    assert written == "${module.results.bucket_arn}/loadgen/*"
    assert set(policy("loadgen", ENV)["WriteResults"]["actions"]) == {
        "s3:PutObject",
        "s3:AbortMultipartUpload",
    }
    role = blocks(ENV, "module")["loadgen_role"]
    (space_account,) = [
        d
        for d in render_loadgen_space(role_arn="arn:aws:iam::123456789012:role/x")
        if d["kind"] == "ServiceAccount"
    ]
    variables = blocks(ENV, "variable")
    assert role["namespace"] == "${var.loadgen_namespace}"
    assert variables["loadgen_namespace"]["default"] == space_account["metadata"]["namespace"]
    assert variables["loadgen_service_account"]["default"] == space_account["metadata"]["name"]


def test_the_in_region_output_names_the_fields_the_launcher_reads() -> None:
    output = blocks(ENV, "output")[TERRAFORM_OUTPUT]
    value = output["value"]
    fields = set(re.findall(r"[{,]\s*(\w+) = ", value))  # ${cond ? {k = v, ...} : null}
    assert fields <= set(InRegionLoad.model_fields)
    required = {n for n, f in InRegionLoad.model_fields.items() if f.is_required()}
    assert required <= fields
    for name in fields:
        assert name in output["description"], name


def test_the_cluster_rights_cover_every_object_the_deployers_touch_and_no_secret() -> None:
    role, binding = yaml.safe_load_all(RBAC.read_text())
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    applied = render_manifests(IMAGE, hpa=Hpa()) + render_loadgen_space(
        role_arn="arn:aws:iam::123456789012:role/x"
    )
    for document in applied:  # server-side apply creates or patches; teardown deletes
        kind = KINDS[(document["apiVersion"], document["kind"])]
        group = document["apiVersion"].rpartition("/")[0]
        assert {"get", "create", "patch", "delete"} <= granted[(group, kind.plural)], kind
    assert {"create", "get", "list", "delete"} <= granted[("", "pods")]  # PipesK8sClient
    assert granted[("", "pods/log")] == {"get"}
    assert ("", "secrets") not in granted
    assert not any(
        "*" in verbs or "escalate" in verbs or "bind" in verbs for verbs in granted.values()
    )
    subjects = {(s["kind"], s["name"]) for s in binding["subjects"]}
    group = blocks(MODULE, "variable")["kubernetes_group"]["default"]
    assert subjects == {("Group", group), ("ServiceAccount", "nlp-bench-pipeline")}
