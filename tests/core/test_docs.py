"""/docs and /redoc work with no access to the internet: every asset comes from the app."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

# src="…", href="…" and url(…) in the page, and the URLs its inline script hands the UI.
REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\(\s*["']?([^"')]+)""")
SCRIPT_URL = re.compile(r"""["'](https?://[^"']+|/[^"'\s]*)["']""")


def references(html: str) -> set[str]:
    found = {a or b for a, b in REFERENCE.findall(html)}
    return found | set(SCRIPT_URL.findall(html))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_page_references_no_external_host(client, page):
    response = await client.get(page)
    assert response.status_code == 200
    html = response.text
    assert "fonts.googleapis" not in html
    external = {url for url in references(html) if urlsplit(url).netloc or url.startswith("//")}
    assert external == set()


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_assets_are_served_by_the_app(client, page):
    html = (await client.get(page)).text
    assets = {url for url in references(html) if url.startswith("/static/docs/")}
    assert assets, "the page loads nothing from the app's own assets"
    for url in assets:
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.content
    assert "/openapi.json" in references(html)
    assert (await client.get("/openapi.json")).status_code == 200


async def test_swagger_oauth2_redirect_page(client):
    response = await client.get("/docs/oauth2-redirect")
    assert response.status_code == 200
    assert "oauth2" in response.text.lower()
