"""The Runtime API's restore endpoints, which a runtime restored from a snapshot calls first."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from nlp_bench_pipeline.targets.local_lambda.invocation import Invocation
from nlp_bench_pipeline.targets.local_lambda.runtime_api import (
    InvalidStateTransition,
    RuntimeApi,
)


class Callbacks:
    """Records what the runtime asked; refuses ``restore/next`` once told to."""

    def __init__(self, *, restorable: bool = True) -> None:
        self.restorable = restorable
        self.calls: list[tuple[str, Any]] = []

    async def next_invocation(self, owner: Any) -> Invocation:
        raise AssertionError("not called here")

    def invocation_response(self, owner: Any, request_id: str, body: bytes) -> None:
        raise AssertionError("not called here")

    def invocation_error(self, owner: Any, request_id: str, error_type: str, body: bytes) -> None:
        raise AssertionError("not called here")

    def init_error(self, owner: Any, error_type: str, body: bytes) -> None:
        self.calls.append(("init_error", error_type))

    def restore_next(self, owner: Any) -> None:
        if not self.restorable:
            raise InvalidStateTransition("restore/next outside a restore")
        self.calls.append(("restore_next", owner))


def call(callbacks: Callbacks, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async def scenario() -> httpx.Response:
        api = RuntimeApi("runtime-1", callbacks, "arn:aws:lambda:us-east-1:123456789012:function:f")
        address = await api.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://{address}") as client:
                return await client.request(method, f"/2018-06-01/runtime/{path}", **kwargs)
        finally:
            await api.close()

    return asyncio.run(scenario())


def test_restore_next_is_answered_at_once_for_a_restored_runtime() -> None:
    callbacks = Callbacks()
    response = call(callbacks, "GET", "restore/next")
    assert response.status_code == 200  # what awslambdaric's restore_next expects
    assert callbacks.calls == [("restore_next", "runtime-1")]


def test_restore_next_outside_a_restore_is_an_invalid_state_transition() -> None:
    response = call(Callbacks(restorable=False), "GET", "restore/next")
    assert response.status_code == 403
    assert response.json()["errorType"] == "InvalidStateTransition"


def test_a_failed_after_restore_hook_fails_the_init_with_its_error_type() -> None:
    callbacks = Callbacks()
    response = call(
        callbacks,
        "POST",
        "restore/error",
        content=b'{"errorMessage": "hook failed", "errorType": "ValueError"}',
        headers={"Lambda-Runtime-Function-Error-Type": "Runtime.AfterRestoreError"},
    )
    assert response.status_code == 202
    assert callbacks.calls == [("init_error", "Runtime.AfterRestoreError")]
