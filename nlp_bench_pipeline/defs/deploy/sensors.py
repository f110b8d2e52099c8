"""The expiry guard: AWS deployments that outlived their ``expiry`` tag are torn down.

Budgets alert hours late; this is the real brake. Every 30 minutes, with AWS credentials in the
default chain, the pipeline's own expired deployments are removed (Terraform's are left to
``terraform destroy``); without credentials the sensor skips and says why.
"""

import dagster as dg

from nlp_bench_pipeline.defs.resources import AwsConfig, PlatformsResource

GUARD_INTERVAL_S = 30 * 60


@dg.sensor(
    minimum_interval_seconds=GUARD_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every 30 minutes: tear down the AWS deployments past their expiry tag "
    "(nlp-bench teardown --expired does the same by hand).",
)
def expired_deployments_guard(
    context: dg.SensorEvaluationContext, aws: AwsConfig, platforms: PlatformsResource
) -> dg.SkipReason:
    if not aws.has_credentials():
        return dg.SkipReason("no AWS credentials in the default chain: nothing to guard")
    from nlp_bench_pipeline.core.records import utcnow
    from nlp_bench_pipeline.targets.aws.guard import expired_deployments, teardown_expired
    from nlp_bench_pipeline.targets.aws.sweepers import account_sweepers

    options = aws.options()
    sweepers, notes = account_sweepers(
        options.clients(),
        project=options.project,
        cluster=options.cluster_name,
        terraform_dir=options.terraform_dir or platforms.work_path,
        work_dir=platforms.work_path / "aws-eks",
    )
    results = teardown_expired(sweepers, expired_deployments(sweepers, now=utcnow()))
    for line in [*notes, *(r.line() for r in results)]:
        context.log.info(line)
    return dg.SkipReason(f"{len(results)} expired resources handled; none needs a run")
