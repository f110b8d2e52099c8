"""[bench] After the cells: the plan's AWS deployments torn down, or kept (``bench --keep``).

Every cell deploys its own platform and tears it down after each repetition. On AWS the deploy
stage's deployment has the same names as the cells' (the function, the namespace), so the first
cell updates it in place and removes it with its own; what can still be left is what a failed
step left behind — a deployment that never served (its target's cells are then skipped, so
nothing removes it), or a teardown that failed. The local targets leave nothing: their deploy
stage tears down at once, and each cell after each repetition.

The ``teardown_deployments`` job removes what is left of the deployments the plan names, found
by the names their deployers use and removed through the expiry guard's sweepers: only what the
pipeline made goes; Terraform's is reported (``terraform destroy`` removes it) as
``nlp-bench teardown`` reports it. With ``keep`` it removes nothing and lists what stays.
"""

from collections import Counter
from collections.abc import Sequence
from typing import Any

import dagster as dg
from pydantic import Field

from nlp_bench_pipeline.bench.plan import BenchmarkPlan
from nlp_bench_pipeline.core.records import LOCAL_TARGETS
from nlp_bench_pipeline.defs.resources import AwsConfig, BenchmarkConfig, PlatformsResource

JOB_NAME = "teardown_deployments"
OP_NAME = "tear_down_plan_deployments"  # a job's op may not share its name
KEPT = "kept"


def deployment_names(plan: BenchmarkPlan, target: str, clients: Any) -> set[tuple[str, str]]:
    """The (kind, name) of each resource of the deployment the plan names on ``target``, as the
    sweepers list them; a plan whose spec is unusable deployed nothing (``ValueError``)."""
    spec = plan.deployment_spec(target)  # type: ignore[arg-type]
    if target == "aws-lambda":
        from nlp_bench_pipeline.targets.aws_lambda.config import AwsLambdaConfig
        from nlp_bench_pipeline.targets.aws_lambda.deployer import find_api, role_name
        from nlp_bench_pipeline.targets.aws_lambda.sweeper import API, FUNCTION, LOG_GROUP, ROLE

        config = AwsLambdaConfig.from_spec(spec)
        names = {(FUNCTION, config.function_name), (LOG_GROUP, config.log_group)}
        if config.execution_role_arn is None:  # a given role is not the deployment's to remove
            names.add((ROLE, role_name(config)))
        api = find_api(clients.client("apigatewayv2"), config.function_name)
        if api is not None:  # listed by its id, found by its name
            names.add((API, str(api["ApiId"])))
        return names
    from nlp_bench_pipeline.targets.aws_eks.config import AwsEksConfig
    from nlp_bench_pipeline.targets.aws_eks.sweeper import NAMESPACE

    return {(NAMESPACE, AwsEksConfig.from_spec(spec).namespace)}


def plan_teardown(sweepers: Sequence[Any], names: set[tuple[str, str]], *, keep: bool) -> list[Any]:
    """Remove (``keep``: only list) the resources among the sweepers' that ``names`` names,
    in the sweepers' removal order; one ``TeardownResult`` each."""
    from nlp_bench_pipeline.targets.aws.guard import teardown_expired

    found = [r for s in sweepers for r in s.resources() if (r.kind, r.name) in names]
    return teardown_expired(sweepers, found, dry_run=keep)


def report_lines(results: Sequence[Any], targets: Sequence[str], *, keep: bool) -> list[str]:
    """One line per resource (``kept`` where the teardown would have removed it), then what
    happened in one line."""
    which = ", ".join(targets)
    lines = [
        f"{KEPT:<12} {r.resource.describe()}" if r.action == "would remove" else r.line()
        for r in results
    ]
    counts = Counter(KEPT if r.action == "would remove" else r.action for r in results)
    if keep:
        if not counts[KEPT]:
            return [*lines, f"kept nothing of {which}: no deployment of the plan's is up"]
        return [
            *lines,
            f"kept {counts[KEPT]} resources of {which}: they stay until their expiry "
            "(nlp-bench teardown --all removes them sooner)",
        ]
    if not results:
        return [f"nothing of {which} was left to tear down: each cell removed its own deployment"]
    done = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    return [*lines, f"torn down what was left of {which}: {done}"]


class TeardownConfig(dg.Config):
    keep: bool = Field(False, description="list the plan's AWS deployments; remove nothing")


@dg.op(
    name=OP_NAME,
    description="Remove what is left of the plan's AWS deployments (keep: list it), Terraform's "
    "reported, never removed",
)
def tear_down_plan_deployments(
    context: dg.OpExecutionContext,
    config: TeardownConfig,
    bench: BenchmarkConfig,
    aws: AwsConfig,
    platforms: PlatformsResource,
) -> list[str]:
    """The lines ``bench`` prints; a resource that could not be removed fails the run."""
    plan = bench.plan()
    targets = [t for t in plan.targets if t not in LOCAL_TARGETS]
    if not targets:
        lines = ["no AWS target in the plan: the local targets tear down after every cell"]
    elif not aws.has_credentials():
        lines = [f"{', '.join(targets)}: no AWS credentials, so nothing was deployed"]
    else:
        lines = _sweep(plan, targets, aws, platforms, keep=config.keep)
    for line in lines:
        context.log.info(line)
    failed = [line for line in lines if line.startswith("failed ")]
    if failed:
        raise dg.Failure(
            f"{len(failed)} not removed: " + "; ".join(" ".join(f.split()) for f in failed)
        )
    return lines


def _sweep(
    plan: BenchmarkPlan,
    targets: list[str],
    aws: AwsConfig,
    platforms: PlatformsResource,
    *,
    keep: bool,
) -> list[str]:
    """The plan's deployments found through the guard's sweepers, removed or listed."""
    from botocore.exceptions import BotoCoreError, ClientError

    from nlp_bench_pipeline.targets.aws.sweepers import account_sweepers
    from nlp_bench_pipeline.targets.aws.terraform import TerraformError

    options = aws.options()
    clients = options.clients()
    lines: list[str] = []
    try:
        names: set[tuple[str, str]] = set()
        for target in targets:
            try:
                names |= deployment_names(plan, target, clients)
            except ValueError as exc:
                lines.append(f"{exc}: so nothing was deployed there")
        sweepers, notes = account_sweepers(
            clients,
            project=options.project,
            cluster=options.cluster_name,
            terraform_dir=options.terraform_dir or platforms.work_path,
            work_dir=platforms.work_path / "aws-eks",
        )
        # The plan's targets' sweepers only: the account's lists what none of them made.
        results = plan_teardown([s for s in sweepers if s.name in targets], names, keep=keep)
    except (BotoCoreError, ClientError, TerraformError) as exc:
        raise dg.Failure(
            f"listing the plan's AWS deployments: {' '.join(str(exc).split())}"
        ) from None
    if "aws-eks" in targets:
        lines += notes  # e.g. no cluster named: its namespace could not be looked for
    return [*lines, *report_lines(results, targets, keep=keep)]


@dg.job(
    name=JOB_NAME,
    description="After the cells: remove what is left of the plan's AWS deployments (a deploy "
    "that never served, a failed teardown), or with keep list what stays; `nlp-bench bench` "
    "runs it last unless --keep",
)
def teardown_deployments_job() -> None:
    tear_down_plan_deployments()
