"""[deploy] The service on each target: deployed, probed until it serves, figures recorded.

Local targets are deployed, verified with one cold and one warm request, and torn down again:
every benchmark cell deploys its own fresh platform. Cloud targets keep what they create.
"""

import dagster as dg

from nlp_bench_pipeline.bench.verification import DeploymentNotServing, verify
from nlp_bench_pipeline.core.records import LOCAL_TARGETS
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.partitions import partitions_guide, target_partitions
from nlp_bench_pipeline.defs.resources import AwsConfig, BenchmarkConfig, PlatformsResource
from nlp_bench_pipeline.lib.asset_support import enabled_target, latest_materialization
from nlp_bench_pipeline.lib.versions import data_version, source_version

DEPLOY_VERSION = source_version(
    "nlp_bench_pipeline/targets",
    "nlp_bench_pipeline/core",
    "nlp_bench_pipeline/client.py",
    "nlp_bench_pipeline/bench/verification.py",
)


@dg.asset(
    partitions_def=target_partitions,
    deps=[model_artifact, service_image],
    group_name="deploy",
    kinds={"python"},
    code_version=DEPLOY_VERSION,
    pool="nlp_bench_platform",
    description="The service deployed to one target and proven to serve: time from deploy to "
    "the first prediction (readiness or cold start included) and a warm request's latency. "
    "Look at `seconds_to_first_success` (the cold start a first user waits), "
    "`statuses_before_success` (the 503s a cold platform answered first) and `warm_request_ms`; "
    "`details` holds the effective config and the host-limited notes."
    + partitions_guide(scenarios=False),
)
def deployment(
    context: dg.AssetExecutionContext,
    bench: BenchmarkConfig,
    platforms: PlatformsResource,
    aws: AwsConfig,
) -> dg.MaterializeResult:
    plan = bench.plan()
    name = context.partition_key
    target = enabled_target(plan, platforms, aws, name)
    spec = plan.deployment_spec(name)
    context.log.info(f"deploying {name} ({plan.profile} profile, model {plan.model})")
    try:
        check = verify(target, spec)
    except DeploymentNotServing as exc:
        raise dg.Failure(str(exc)) from exc
    finally:
        if name in LOCAL_TARGETS:
            target.teardown()
    context.log.info(
        f"{name} served after {check.seconds_to_first_success:.2f} s "
        f"(first request {check.first_latency_ms:.0f} ms, warm {check.warm_latency_ms:.0f} ms)"
    )
    image = latest_materialization(context.instance, service_image.key).data_version
    return dg.MaterializeResult(
        data_version=dg.DataVersion(
            data_version(check.model.get("digest"), image, DEPLOY_VERSION, spec.model_dump_json())
        ),
        metadata={
            "endpoint": check.deployment.endpoint if name not in LOCAL_TARGETS else "torn down",
            "profile": plan.profile,
            "seconds_to_first_success": dg.MetadataValue.float(check.seconds_to_first_success),
            "seconds_to_ready": dg.MetadataValue.float(check.seconds_to_ready),
            "first_request_ms": dg.MetadataValue.float(check.first_latency_ms),
            # On Kubernetes the header is 1 too (a pod's first request) but nothing waited:
            # readiness kept traffic away until the model was loaded.
            "first_response_cold_header": check.first_cold_start,
            "warm_request_ms": dg.MetadataValue.float(check.warm_latency_ms),
            "attempts": check.attempts,
            "statuses_before_success": dg.MetadataValue.json(check.statuses_before_success),
            "init_ms": dg.MetadataValue.json(check.init_ms),
            "events": dg.MetadataValue.json(check.event_counts),
            "model": dg.MetadataValue.json(check.model),
            "details": dg.MetadataValue.json(check.deployment.details),
        },
    )
