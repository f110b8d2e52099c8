"""The live comparison: one text to every target at once, through the backoff client.

What a user of each platform would see sending the same request right now: the answer (label,
score), what the first attempt met (its latency and status — a cold Lambda's gateway timeout, a
503 while no pod is ready), how many attempts the client needed and the time to the first
success (``nlp_bench_pipeline.client``: exponential backoff with full jitter, bounded attempts
and time, the retry rules the warming and verification use), which environment answered and
whether the call met a cold start: the answer's ``x-nlp-bench-cold-start`` header (the first
prediction its process served; on a Kubernetes pod that is its first request, not a wait,
since readiness kept traffic away until the model had loaded), or an earlier attempt that
waited on an init — a cold Lambda's first prediction often goes to the attempt the gateway
timed out, so the answer that arrives is the environment's second (``cold_start_header``
keeps the header itself).

The targets are asked in parallel (one asyncio task each), so neither waits for the other's
cold start. :func:`deployed` starts the targets it is given and tears the local ones down
afterwards; a cloud target is deployed idempotently and kept, as the deployment asset does.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict

from inference_service.contract import COLD_START_HEADER, ENVIRONMENT_HEADER, PREDICT_PATH
from nlp_bench_pipeline.client import CallResult, RepeatedInitError, RetryPolicy, send_async
from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.core.records import LOCAL_TARGETS, utcnow
from nlp_bench_pipeline.store.database import MetricStore
from nlp_bench_pipeline.store.report_queries import record_live_comparison
from nlp_bench_pipeline.targets.base import Target

# A cold Lambda behind API Gateway can take a 30 s integration timeout and a few backoffs, a
# fresh pod its start and model load: short sleeps, many attempts, a few minutes in all.
COMPARE_POLICY = RetryPolicy(max_attempts=60, base_s=0.25, cap_s=4.0, budget_s=180.0)
ATTEMPT_TIMEOUT_S = 60.0


class TargetAnswer(BaseModel):
    """What one target answered, and what it took."""

    model_config = ConfigDict(frozen=True)

    target: str
    sent_at: datetime
    ok: bool
    label: str | None
    score: float | None
    first_attempt_ms: float
    first_status: int | None
    first_label: str
    attempts: int
    attempt_labels: list[str]
    time_to_first_success_ms: float | None
    environment_id: str | None
    cold_start: bool | None
    cold_start_header: bool | None
    model_digest: str | None
    error: str | None

    @property
    def start(self) -> str:
        """``cold`` or ``warm`` by the answer's header; ``–`` without an answer."""
        return "–" if self.cold_start is None else "cold" if self.cold_start else "warm"


def compare(
    text: str,
    endpoints: Mapping[str, str],
    *,
    policy: RetryPolicy = COMPARE_POLICY,
    timeout_s: float = ATTEMPT_TIMEOUT_S,
) -> list[TargetAnswer]:
    """``text`` to every endpoint (target name → base URL) at once; answers in that order."""
    if not text.strip():
        raise ValueError("the text to compare is empty")
    return asyncio.run(_compare_all(text, endpoints, policy, timeout_s))


async def _compare_all(
    text: str, endpoints: Mapping[str, str], policy: RetryPolicy, timeout_s: float
) -> list[TargetAnswer]:
    asks = [_ask(name, url, text, policy, timeout_s) for name, url in endpoints.items()]
    return list(await asyncio.gather(*asks))


async def _ask(
    target: str, endpoint: str, text: str, policy: RetryPolicy, timeout_s: float
) -> TargetAnswer:
    sent_at = utcnow()
    async with httpx.AsyncClient(base_url=endpoint, timeout=timeout_s) as client:
        try:
            result = await send_async(
                client, "POST", PREDICT_PATH, json={"text": text}, policy=policy
            )
        except RepeatedInitError as exc:
            return _from_attempts(target, sent_at, exc.attempts, None, str(exc))
    return _from_result(target, sent_at, result)


