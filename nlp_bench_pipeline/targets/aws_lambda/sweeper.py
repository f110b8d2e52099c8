"""The Lambda side of the expiry guard: functions, HTTP APIs, execution roles and log groups
tagged with the project, listed service by service (the tagging API covers neither IAM nor,
everywhere, API Gateway v2) and removed in dependency order: API, function, role, log group."""

from __future__ import annotations

from dataclasses import dataclass

from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws.expiry import PROJECT_TAG
from nlp_bench_pipeline.targets.aws.guard import TaggedResource
from nlp_bench_pipeline.targets.aws_lambda.deployer import (
    ROLE_PATH,
    delete_log_group,
    delete_role,
    gateway_items,
    role_tags,
)

FUNCTION, API, ROLE, LOG_GROUP = "Lambda function", "HTTP API", "IAM role", "log group"
REMOVAL_ORDER = (API, FUNCTION, ROLE, LOG_GROUP)
LOG_GROUP_PREFIX = "/aws/lambda/"
# The ARN services whose resources this sweeper lists (the account sweeper leaves them to it).
SERVICES = frozenset({"lambda", "apigateway", "iam", "logs"})


@dataclass
class LambdaSweeper:
    """The project's Lambda deployments in the session's region."""

    clients: AwsClients
    project: str = "nlp-bench"
    name: str = "aws-lambda"

    def resources(self) -> list[TaggedResource]:
        found = [*self._apis(), *self._functions(), *self._roles(), *self._log_groups()]
        return sorted(found, key=lambda r: REMOVAL_ORDER.index(r.kind))

    def remove(self, resource: TaggedResource) -> None:
        if resource.kind == API:
            self.clients.client("apigatewayv2").delete_api(ApiId=resource.name)
        elif resource.kind == FUNCTION:
            self.clients.client("lambda").delete_function(FunctionName=resource.name)
        elif resource.kind == ROLE:
            delete_role(self.clients.client("iam"), resource.name)
        elif resource.kind == LOG_GROUP:
            delete_log_group(self.clients.client("logs"), resource.name)
        else:
            raise ValueError(f"the Lambda sweeper removes no {resource.kind}")

    # -- listing ------------------------------------------------------------------------------

    def _tagged(self, kind: str, name: str, tags: dict[str, str], arn: str | None) -> list:
        if tags.get(PROJECT_TAG) != self.project:
            return []
        return [TaggedResource.from_aws_tags(kind, name, tags, sweeper=self.name, arn=arn)]

    def _functions(self) -> list[TaggedResource]:
        client = self.clients.client("lambda")
        found = []
        for page in client.get_paginator("list_functions").paginate():
            for function in page["Functions"]:
                arn = function["FunctionArn"]
                tags = client.list_tags(Resource=arn).get("Tags", {})
                found += self._tagged(FUNCTION, function["FunctionName"], tags, arn)
        return found

    def _apis(self) -> list[TaggedResource]:
        gateway = self.clients.client("apigatewayv2")
        found = []
        for api in gateway_items(gateway.get_apis):
            found += self._tagged(API, api["ApiId"], api.get("Tags", {}), None)
        return found

    def _roles(self) -> list[TaggedResource]:
        iam = self.clients.client("iam")
        found = []
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=ROLE_PATH):
            for role in page["Roles"]:
                tags = role_tags(iam, role["RoleName"])
                found += self._tagged(ROLE, role["RoleName"], tags, role["Arn"])
        return found

    def _log_groups(self) -> list[TaggedResource]:
        logs = self.clients.client("logs")
        found = []
        pages = logs.get_paginator("describe_log_groups").paginate(
            logGroupNamePrefix=LOG_GROUP_PREFIX
        )
        for page in pages:
            for group in page["logGroups"]:
                arn = str(group["arn"]).removesuffix(":*")
                tags = logs.list_tags_for_resource(resourceArn=arn).get("tags", {})
                found += self._tagged(LOG_GROUP, group["logGroupName"], tags, arn)
        return found
