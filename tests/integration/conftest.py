"""Fixtures the AWS tests share: moto in server mode and the project's clients aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nlp_bench_pipeline.targets.aws.clients import AwsClients
from tests.fixtures.apigw_standin import moto_server, moto_session


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """One moto server a module, empty when it starts (a module may override the scope)."""
    with moto_server() as url:
        yield url


@pytest.fixture
def clients(moto_url: str) -> AwsClients:
    """``AwsClients`` on moto's dummy credentials, every call to ``moto_url``."""
    return AwsClients(moto_session(), endpoint_url=moto_url)
