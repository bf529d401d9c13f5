"""``GET /docs``: the offline API page, and the OpenAPI document it renders kept in step with the
routes the application really has."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest

from enrichd.api._app import OPENAPI_PATH

DOCS = "/docs"
#: Methods every route gets for free; the document does not list them.
_IMPLICIT = {"HEAD", "OPTIONS"}


@pytest.fixture(autouse=True)
def _autojump(mock_clock: Any) -> None:
    # pytest-trio runs a test under the MockClock only when the test itself takes ``mock_clock``.
    mock_clock.autojump_threshold = 0


async def _page(client: Any) -> str:
    resp = await client.get(DOCS)  # no Authorization header: the page is public
    assert resp.status_code == 200, resp.status_code
    assert resp.content_type.startswith("text/html"), resp.content_type
    text: str = await resp.get_data(as_text=True)
    return text


async def test_docs_is_html_without_a_token(mock_clock: Any, client: Any) -> None:
    page = await _page(client)
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert "<script>" in page and "<style>" in page
    # The browser itself refuses anything but the page and its own origin.
    resp = await client.get(DOCS)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp


async def test_docs_loads_nothing_external(mock_clock: Any, client: Any) -> None:
    page = await _page(client)
    # No scheme://host and no protocol-relative //host anywhere (the page has no // comments).
    assert not re.search(r"[A-Za-z][A-Za-z0-9+.-]*:\s*//", page)
    assert "//" not in page
    lowered = page.lower()
    assert "<link" not in lowered
    assert not re.search(r"<script[^>]*\bsrc\s*=", lowered)
    assert not re.search(r"<(img|iframe|object|embed)\b", lowered)
    assert "@import" not in lowered and "url(" not in lowered


async def test_docs_reads_the_openapi_document_relative_to_itself(
    mock_clock: Any, client: Any
) -> None:
    page = await _page(client)
    match = re.search(r'const SPEC_URL = "([^"]+)";', page)
    assert match, "the page names the document it fetches"
    # Resolved against the page's own URL, the way a browser does.
    base = "http://daemon.internal"
    assert urllib.parse.urljoin(base + DOCS, match.group(1)) == base + OPENAPI_PATH
    assert "fetch(SPEC_URL" in page


def _app_operations(client: Any) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every API route the application serves."""
    operations = set()
    for rule in client.app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        if path in (DOCS, OPENAPI_PATH) or rule.endpoint == "static":
            continue
        operations |= {(m, path) for m in rule.methods - _IMPLICIT}
    return operations


async def test_openapi_lists_every_route(mock_clock: Any, client: Any) -> None:
    resp = await client.get(OPENAPI_PATH)  # what the page fetches, also without a token
    assert resp.status_code == 200
    document = json.loads(await resp.get_data())
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }
    served = _app_operations(client)
    assert served, "the app has routes"
    assert served - documented == set(), "routes missing from the OpenAPI document"
    assert documented - served == set(), "documented operations the app does not serve"
