"""``/docs`` works offline: Swagger UI from the installed package, no URL outside the app."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from inference_service.app import create_app
from inference_service.settings import ServiceSettings


@pytest.fixture(scope="module")
def client(model_cache, tiny_model) -> TestClient:
    settings = ServiceSettings(model="tiny", model_cache=model_cache, threads=1)
    with TestClient(create_app(settings, model=tiny_model)) as c:
        yield c


def referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href|url)\s*[:=]\s*['"]([^'"]+)['"]""", html)


def test_docs_page_names_no_url_outside_the_app(client: TestClient) -> None:
    html = client.get("/docs").text
    urls = referenced_urls(html)
    assert urls, html
    assert all(u.startswith("/") and not u.startswith("//") for u in urls), urls
    assert "http://" not in html
    assert "https://" not in html
    assert "validatorUrl" in html  # Swagger UI's online validator is off (null)


def test_every_asset_the_docs_page_names_loads(client: TestClient) -> None:
    html = client.get("/docs").text
    for url in referenced_urls(html):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "javascript" in client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"]
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")


def test_the_openapi_document_the_page_loads_is_served(client: TestClient) -> None:
    assert "'/openapi.json'" in client.get("/docs").text
    assert client.get("/openapi.json").json()["info"]["title"] == "nlp-bench inference service"


def test_docs_assets_are_not_part_of_the_api_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not any(p.startswith("/docs") for p in paths)
