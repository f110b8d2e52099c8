"""The Locust side of the open-loop generator: one scheduler user per Locust process.

Locust's own pacing is closed-loop (a user waits for its response before the next request), so a
slow server would slow the arrivals and hide its own stall. Here each process runs exactly one
user that walks its round-robin share of the precomputed schedule against a start epoch shared by
all processes: it sleeps until each intended time and hands the request to a greenlet from a
bounded pool. A full pool means the request is recorded as dropped — never queued — so the
schedule never bunches up behind a stall. ``FastHttpUser.concurrency`` (its connection pool) is
set to ``max_inflight`` so no request waits for a connection after its send time was taken.

The start epoch is chosen on the master (or the only process) at test start and reaches workers
inside the spawn message's options. When a process has written its rows it flushes its Locust
stats to the master and says it is done; the master quits once every worker has, so the run lasts
exactly as long as the schedule plus the last responses, and Locust's own totals are complete.

Locust's master dies with the runner (a death signal its starter asks for); the workers that
``--processes N`` forks from the master ask for their own as they start, so a master killed
without a word (SIGKILL) takes them with it at once instead of leaving them sending to the end
of their schedule.

Only ever loaded by Locust in its own process (see ``runner.py``): ``import locust`` patches the
whole interpreter with gevent.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.pool import Pool
from locust import FastHttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import WorkerRunner

from nlp_bench_pipeline.core.processes import request_death_signal
from nlp_bench_pipeline.loadgen.aws_auth import NoAuth, RequestAuth, auth_for_deployment
from nlp_bench_pipeline.loadgen.corpus import PayloadCorpus
from nlp_bench_pipeline.loadgen.direct_invoke import direct_invoke_client, invoke
from nlp_bench_pipeline.loadgen.repetition import (
    LOCUST_STATS_FILE,
    PLAN_ENV,
    RepetitionPlan,
    progress_file,
    requests_file,
)
from nlp_bench_pipeline.loadgen.results import RequestLog

log = logging.getLogger("nlp_bench.loadgen")

DONE_MESSAGE = "nlp_bench_done"
EPOCH_OPTION = "nlp_bench_start_epoch"
PROGRESS_INTERVAL_S = 2.0
DRAIN_MARGIN_S = 5.0
HEADERS = {"Content-Type": "application/json"}


def _load_plan() -> RepetitionPlan:
    path = os.environ.get(PLAN_ENV)
    if not path:
        raise RuntimeError(
            f"{PLAN_ENV} is not set: start load tests with `python -m nlp_bench_pipeline.loadgen`"
        )
    return RepetitionPlan.read(Path(path))


def _request_auth() -> RequestAuth:
    """How each request is authorised: SigV4 or a JWT for an authorised API, else nothing.

    Credentials come from boto3's default chain (refreshed as they expire) and never from the
    plan, which holds only the API's authorisation type and region.
    """
    if not PLAN.auth:
        return NoAuth()
    import boto3

    credentials = boto3.Session(region_name=PLAN.auth.get("region")).get_credentials()
    return auth_for_deployment(PLAN.auth, credentials=credentials)


# Built at import, before `--processes` forks: every process shares the same schedule and corpus.
IMPORTED_BY = os.getpid()  # the master, or the only process: a forked worker has another pid
PLAN = _load_plan()
SCHEDULE = PLAN.schedule()
CORPUS = PayloadCorpus.build(PLAN.scenario.corpus, PLAN.scenario.seed)
AUTH = _request_auth()
_workers_done: set[int] = set()
_invoke_client: Any = None  # direct mode: one Lambda client per process, made after the fork


@events.init.add_listener
def _die_with_the_master(**_: Any) -> None:
    """A worker forked from the master gets SIGKILL when the master goes, however it goes.

    Locust forks its workers from the master's main thread, the thread the kernel watches for a
    death signal; a master already gone by now is caught too (its pid is no longer the parent).
    SIGKILL, not SIGTERM: a worker writes its rows and reports them before the master may quit,
    so once the master is gone it has nothing left to hand on, and Locust's graceful stop would
    go on sending for its stop timeout (measured: about 100 requests at 20/s).
    """
    if os.getpid() != IMPORTED_BY:
        request_death_signal(signal.SIGKILL, IMPORTED_BY)


@events.init.add_listener
def _listen_for_done_workers(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        environment.runner.register_message(DONE_MESSAGE, _on_worker_done)


def _on_worker_done(environment: Environment, msg: Any, **_: Any) -> None:
    _workers_done.add(int(msg.data["worker"]))
    if len(_workers_done) >= PLAN.workers:
        # Spawned: quitting kills the runner's greenlets, this message handler's among them.
        gevent.spawn(environment.runner.quit)


@events.test_start.add_listener
def _choose_start_epoch(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, WorkerRunner):
        setattr(environment.parsed_options, EPOCH_OPTION, time.time() + PLAN.start_lead_s)


@events.quitting.add_listener
def _save_locust_totals(environment: Environment, **_: Any) -> None:
    """Locust's own request count, for the cross-check rows = Locust's requests + dropped."""
    if isinstance(environment.runner, WorkerRunner):
        return
    total = environment.runner.stats.total
    totals = {
        "requests": total.num_requests,
        "failures": total.num_failures,
        "workers_done": len(_workers_done),
    }
    (PLAN.run_dir / LOCUST_STATS_FILE).write_text(json.dumps(totals))


class ScheduledUser(FastHttpUser):
    """Sends this process's share of the schedule, open-loop, then reports and stops."""

    host = PLAN.target_host
    concurrency = PLAN.scenario.max_inflight
    network_timeout = PLAN.scenario.timeout_s
    connection_timeout = PLAN.scenario.timeout_s
    wait_time = constant(0)
    _claimed = False  # one scheduler per process, whatever the dispatcher hands out

    @task
    def run_schedule(self) -> None:
        if ScheduledUser._claimed:
            log.error("a second user in one process; the schedule is already being sent")
            raise StopUser
        ScheduledUser._claimed = True
        index = self.environment.runner.worker_index
        counts: dict[str, int] = {}
        try:
            epoch = float(getattr(self.environment.parsed_options, EPOCH_OPTION))
            share = SCHEDULE.share(index, PLAN.workers)
            payloads = SCHEDULE.payloads[share]
            rows = RequestLog(
                worker=index,
                seq=share,
                intended_s=epoch + SCHEDULE.offsets_s[share],
                phases=SCHEDULE.phases[share],
                payload_tokens=CORPUS.tokens[payloads],
            )
            self._send_share(rows, payloads, index)
            rows.write(requests_file(PLAN.run_dir, index))
            _write_progress(rows, index, due=len(rows))
            counts = rows.counts()
        finally:
            # Even after a failure, so the master ends the run now rather than at the backstop;
            # the missing rows then show in the summary.
            self._report_done(index, counts)
        raise StopUser

    def _send_share(self, rows: RequestLog, payloads: Any, index: int) -> None:
        pool = Pool(PLAN.scenario.max_inflight)
        progress_at = time.time() + PROGRESS_INTERVAL_S
        for pos in range(len(rows)):
            progress_at = _sleep_until(rows.intended_s[pos], rows, index, pos, progress_at)
            if pool.full():
                rows.dropped(pos)
            else:
                greenlet = pool.spawn(self._send_one, rows, pos, CORPUS.bodies[payloads[pos]])
                # Linked after the pool's own discard link, so the slot is really free when
                # the drops waiting for it are released (their lateness ends here).
                greenlet.link(lambda _: rows.slot_freed(time.time()))
        deadline = time.time() + PLAN.scenario.timeout_s + DRAIN_MARGIN_S
        while len(pool) and time.time() < deadline:
            pool.join(timeout=PROGRESS_INTERVAL_S)
            _write_progress(rows, index, due=len(rows))
        pool.kill()
        unfinished = rows.close_unfinished()
        if unfinished:
            log.warning("%d requests in flight after the drain: recorded as timeouts", unfinished)

    def _send_one(self, rows: RequestLog, pos: int, body: bytes) -> None:
        if PLAN.mode == "direct":
            self._invoke_one(rows, pos, body)
            return
        # Signed before the send time is taken: the signature is the client's cost, so it shows
        # in corrected latency, not in what the server took.
        headers = {**HEADERS, **AUTH.headers("POST", PLAN.target_host + PLAN.path, body)}
        rows.sent(pos, time.time())
        try:
            response = self.client.request("POST", PLAN.path, data=body, headers=headers)
        # The client turns network errors into responses; anything else must still end as a row.
        except Exception as exc:
            rows.failed(pos, at=time.time(), error=exc)
        else:
            headers = response.headers
            rows.completed(
                pos,
                at=time.time(),
                status_code=response.status_code or 0,
                error=getattr(response, "error", None),
                header=lambda name: headers.get(name) if headers is not None else None,
                body=response.content,
            )

    def _invoke_one(self, rows: RequestLog, pos: int, body: bytes) -> None:
        """Direct mode: Lambda's Invoke API, bypassing the gateway (as SeBS measures)."""
        global _invoke_client
        if _invoke_client is None:
            import boto3

            _invoke_client = direct_invoke_client(
                boto3.Session(),
                max_inflight=PLAN.scenario.max_inflight,
                timeout_s=PLAN.scenario.timeout_s,
                region=(PLAN.auth or {}).get("region"),
            )
        rows.sent(pos, time.time())
        result = invoke(
            _invoke_client,
            function_name=PLAN.function_name or "",
            qualifier=PLAN.qualifier or "",
            body=body,
            path=PLAN.path,
        )
        rows.completed(
            pos,
            at=time.time(),
            status_code=result.status_code,
            error=result.error,
            header=result.header,
            body=result.body,
        )
        failed = None if 200 <= result.status_code < 300 else f"HTTP {result.status_code}"
        # Locust's own totals still count every request (the rows = Locust check).
        self.environment.events.request.fire(
            request_type="INVOKE",
            name=PLAN.path,
            response_time=result.latency_ms,
            response_length=len(result.body),
            exception=result.error or (RuntimeError(failed) if failed else None),
            context={},
        )

    def _report_done(self, index: int, counts: dict[str, int]) -> None:
        runner = self.environment.runner
        if isinstance(runner, WorkerRunner):
            # Flush this worker's stats before 'done': messages arrive in order, so the master's
            # totals are complete when it quits (Locust's own quit waits only 0.5 s for them).
            data: dict[str, Any] = {}
            self.environment.events.report_to_master.fire(client_id=runner.client_id, data=data)
            runner.send_message("stats", data)
        runner.send_message(DONE_MESSAGE, {"worker": index, **counts})


def _sleep_until(at: float, rows: RequestLog, index: int, pos: int, progress_at: float) -> float:
    """Sleep to ``at`` in slices, rewriting the progress file on the way; returns the next due."""
    while True:
        now = time.time()
        if now >= progress_at:
            _write_progress(rows, index, due=pos)
            progress_at = now + PROGRESS_INTERVAL_S
        if now >= at:
            return progress_at
        gevent.sleep(min(at, progress_at) - now)


def _write_progress(rows: RequestLog, index: int, *, due: int) -> None:
    path = progress_file(PLAN.run_dir, index)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"scheduled": len(rows), "due": due, **rows.counts()}))
    os.replace(tmp, path)
