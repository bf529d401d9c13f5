"""A source actor's own send path over real sockets: per-worker pools, the key, cookies and
redirects (tests/daemon/test_sources.py covers the rest through an httpx.MockTransport)."""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec
import pytest
import trio

from enrichd.plugins import SourceError
from enrichd.sandbox import HttpResponse
from enrichd.testing import running_sources


async def test_concurrent_calls_each_get_their_own_answer(autojump: Any, canned: Any) -> None:
    for i in range(12):
        canned.json("GET", "/similarweb/v1/x", {"i": i}, query={"n": str(i)})
    settings = {"base_url": f"{canned.url}/similarweb", "api_key": "k-1", "max_concurrency": 3}
    async with running_sources({"similarweb": settings}) as actors:
        answers: dict[int, Any] = {}

        async def call(i: int) -> None:
            response = await actors["similarweb"].request("GET", "v1/x", params={"n": str(i)})
            answers[i] = response.json()

        async with trio.open_nursery() as nursery:
            for i in range(12):
                nursery.start_soon(call, i)
    assert answers == {i: {"i": i} for i in range(12)}
    # The key travels in the query on the source's own origin, once per request.
    assert all(r.query.get("api_key") == "k-1" for r in canned.calls("/similarweb/v1/x"))
    assert all(r.target.count("api_key=") == 1 for r in canned.calls("/similarweb/v1/x"))


async def test_a_cookie_set_by_one_answer_is_sent_with_the_next(autojump: Any, canned: Any) -> None:
    canned.add(
        "GET",
        "/yahoo/first",
        HttpResponse(status=200, headers=[("Set-Cookie", "A3=abc; Path=/")], body=b"{}"),
    )
    canned.json("GET", "/yahoo/second", {})
    settings = {"base_url": f"{canned.url}/yahoo", "max_concurrency": 2}
    async with running_sources({"yahoo_finance": settings}) as actors:
        await actors["yahoo_finance"].request("GET", "first")
        await actors["yahoo_finance"].request("GET", "second")
    [second] = canned.calls("/yahoo/second")
    assert "A3=abc" in second.headers.get("cookie", "")


async def test_an_unusable_redirect_is_an_error_not_a_crash(autojump: Any, canned: Any) -> None:
    canned.add(
        "GET", "/similarweb/v1/r", HttpResponse(status=302, headers=[("Location", "http://[::1")])
    )
    canned.add(
        "GET", "/similarweb/v1/s", HttpResponse(status=302, headers=[("Location", "/elsewhere")])
    )
    settings = {"base_url": f"{canned.url}/similarweb", "api_key": "key-123", "max_retries": 0}
    async with running_sources({"similarweb": settings}) as actors:
        with pytest.raises(SourceError, match="Invalid URL in location header") as caught:
            await actors["similarweb"].request("GET", "v1/r")
        assert caught.value.code == "upstream_error"
        assert "key-123" not in str(caught.value)
        # A usable redirect is not followed: the module gets the 3xx to judge.
        response = await actors["similarweb"].request("GET", "v1/s")
        assert (response.status_code, response.headers.get("location")) == (302, "/elsewhere")


async def test_a_reload_to_fewer_workers_closes_the_old_connections(
    autojump: Any, canned: Any
) -> None:
    async def slow(request: Any) -> HttpResponse:
        await trio.sleep(1)
        return HttpResponse(status=200, body=b"{}")

    canned.add("GET", "/similarweb/v1/slow", *[slow] * 6)
    settings = {"base_url": f"{canned.url}/similarweb", "api_key": "key-123", "max_concurrency": 3}
    async with running_sources({"similarweb": settings}) as actors:
        actor = actors["similarweb"]
        async with trio.open_nursery() as nursery:
            for i in range(3):  # distinct, or they would share one upstream call
                nursery.start_soon(partial(actor.request, "GET", "v1/slow", params={"n": str(i)}))
        old = actor._slot
        assert old is not None and sorted(old.transports) == [0, 1, 2]
        actor.reconfigure(msgspec.structs.replace(actor.settings, max_concurrency=1))
        await trio.sleep(0.1)
        # A new concurrency takes a new client; the old one, every worker's connection with it,
        # is closed once no call uses it.
        assert actor._slot is not old and old.client.is_closed
        assert (await actor.request("GET", "v1/slow")).status_code == 200
        assert actor._slot is not None and sorted(actor._slot.transports) == [0]
