"""[bench] One load-test run per (target, scenario) cell, each on a freshly deployed platform."""

import dagster as dg

from nlp_bench_pipeline.bench.cell import CellFailed, plan_cell, run_cell
from nlp_bench_pipeline.core.runs import Provenance, RunSummary
from nlp_bench_pipeline.defs.bench.in_region import InRegionLoadResource, choose_launcher
from nlp_bench_pipeline.defs.build.assets import model_artifact, service_image
from nlp_bench_pipeline.defs.deploy.assets import deployment
from nlp_bench_pipeline.defs.partitions import cell_partitions, partitions_guide
from nlp_bench_pipeline.defs.resources import (
    AwsConfig,
    BenchmarkConfig,
    MetricStoreResource,
    PlatformsResource,
)
from nlp_bench_pipeline.lib.asset_support import cell_of, enabled_target, latest_materialization
from nlp_bench_pipeline.lib.metadata import result_table
from nlp_bench_pipeline.lib.tables import ResultColumn
from nlp_bench_pipeline.lib.versions import data_version, source_version
from nlp_bench_pipeline.loadgen.launch import loadgen_launch, summaries_from_messages
from nlp_bench_pipeline.loadgen.repetition import SUMMARY_FILE, RepetitionPlan

# What a cell's rows depend on: the hall, the load generator, the store, the platforms.
CODE_VERSION = source_version(
    "nlp_bench_pipeline/bench",
    "nlp_bench_pipeline/loadgen",
    "nlp_bench_pipeline/store",
    "nlp_bench_pipeline/targets",
    "nlp_bench_pipeline/core",
    "nlp_bench_pipeline/client.py",
)
ERROR_COLUMNS = (
    ResultColumn("repetition", "rep", "count"),
    ResultColumn("outcome", "outcome"),
    ResultColumn("status_code", "status", "count"),
    ResultColumn("error", "error"),
    ResultColumn("requests", "requests", "count"),
    ResultColumn("share_of_requests", "share", "share"),
)
SUMMARY_COLUMNS = (
    ResultColumn("profile", "profile"),
    ResultColumn("repetition", "rep", "count"),
    ResultColumn("requests", "requests", "count", "scheduled requests of the measure phase"),
    ResultColumn("ok", "ok", "count"),
    ResultColumn("errors", "errors", "count"),
    ResultColumn("dropped", "dropped", "count"),
    ResultColumn("offered_rps", "offered req/s", "rps"),
    ResultColumn("throughput_rps", "ok req/s", "rps"),
    ResultColumn("p50_ms", "p50 ms", "ms", "every request, failures ranked slowest"),
    ResultColumn("p99_ms", "p99 ms", "ms", "empty where the p99 is a failed request"),
    ResultColumn("p99_is_failure", "p99 is a failure", "bool"),
    ResultColumn("p99_ok_ms", "p99 ok-only ms", "ms"),
    ResultColumn("p99_corrected_ms", "p99 corrected ms", "ms", "from the intended send time"),
    ResultColumn("time_to_first_success_ms", "deploy→first ok ms", "ms"),
    ResultColumn("cold_starts", "cold starts", "count"),
    ResultColumn("cold_start_init_p50_ms", "init p50 ms", "ms"),
    ResultColumn("cold_start_wait_p50_ms", "host wait p50 ms", "ms"),
    ResultColumn("host_limited_share", "host-limited", "share"),
    ResultColumn("slo_met", "SLO met", "bool"),
)
# Figures of each cell the UI plots per partition (numeric metadata; missing ones are left out).
# The figures plotted per partition, each with the decimals a person reads it to (ms to 1,
# rates to 2, shares to 3 as fractions, counts whole).
PLOTTED = {
    "p50_ms": 1,
    "p99_ok_ms": 1,
    "throughput_rps": 2,
    "offered_rps": 2,
    "failed_share": 3,
    "cold_starts": 0,
    "time_to_first_success_ms": 1,
    "host_limited_share": 3,
}


def pipes_launcher(context: dg.AssetExecutionContext, client: dg.PipesSubprocessClient):
    """Run the load generator through Dagster Pipes: its progress lands in this run's logs."""

    def launch(plan: RepetitionPlan) -> RunSummary:
        request = loadgen_launch(plan)
        try:
            invocation = client.run(context=context, command=request.command, env=request.env)
            reported = summaries_from_messages(invocation.get_custom_messages())
        except dg.DagsterPipesExecutionError as exc:
            # The runner exits non-zero on an inconsistent run after writing its summary:
            # the rows are still ingested (as incomplete) so the checks can say what went wrong.
            context.log.warning(f"load generator reported a problem: {exc}")
            reported = []
        if reported:
            return reported[-1]
        summary_file = request.run_dir / SUMMARY_FILE
        if not summary_file.is_file():
            raise dg.Failure(f"the load generator left no summary in {request.run_dir}")
        return RunSummary.model_validate_json(summary_file.read_text())

    return launch