def _from_result(target: str, sent_at: datetime, result: CallResult) -> TargetAnswer:
    response = result.response if result.ok else None
    error = None
    if not result.ok:
        last = result.attempts[-1]
        seen = f"HTTP {last.status_code}" if last.status_code is not None else last.error
        error = f"no success after {len(result.attempts)} attempts ({result.stopped_by}): {seen}"
    answer = _from_attempts(target, sent_at, result.attempts, response, error)
    if result.time_to_first_success_s is None:
        return answer
    return answer.model_copy(
        update={"time_to_first_success_ms": round(result.time_to_first_success_s * 1000, 3)}
    )


def _from_attempts(
    target: str,
    sent_at: datetime,
    attempts: Sequence[Any],
    response: httpx.Response | None,
    error: str | None,
) -> TargetAnswer:
    first = attempts[0]
    body = _json(response)
    header = response is not None and response.headers.get(COLD_START_HEADER) == "1"
    # The environment's first prediction may have gone to an attempt the gateway timed out:
    # the call still met a cold start, though the answer that arrived was the second.
    waited = any(a.label == "cold_start" for a in attempts[:-1])
    prediction = (body.get("predictions") or [{}])[0]
    return TargetAnswer(
        target=target,
        sent_at=sent_at,
        ok=response is not None,
        label=prediction.get("label"),
        score=prediction.get("score"),
        first_attempt_ms=round(first.latency_ms, 3),
        first_status=first.status_code,
        first_label=first.label,
        attempts=len(attempts),
        attempt_labels=[a.label for a in attempts],
        time_to_first_success_ms=None,
        environment_id=response.headers.get(ENVIRONMENT_HEADER) if response else None,
        cold_start=(header or waited) if response else None,
        cold_start_header=header if response else None,
        model_digest=(body.get("model") or {}).get("digest"),
        error=error,
    )


def _json(response: httpx.Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


class LiveComparison(BaseModel):
    """One comparison: its id, the text, every target's answer, and whether it was stored."""

    model_config = ConfigDict(frozen=True)

    comparison_id: str
    text: str
    answers: list[TargetAnswer]
    stored: bool

    def rows(self) -> list[dict[str, Any]]:
        """One row per target, as the proposed ``live_comparisons`` table holds them."""
        return [
            {"comparison_id": self.comparison_id, "text": self.text, **a.model_dump()}
            for a in self.answers
        ]


def run_live_comparison(
    text: str,
    names: Sequence[str],
    *,
    create: Callable[[str], Target],
    spec_for: Callable[[str], DeploymentSpec],
    store: MetricStore | None,
    endpoints: Mapping[str, str] | None = None,
    progress: Callable[[str], None] = print,
) -> LiveComparison:
    """Start the ``names`` not in ``endpoints``, compare, tear the local ones down, and store
    the answers where the store has a table for them."""
    given = dict(endpoints or {})
    with deployed(
        [n for n in names if n not in given], create=create, spec_for=spec_for, progress=progress
    ) as started:
        answers = compare(text, {name: given.get(name) or started[name] for name in names})
    comparison = LiveComparison(
        comparison_id=f"{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}",
        text=text,
        answers=answers,
        stored=False,
    )
    if store is not None:
        record_live_comparison(store, comparison.rows())
    return comparison.model_copy(update={"stored": store is not None})


@contextlib.contextmanager
def deployed(
    names: Sequence[str],
    *,
    create: Callable[[str], Target],
    spec_for: Callable[[str], DeploymentSpec],
    progress: Callable[[str], None] = print,
) -> Iterator[dict[str, str]]:
    """Each target deployed (``create`` then ``deploy``); yields name → endpoint.

    Local targets are torn down on the way out, whatever happened; cloud ones are kept.
    """
    started: list[Target] = []
    try:
        endpoints = {}
        for name in names:
            target = create(name)
            progress(f"starting {name}")
            started.append(target)
            endpoints[name] = target.deploy(spec_for(name)).endpoint
        yield endpoints
    finally:
        for target in reversed(started):
            if target.name in LOCAL_TARGETS:
                progress(f"tearing down {target.name}")
                target.teardown()
