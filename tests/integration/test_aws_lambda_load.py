"""An aws-lambda deployment on moto, with the stand-in as its API, serving signed load: rows and
REPORT events end in DuckDB, joined on the environment (the log stream).

Written as the pipeline's cell does it (deploy, load, teardown, ingest) so it can become a
``load_test_run`` partition test once the AWS targets are wired into the registry and the
locustfile signs its requests.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Literal

import httpx
import numpy as np
import pytest

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import utcnow
from nlp_bench_pipeline.core.runs import RunRecord
from nlp_bench_pipeline.loadgen.aws_auth import HttpxAuth, request_auth
from nlp_bench_pipeline.loadgen.results import RequestLog
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.targets.aws.clients import AwsClients
from nlp_bench_pipeline.targets.aws_lambda import AwsLambdaTarget
from nlp_bench_pipeline.targets.aws_lambda.deployer import WaitPolicy
from nlp_bench_pipeline.targets.aws_lambda.metrics import ReportWait
from tests.fixtures.apigw_standin import INIT_MS, ApiGatewayStandIn, moto_server, moto_session
from tests.integration.test_aws_lambda_deploy import push_image

pytestmark = [pytest.mark.aws, pytest.mark.slow]

REQUESTS = 24
CONCURRENCY = 4
BODY = b'{"text": "a gripping, beautiful film"}'


def run_load(endpoint: str, auth: httpx.Auth, rows: RequestLog) -> None:
    """``REQUESTS`` signed POSTs, ``CONCURRENCY`` at a time, recorded as the locustfile does."""

    def one(pos: int) -> None:
        with httpx.Client(base_url=endpoint, auth=auth, timeout=10) as client:
            rows.sent(pos, time.time())
            response = client.post(
                "/predict", content=BODY, headers={"content-type": "application/json"}
            )
            rows.completed(
                pos,
                at=time.time(),
                status_code=response.status_code,
                error=None,
                header=response.headers.get,
                body=response.content,
            )

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, range(REQUESTS)))


def empty_rows() -> RequestLog:
    now = time.time()
    return RequestLog(
        worker=0,
        seq=np.arange(REQUESTS),
        intended_s=np.full(REQUESTS, now),
        phases=np.ones(REQUESTS),
        payload_tokens=np.full(REQUESTS, 8),
    )


def deploy_and_load(
    log_format: Literal["Text", "JSON"], *, lost: int = 0
) -> tuple[AwsLambdaTarget, ApiGatewayStandIn, RequestLog, int, datetime]:
    """Deploy on moto behind the stand-in, send signed load, tear down (the final REPORT wait)."""
    with moto_server() as url:
        clients = AwsClients(moto_session(), endpoint_url=url)
        function = "nlp-bench-load"
        knobs = {"image": push_image(clients), "function_name": function, "log_format": log_format}
        spec = DeploymentSpec(target="aws-lambda", memory_mb=2048, platform=knobs)
        with ApiGatewayStandIn(
            logs=clients.client("logs"),
            cloudwatch=clients.client("cloudwatch"),
            log_group=f"/aws/lambda/{function}",
            function_name=function,
            log_format=log_format,
            lose_reports=lost,
        ) as standin:
            target = AwsLambdaTarget(
                clients,
                owner="bench@example.com",
                endpoint_override=standin.url,
                wait=WaitPolicy(delay_s=1, max_attempts=10),
                report_wait=ReportWait(max_wait_s=20, settle_s=2, poll_s=0.2),
            )
            started = utcnow()
            rows = empty_rows()
            with target.deployed(spec) as deployment:
                unsigned = httpx.post(f"{deployment.endpoint}/predict", content=BODY)
                auth = request_auth(
                    deployment.details["authorization"],
                    credentials=clients.session.get_credentials(),
                    region=clients.region,
                )
                run_load(deployment.endpoint, HttpxAuth(auth), rows)
    return target, standin, rows, unsigned.status_code, started


@pytest.mark.parametrize("log_format", ["Text", "JSON"])
def test_signed_load_on_moto_lands_as_rows_and_report_events_in_duckdb(
    tmp_path: Path, log_format: Literal["Text", "JSON"]
) -> None:
    target, standin, rows, unsigned_status, started = deploy_and_load(log_format)
    final = target.last_deployment.details
    assert unsigned_status == 403  # IAM authorisation: an unsigned request is refused
    assert final["reports"] == {
        "reports": REQUESTS,
        "expected_invocations": REQUESTS,  # CloudWatch's Invocations metric
        "missing_reports": 0,
        "waited_s": final["reports"]["waited_s"],
        "stopped_by": "expected",
    }
    assert final["removed"]  # the deployment is gone; its events stay readable

    store = MetricStore(tmp_path / "nlp_bench.duckdb")
    record = RunRecord(
        run_id="aws-lambda-moto-1",
        series_id="aws-lambda-moto",
        target="aws-lambda",
        scenario="warm_steady",
        repetition=0,
        repetitions=1,
        profile="smoke",
        started_at=started,
        finished_at=utcnow(),
        status="complete",
        scheduled=REQUESTS,
        dropped=0,
        host={"deployment": final},
    )
    rows_file = rows.write(tmp_path / "requests-0.parquet")
    store.ingest_run(record, request_files=[rows_file], events=target.events(since=started))
    (events,) = store.query(
        """SELECT count(*) FILTER (WHERE kind = 'report') AS reports,
                  count(*) FILTER (WHERE kind = 'cold_start') AS cold_starts,
                  min(init_ms) FILTER (WHERE kind = 'cold_start') AS init_ms
           FROM platform_events WHERE run_id = 'aws-lambda-moto-1'"""
    ).to_pylist()
    assert events == {
        "reports": REQUESTS,
        "cold_starts": len(standin.environments),
        "init_ms": INIT_MS,
    }
    (joined,) = store.query(
        """SELECT count(*) AS ok_rows, count(DISTINCT q.environment_id) AS environments,
                  count(*) FILTER (WHERE q.environment_id IN (
                      SELECT environment_id FROM platform_events
                      WHERE run_id = q.run_id AND kind = 'report')) AS rows_with_reports
           FROM requests q WHERE q.run_id = 'aws-lambda-moto-1' AND q.ok"""
    ).to_pylist()
    assert joined == {
        "ok_rows": REQUESTS,
        "environments": len(standin.environments),
        "rows_with_reports": REQUESTS,
    }
    assert len(standin.environments) > 1  # concurrent load opened several environments


def test_report_lines_cloudwatch_never_delivers_are_counted_in_the_details() -> None:
    target, _, _, _, _ = deploy_and_load("Text", lost=3)
    reports = target.last_deployment.details["reports"]
    assert (reports["reports"], reports["expected_invocations"]) == (REQUESTS - 3, REQUESTS)
    assert (reports["missing_reports"], reports["stopped_by"]) == (3, "settled")
    assert target.report_collection.missing == 3
