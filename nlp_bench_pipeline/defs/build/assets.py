"""[build] The model artifact and the service image: digests that version everything downstream."""

import dagster as dg

from nlp_bench_pipeline.artifacts.image import build_image
from nlp_bench_pipeline.artifacts.model_artifact import describe_model
from nlp_bench_pipeline.core.processes import code_root
from nlp_bench_pipeline.defs.resources import BenchmarkConfig
from nlp_bench_pipeline.lib.versions import source_version

MODEL_VERSION = source_version("inference_service", "nlp_bench_pipeline/artifacts")
IMAGE_VERSION = source_version("inference_service", "nlp_bench_pipeline/artifacts", "infra/docker")


@dg.asset(
    group_name="build",
    kinds={"pytorch", "python"},
    code_version=MODEL_VERSION,
    description="The configured model, loaded once in a fresh process: source, content digest "
    "(weights + tokenizer + config), parameter count and load time. Look at `digest` (every run "
    "records it; a new one re-runs the benchmark), `load_seconds` (what each cold start pays to "
    "load it) and `accuracy_meaningful` (false for the synthetic and tiny weights: costs are "
    "real, predictions are not).",
)
def model_artifact(
    context: dg.AssetExecutionContext, bench: BenchmarkConfig
) -> dg.MaterializeResult:
    plan = bench.plan()
    context.log.info(f"loading model {plan.model} in a fresh process")
    artifact = describe_model(plan.model)
    context.log.info(
        f"model {artifact.model_id} {artifact.digest} in {artifact.load_seconds:.2f} s"
    )
    return dg.MaterializeResult(
        data_version=dg.DataVersion(artifact.digest),
        metadata={
            "model_id": artifact.model_id,
            "source": artifact.source,
            "requested": artifact.requested,
            "digest": artifact.digest,
            "accuracy_meaningful": artifact.accuracy_meaningful,
            "parameters": artifact.parameters,
            "load_seconds": dg.MetadataValue.float(artifact.load_seconds),
            "load_breakdown": dg.MetadataValue.json(artifact.timings_s),
            "process_start_to_loaded_seconds": dg.MetadataValue.float(artifact.process_seconds),
            "summary": dg.MetadataValue.md(
                f"**{artifact.model_id}** from `{artifact.source}`, "
                f"{artifact.parameters:,} parameters, loaded in {artifact.load_seconds:.2f} s "
                f"({artifact.process_seconds:.2f} s from process start)."
                + (
                    ""
                    if artifact.accuracy_meaningful
                    else "\n\nSynthetic weights: predictions are not meaningful, costs are."
                )
            ),
        },
    )


@dg.asset(
    group_name="build",
    kinds={"docker"},
    code_version=IMAGE_VERSION,
    deps=[model_artifact],
    description="The service image (one image for Lambda and for pods): the build context's "
    "digest, and a docker build where an engine runs. Look at `note` (built, or why only the "
    "context was recorded) and `context_digest` (a change re-runs the benchmark).",
)
def service_image(
    context: dg.AssetExecutionContext, bench: BenchmarkConfig
) -> dg.MaterializeResult:
    # The build context is the repository that holds the service's code.
    build = build_image(bench.plan().model, code_root("inference_service"))
    context.log.info(f"{build.tag}: {build.note}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(build.context_digest),
        metadata={
            "context_digest": build.context_digest,
            "tag": build.tag,
            "built": build.built,
            "engine": build.engine,
            "image_id": build.image_id or "",
            "context_files": build.files,
            "note": build.note,
        },
    )
