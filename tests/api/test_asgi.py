"""The app's lean ASGI connection: bodiless requests inline, the rest as quart-trio does."""

from __future__ import annotations

from typing import Any

import pytest

from enrichd.api._asgi import LeanHTTPConnection, _may_have_body
from tests.api.test_api import API, call


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ([], False),
        ([(b"content-length", b"0")], False),
        ([(b"Content-Length", b"12")], True),
        ([(b"transfer-encoding", b"chunked")], True),
        ([(b"host", b"x"), (b"accept", b"*/*")], False),
    ],
)
def test_a_body_is_declared_by_length_or_chunking(
    headers: list[tuple[bytes, bytes]], expected: bool
) -> None:
    assert _may_have_body(headers) is expected


async def test_the_app_uses_the_lean_connection(mock_clock: Any, client: Any) -> None:
    assert client.app.asgi_http_class is LeanHTTPConnection


async def test_get_and_post_both_answer(mock_clock: Any, client: Any) -> None:
    mock_clock.autojump_threshold = 0
    started = await call(client, "POST", f"{API}/costco.com", json_body={"waves": [1]})
    assert started.status == 202, started
    status = await call(client, "GET", f"{API}/costco.com/status")
    assert (status.status, status.body["job_id"]) == (200, started.body["job_id"])
    # A GET that declares a body takes quart-trio's own path, and still answers.
    listed = await call(client, "GET", API, data=b"{}", headers={"Content-Type": "text/plain"})
    assert listed.status == 200, listed


async def test_a_client_gone_before_its_request_completes_gets_no_answer(
    mock_clock: Any, client: Any
) -> None:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "path": "/livez",
        "raw_path": b"/livez",
        "query_string": b"",
        "root_path": "",
        "headers": [],
        "http_version": "1.1",
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
        "extensions": {},
    }
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    await LeanHTTPConnection(client.app, scope)(receive, send)  # type: ignore[arg-type]
    assert sent == []
