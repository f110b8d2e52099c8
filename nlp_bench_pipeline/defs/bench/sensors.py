"""Re-run the benchmark when what it measures changes: the model or the image digest."""

import json

import dagster as dg

from nlp_bench_pipeline.defs.bench.assets import load_test_run
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.downstream import BENCHMARK_SELECTION, DOWNSTREAM_KEYS
from nlp_bench_pipeline.defs.resources import BenchmarkConfig
from nlp_bench_pipeline.lib.asset_support import latest_materialization
from nlp_bench_pipeline.lib.run_requests import benchmark_run_requests

WATCHED = {"model": model_artifact.key, "image": service_image.key}


def current_digests(instance: dg.DagsterInstance) -> dict[str, str | None]:
    """The data version (digest) of the latest materialisation of the model and the image."""
    return {
        name: latest_materialization(instance, key).data_version for name, key in WATCHED.items()
    }


@dg.sensor(
    target=BENCHMARK_SELECTION,
    minimum_interval_seconds=60,
    description="When model_artifact or service_image is materialised with a new digest, "
    "benchmark every enabled cell again, then the summaries, economics and the report.",
)
def digest_change_sensor(
    context: dg.SensorEvaluationContext, bench: BenchmarkConfig
) -> dg.SensorResult | dg.SkipReason:
    seen = json.loads(context.cursor) if context.cursor else None
    now = current_digests(context.instance)
    if seen is None:
        return dg.SensorResult(skip_reason="first look: digests recorded", cursor=json.dumps(now))
    changed = sorted(name for name in now if now[name] and now[name] != seen.get(name))
    if not changed:
        return dg.SkipReason(f"digests unchanged: {now}")
    key = "digests:" + ",".join(f"{n}={now[n]}" for n in sorted(now))
    requests = benchmark_run_requests(
        bench.plan(),
        cells=load_test_run.key,
        downstream=DOWNSTREAM_KEYS,
        bench_config=bench.model_dump(),
        key=key,
        reason=f"{' and '.join(changed)} digest changed",
    )
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(now))
