"""The front's body timeout is a platform setting (``body_timeout_s``), not a fixed 10 s.

A request whose body never arrives whole starts no invoke, so the deployment here runs no
runtime process: only the front, on the target's own event loop.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

from nlp_bench_pipeline.core.deployments import DeploymentSpec
from nlp_bench_pipeline.targets.local_lambda import LocalLambdaTarget


def _send_half_a_body(endpoint: str) -> tuple[bytes, float]:
    """Declare 100 bytes, send 10, and wait for the front's answer; return it and its delay."""
    address = urlsplit(endpoint)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 100\r\n\r\n{"text": "'
        )
        answer = sock.recv(4096)
        return answer, time.monotonic() - started


def test_a_body_slower_than_the_configured_timeout_gets_408(tmp_path: Path) -> None:
    target = LocalLambdaTarget(work_dir=tmp_path)
    spec = DeploymentSpec(
        target="local-lambda",
        model="tiny",
        handler="tests.fixtures.trivial_lambda.handler",
        platform={"body_timeout_s": 0.3},
    )
    with target.deployed(spec) as deployment:
        answer, waited = _send_half_a_body(deployment.endpoint)
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"rejected:body_timeout" in answer
    assert 0.3 <= waited < 5.0  # the setting's 0.3 s, not the 10 s default
    assert deployment.details["config"]["body_timeout_s"] == 0.3