@dg.asset(
    partitions_def=cell_partitions,
    deps=[
        dg.AssetDep(
            deployment,
            partition_mapping=dg.MultiToSingleDimensionPartitionMapping(
                partition_dimension_name="target"
            ),
        )
    ],
    group_name="bench",
    kinds={"locust", "duckdb"},
    code_version=CODE_VERSION,
    pool="nlp_bench_platform",
    description="Every repetition of one scenario on one target, each on a fresh platform: "
    "open-loop Locust load, then the rows, platform events and resource samples written to "
    "DuckDB in one transaction. Look at the `summary` table (p50 and p99 over every request, "
    "failures ranked slowest; the ok-only and corrected p99 beside them; offered vs ok req/s; "
    "cold starts; `SLO met`), `errors_by_class` (what failed, and how often), and the Plots tab "
    "for the numeric figures per partition; the checks say whether the rows are whole "
    "(`rows_equal_scheduled`, ERROR when not) and whether the platform met its bounds (WARN)."
    + partitions_guide(scenarios=True),
)
def load_test_run(
    context: dg.AssetExecutionContext,
    bench: BenchmarkConfig,
    platforms: PlatformsResource,
    aws: AwsConfig,
    duckdb: MetricStoreResource,
    pipes_subprocess_client: dg.PipesSubprocessClient,
    in_region_load: InRegionLoadResource,
) -> dg.MaterializeResult:
    plan = bench.plan()
    cell = cell_of(context.partition_key)
    target = enabled_target(plan, platforms, aws, cell.target, cell.scenario)
    store = duckdb.get_store()
    model = latest_materialization(context.instance, model_artifact.key)
    repetitions = plan_cell(
        cell,
        plan,
        series_id=context.run.run_id,
        provenance=Provenance(
            model_id=model.metadata_text("model_id"),
            model_digest=model.data_version,
            image_digest=latest_materialization(context.instance, service_image.key).data_version,
            code_version=CODE_VERSION,
            dagster_run_id=context.run.run_id,
        ),
        work_dir=platforms.work_path,
    )
    try:
        result = run_cell(
            repetitions,
            target,
            store,
            launch=choose_launcher(
                context,
                plan,
                cell.target,
                local=pipes_launcher(context, pipes_subprocess_client),
                in_region=in_region_load,
                aws=aws,
                work_dir=platforms.work_path,
            ),
            progress=context.log.info,
        )
    except CellFailed as exc:
        raise dg.Failure(
            str(exc), metadata={"stored_as": "benchmark_runs rows with status 'failed'"}
        ) from exc
    rows = result.summary_rows
    context.log.info("summary: " + "; ".join(_summary_line(r) for r in rows))
    served = sorted({r.record.model_digest or "" for r in result.repetitions})
    return dg.MaterializeResult(
        # What the rows were measured with: served model, image, code and the scenario itself.
        data_version=dg.DataVersion(
            data_version(
                *served,
                repetitions[0].provenance.image_digest,
                CODE_VERSION,
                repetitions[0].scenario.model_dump_json(),
                repetitions[0].deployment.model_dump_json() if repetitions[0].deployment else "",
            )
        ),
        metadata={
            "profile": plan.profile,
            "run_ids": result.run_ids,
            "complete": result.complete,
            "scheduled": sum(r.summary.scheduled for r in result.repetitions),
            "rows": sum(r.summary.rows for r in result.repetitions),
            **_plotted(rows),
            "slo_met": all(r["slo_met"] for r in rows),
            "summary": result_table(rows, SUMMARY_COLUMNS),
            "errors_by_class": result_table(
                [e for run_id in result.run_ids for e in store.errors_by_class(run_id)],
                ERROR_COLUMNS,
            ),
            "deployment": dg.MetadataValue.json(result.repetitions[0].deployment.details),
        },
    )


def _summary_line(row: dict) -> str:
    """One repetition in the run log: every-request p99 (or that it is a failure), SLO verdict."""
    p99 = "a failure" if row["p99_is_failure"] else f"{row['p99_ms'] or 0:.1f} ms"
    return (
        f"rep {row['repetition']}: p50 {row['p50_ok_ms'] or 0:.1f} ms (ok), p99 {p99}, "
        f"{row['errors']} errors, {row['dropped']} dropped, SLO met: {row['slo_met']}"
    )


def _plotted(rows: list[dict]) -> dict[str, dg.FloatMetadataValue]:
    """The cell's key figures as numbers (the worst repetition), so the UI can plot them."""
    figures = {}
    for column, decimals in PLOTTED.items():
        values = [r[column] for r in rows if r.get(column) is not None]
        if values:
            figures[column] = dg.MetadataValue.float(round(float(max(values)), decimals))
    return figures
