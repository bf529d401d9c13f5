"""Tests for the source actor: inbox priority, limits, auth, retries, coalescing, cancellation.

The upstream is an ``httpx.MockTransport`` and every async test runs on pytest-trio's
``autojump_clock`` (a MockClock with ``autojump_threshold=0``), so retries, Retry-After pauses and
timeouts take virtual time only.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Literal

import httpx
import pytest
import trio
import trio.testing
from trio.testing import MockClock

from enrichd.config import ResolvedSource
from enrichd.daemon._sources import (
    MAX_RESPONSE_BYTES,
    SourceActor,
    SourceActorCrashed,
    parse_retry_after,
)
from enrichd.plugins._types import (
    Priority,
    Source,
    SourceError,
    SourceNotConfigured,
    SourceResponse,
    SourceSpec,
)

KEY = "sekret-KEY/123+="
BASE = "https://api.example.test/v1/"

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


class MaxJitter(random.Random):
    """Full jitter that always picks the top of the range, so backoff times are exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


class Upstream:
    """A recording MockTransport handler; ``reply`` decides each answer."""

    def __init__(self, reply: Handler | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.times: list[float] = []
        self._reply = reply

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.times.append(trio.current_time())
        if self._reply is None:
            return httpx.Response(200, json={"path": request.url.path})
        return await self._reply(request)

    @property
    def paths(self) -> list[str]:
        return [r.url.path for r in self.requests]


def make_actor(
    upstream: Upstream,
    *,
    auth: tuple[Literal["header", "query", "bearer"], str] | None = ("header", "X-Api-Key"),
    api_key: str | None = KEY,
    requires_api_key: bool = True,
    base_url: str = BASE,
    enabled: bool = True,
    rate_per_second: float = 1000.0,
    burst: int = 1000,
    daily_quota: int | None = None,
    max_concurrency: int = 4,
    timeout_seconds: float = 10.0,
    max_retries: int = 2,
    circuit_failure_threshold: int = 1000,
    circuit_reset_seconds: float = 30.0,
    **kwargs: Any,
) -> SourceActor:
    spec = SourceSpec(name="demo", base_url=base_url, requires_api_key=requires_api_key, auth=auth)
    settings = ResolvedSource(
        name="demo",
        base_url=base_url,
        api_key=api_key,
        rate_per_second=rate_per_second,
        burst=burst,
        daily_quota=daily_quota,
        max_concurrency=max_concurrency,
        timeout_seconds=timeout_seconds,
        max_retries=max_retries,
        enabled=enabled,
        auth=spec.auth,
        circuit_failure_threshold=circuit_failure_threshold,
        circuit_reset_seconds=circuit_reset_seconds,
    )
    kwargs.setdefault("rng", MaxJitter())
    return SourceActor(spec, settings, transport=httpx.MockTransport(upstream), **kwargs)


@asynccontextmanager
async def running(actor: SourceActor) -> AsyncIterator[trio.Nursery]:
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        yield nursery
        nursery.cancel_scope.cancel(reason="test finished")


def replies(*responses: httpx.Response) -> Handler:
    """Answer with ``responses`` in order, then repeat the last one."""
    queue = list(responses)

    async def reply(request: httpx.Request) -> httpx.Response:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return reply


# -- configuration ---------------------------------------------------------------------------


def test_configured_and_why_not() -> None:
    up = Upstream()
    assert make_actor(up).configured
    assert make_actor(up).why_not_configured() == ""
    no_key = make_actor(up, api_key=None)
    assert not no_key.configured
    assert "api_key" in no_key.why_not_configured()
    assert make_actor(up, api_key=None, requires_api_key=False).configured
    disabled = make_actor(up, enabled=False)
    assert not disabled.configured
    assert "enabled" in disabled.why_not_configured()
    no_url = make_actor(up, base_url="")
    assert not no_url.configured
    assert "base_url" in no_url.why_not_configured()


async def test_unconfigured_source_refuses_requests(autojump_clock: MockClock) -> None:
    actor = make_actor(Upstream(), api_key=None)
    async with running(actor):
        with pytest.raises(SourceNotConfigured) as info:
            await actor.request("GET", "x")
    assert info.value.code == "source_not_configured"


# -- the happy path ----------------------------------------------------------------------------


async def test_get_returns_response(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(0.25)
        return httpx.Response(200, headers={"X-Thing": "a"}, json={"ok": True})

    up = Upstream(reply)
    actor = make_actor(up, user_agent="test-agent/1")
    assert actor.observed_latency is None
    async with running(actor):
        response = await actor.request("GET", "things", params={"q": "x y", "n": 2})
    assert isinstance(response, SourceResponse)
    assert response.status_code == 200
    assert response.json() == {"ok": True}
    assert response.headers["x-thing"] == "a"
    assert all(k == k.lower() for k in response.headers)
    assert response.url == "https://api.example.test/v1/things?q=x+y&n=2"
    assert response.elapsed_seconds == pytest.approx(0.25)
    assert actor.observed_latency == pytest.approx(0.25)
    assert actor.requests_total == 1
    assert actor.errors_total == 0
    assert up.requests[0].headers["user-agent"] == "test-agent/1"


async def test_observed_latency_is_an_ewma(autojump_clock: MockClock) -> None:
    delays = [1.0, 2.0, 2.0]

    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(delays.pop(0))
        return httpx.Response(204)

    actor = make_actor(Upstream(reply))
    async with running(actor):
        await actor.request("POST", "a")
        assert actor.observed_latency == pytest.approx(1.0)
        await actor.request("POST", "a")
        assert actor.observed_latency == pytest.approx(0.2 * 2.0 + 0.8 * 1.0)
        await actor.request("POST", "a")
        assert actor.observed_latency == pytest.approx(0.2 * 2.0 + 0.8 * 1.2)


async def test_4xx_is_returned_not_raised(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(404, json={"error": "nope"})))
    actor = make_actor(up)
    async with running(actor):
        response = await actor.request("GET", "missing")
    assert response.status_code == 404
    assert response.json() == {"error": "nope"}
    assert len(up.requests) == 1  # a 4xx is an answer, not something to retry


async def test_3xx_is_returned_not_followed(autojump_clock: MockClock) -> None:
    redirect = httpx.Response(302, headers={"Location": "https://elsewhere.test/"})
    up = Upstream(replies(redirect))
    actor = make_actor(up)
    async with running(actor):
        response = await actor.request("GET", "moved")
    assert response.status_code == 302
    assert response.headers["location"] == "https://elsewhere.test/"
    assert len(up.requests) == 1


# -- auth --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        (("header", "X-Api-Key"), lambda r: r.headers["x-api-key"] == KEY),
        (("query", "apikey"), lambda r: r.url.params["apikey"] == KEY),
        (("bearer", ""), lambda r: r.headers["authorization"] == f"Bearer {KEY}"),
    ],
)
async def test_auth(
    autojump_clock: MockClock,
    auth: tuple[Literal["header", "query", "bearer"], str],
    check: Callable[[httpx.Request], bool],
) -> None:
    up = Upstream()
    actor = make_actor(up, auth=auth)
    async with running(actor):
        response = await actor.request("GET", "x", params={"q": "1"})
        await actor.request("GET", "https://other.example.test/x")
    assert check(up.requests[0])
    assert up.requests[0].url.params["q"] == "1"
    assert KEY not in response.url
    # The key only ever goes to the configured upstream, never to an absolute URL elsewhere.
    foreign = up.requests[1]
    assert foreign.url.host == "other.example.test"
    assert KEY not in str(foreign.url)
    assert all(KEY not in v for v in foreign.headers.values())


async def test_no_auth_without_key(autojump_clock: MockClock) -> None:
    up = Upstream()
    actor = make_actor(up, api_key=None, requires_api_key=False)
    async with running(actor):
        await actor.request("GET", "x")
    assert "x-api-key" not in up.requests[0].headers


# -- retries -----------------------------------------------------------------------------------


async def test_retry_on_503_then_success(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(503), httpx.Response(503), httpx.Response(200)))
    actor = make_actor(up, max_retries=2)
    async with running(actor):
        start = trio.current_time()
        response = await actor.request("GET", "flaky")
    assert response.status_code == 200
    assert len(up.requests) == 3
    # Exponential backoff (MaxJitter picks the ceiling): 0.5 s, then 1 s.
    assert [t - start for t in up.times] == pytest.approx([0.0, 0.5, 1.5])
    assert actor.requests_total == 3
    assert actor.errors_total == 2


async def test_backoff_jitter_stays_within_the_ceiling(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(500)))
    actor = make_actor(up, max_retries=8, rng=random.Random(1234))
    async with running(actor):
        with pytest.raises(SourceError):
            await actor.request("GET", "x")
    gaps = [b - a for a, b in zip(up.times, up.times[1:], strict=False)]
    ceilings = [min(30.0, 0.5 * 2**i) for i in range(8)]
    assert len(gaps) == 8
    assert all(0 <= gap <= ceiling + 1e-9 for gap, ceiling in zip(gaps, ceilings, strict=True))


async def test_retries_exhausted_raise_upstream_error(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(502)))
    actor = make_actor(up, max_retries=3)
    async with running(actor):
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "broken")
    assert info.value.code == "upstream_error"
    assert info.value.status_code == 502
    assert info.value.source == "demo"
    assert "502" in info.value.message
    assert len(up.requests) == 4
    assert actor.errors_total == 4


async def test_no_retries_when_max_retries_is_zero(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(500)))
    actor = make_actor(up, max_retries=0)
    async with running(actor):
        with pytest.raises(SourceError):
            await actor.request("GET", "x")
    assert len(up.requests) == 1


async def test_429_retry_after_seconds_pauses_the_whole_source(autojump_clock: MockClock) -> None:
    first = True

    async def reply(request: httpx.Request) -> httpx.Response:
        nonlocal first
        if request.url.path.endswith("/a") and first:
            first = False
            return httpx.Response(429, headers={"Retry-After": "5"})
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up)
    async with running(actor):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(actor.request, "GET", "a")
            await trio.testing.wait_all_tasks_blocked()
            # A different request sent during the pause waits for it as well.
            nursery.start_soon(actor.request, "GET", "b")
    assert up.paths == ["/v1/a", "/v1/a", "/v1/b"]
    # The retry goes first, at the end of the pause; "b" follows at the steady rate, 1 ms later
    # (no burst right after a pause).
    assert [t - start for t in up.times] == pytest.approx([0.0, 5.0, 5.001])


async def test_429_retry_after_http_date(autojump_clock: MockClock) -> None:
    wall = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
    retry_at = email.utils.format_datetime(wall + dt.timedelta(seconds=7), usegmt=True)
    up = Upstream(
        replies(httpx.Response(429, headers={"Retry-After": retry_at}), httpx.Response(200))
    )
    actor = make_actor(up, wall_clock=wall.timestamp)
    async with running(actor):
        start = trio.current_time()
        response = await actor.request("GET", "a")
    assert response.status_code == 200
    assert up.times[1] - start == pytest.approx(7.0)
    assert actor.bucket.paused_until - start == pytest.approx(7.0)


async def test_429_without_retry_after_backs_off_then_fails(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(429)))
    actor = make_actor(up, max_retries=1)
    async with running(actor):
        start = trio.current_time()
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "a")
    assert info.value.code == "rate_limited"
    assert info.value.status_code == 429
    assert [t - start for t in up.times] == pytest.approx([0.0, 0.5])


async def test_long_retry_after_fails_fast(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(429, headers={"Retry-After": "600"})))
    actor = make_actor(up, max_retries=3)
    async with running(actor):
        start = trio.current_time()
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "a")
        with pytest.raises(SourceError) as again:
            await actor.request("GET", "b")
        assert trio.current_time() - start == pytest.approx(0.0)
    assert info.value.code == again.value.code == "rate_limited"
    assert "paused" in again.value.message
    assert len(up.requests) == 1  # nothing more is sent while the source is paused


def test_parse_retry_after() -> None:
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
    assert parse_retry_after("12", now=now) == 12.0
    assert parse_retry_after(" 3 ", now=now) == 3.0
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Tue, 31 Dec 2024 23:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None, now=now) is None


async def test_timeout(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1000)
        raise AssertionError("unreachable")

    up = Upstream(reply)
    actor = make_actor(up, timeout_seconds=5.0, max_retries=1)
    async with running(actor):
        start = trio.current_time()
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "slow")
        elapsed = trio.current_time() - start
    assert info.value.code == "timeout"
    assert "timed out" in info.value.message
    assert len(up.requests) == 2
    assert elapsed == pytest.approx(5.0 + 0.5 + 5.0)


async def test_connection_error(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    up = Upstream(reply)
    actor = make_actor(up, auth=("query", "key"), max_retries=2)
    async with running(actor):
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "x")
    assert info.value.code == "connection_error"
    assert len(up.requests) == 3
    assert KEY in str(up.requests[0].url.params["key"])  # the upstream did get the key...
    assert KEY not in info.value.message  # ...but the message does not show it
    assert "ConnectError" in info.value.message


# -- limits ------------------------------------------------------------------------------------


async def test_quota_exhausted(autojump_clock: MockClock) -> None:
    up = Upstream()
    actor = make_actor(up, daily_quota=2)
    async with running(actor):
        await actor.request("GET", "a")
        await actor.request("GET", "b")
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "c")
    assert info.value.code == "quota_exhausted"
    assert "2 requests" in info.value.message
    assert len(up.requests) == 2


async def test_rate_limit_applies_to_the_actor(autojump_clock: MockClock) -> None:
    up = Upstream()
    actor = make_actor(up, rate_per_second=2.0, burst=1, max_concurrency=4)
    async with running(actor):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(5):
                nursery.start_soon(actor.request, "GET", f"p{i}")
    assert sorted(t - start for t in up.times) == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0])


async def test_concurrency_limit_never_exceeded(autojump_clock: MockClock) -> None:
    active = 0
    peak = 0

    async def reply(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await trio.sleep(1)
        active -= 1
        return httpx.Response(200)

    actor = make_actor(Upstream(reply), max_concurrency=3)
    async with running(actor):
        start = trio.current_time()
        async with trio.open_nursery() as nursery:
            for i in range(10):
                nursery.start_soon(actor.request, "GET", f"p{i}")
            await trio.testing.wait_all_tasks_blocked()
            assert actor.in_flight == 3
            assert actor.queue_depth == 7
        elapsed = trio.current_time() - start
    assert peak == 3
    assert elapsed == pytest.approx(4.0)
    assert actor.queue_depth == 0


async def test_priority_ordering(autojump_clock: MockClock) -> None:
    gate = trio.Event()

    async def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/block"):
            await gate.wait()
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up, max_concurrency=1)
    order: list[tuple[str, Priority]] = [
        ("low1", "low"),
        ("normal1", "normal"),
        ("high1", "high"),
        ("low2", "low"),
        ("high2", "high"),
        ("normal2", "normal"),
    ]
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(actor.request, "GET", "block")
        await trio.testing.wait_all_tasks_blocked()
        for path, priority in order:
            nursery.start_soon(partial(actor.request, "GET", path, priority=priority))
            await trio.testing.wait_all_tasks_blocked()
        assert actor.queue_depth == 6
        gate.set()
    assert [p.rsplit("/", 1)[1] for p in up.paths] == [
        "block",
        "high1",
        "high2",
        "normal1",
        "normal2",
        "low1",
        "low2",
    ]


async def test_inbox_is_bounded(autojump_clock: MockClock) -> None:
    gate = trio.Event()

    async def reply(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200)

    actor = make_actor(Upstream(reply), max_concurrency=1, max_waiting=2)
    done: list[str] = []

    async def call(path: str) -> None:
        await actor.request("GET", path)
        done.append(path)

    async with running(actor), trio.open_nursery() as nursery:
        for i in range(5):
            nursery.start_soon(call, f"p{i}")
            await trio.testing.wait_all_tasks_blocked()
        # One in flight, two waiting, two callers blocked on the full inbox.
        assert actor.in_flight == 1
        assert actor.queue_depth == 2
        gate.set()
    assert sorted(done) == [f"p{i}" for i in range(5)]


# -- coalescing --------------------------------------------------------------------------------


async def test_identical_concurrent_gets_share_one_call(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1)
        return httpx.Response(200, json={"q": request.url.params.get("q")})

    up = Upstream(reply)
    actor = make_actor(up)
    results: list[SourceResponse] = []

    async def get(params: dict[str, str | int | float]) -> None:
        results.append(await actor.request("GET", "search", params=params))

    async with running(actor):
        async with trio.open_nursery() as nursery:
            for _ in range(5):
                nursery.start_soon(partial(get, {"q": "acme", "n": 1}))
            # The same query with the keys in another order and a number as a string.
            nursery.start_soon(partial(get, {"n": "1", "q": "acme"}))
            nursery.start_soon(partial(get, {"q": "other"}))
        assert len(up.requests) == 2
        assert len([r for r in results if r.json() == {"q": "acme"}]) == 6
        # Once answered, the same GET goes upstream again: coalescing is not a cache.
        await actor.request("GET", "search", params={"q": "acme", "n": 1})
        assert len(up.requests) == 3


async def test_posts_and_different_headers_are_not_coalesced(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1)
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(lambda: actor.request("POST", "x", json={"a": 1}))
        nursery.start_soon(lambda: actor.request("POST", "x", json={"a": 1}))
        nursery.start_soon(lambda: actor.request("GET", "x", headers={"Accept": "a"}))
        nursery.start_soon(lambda: actor.request("GET", "x", headers={"Accept": "b"}))
        nursery.start_soon(lambda: actor.request("GET", "x", headers={"accept": "b"}))
    assert len(up.requests) == 4


async def test_coalesced_callers_share_the_error(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1)
        return httpx.Response(500)

    up = Upstream(reply)
    actor = make_actor(up, max_retries=0)
    errors: list[SourceError] = []

    async def get() -> None:
        try:
            await actor.request("GET", "x")
        except SourceError as exc:
            errors.append(exc)

    async with running(actor), trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(get)
    assert len(up.requests) == 1
    assert len(errors) == 3
    assert {(e.code, e.message, e.status_code) for e in errors} == {
        ("upstream_error", errors[0].message, 500)
    }


async def test_high_priority_caller_promotes_a_queued_coalesced_call(
    autojump_clock: MockClock,
) -> None:
    gate = trio.Event()

    async def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/block"):
            await gate.wait()
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up, max_concurrency=1)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(actor.request, "GET", "block")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(lambda: actor.request("GET", "shared", priority="low"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(lambda: actor.request("GET", "other", priority="normal"))
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(lambda: actor.request("GET", "shared", priority="high"))
        await trio.testing.wait_all_tasks_blocked()
        assert actor.queue_depth == 2
        gate.set()
    assert [p.rsplit("/", 1)[1] for p in up.paths] == ["block", "shared", "other"]


# -- cancellation ------------------------------------------------------------------------------


async def test_cancelled_caller_does_not_wedge_the_actor(autojump_clock: MockClock) -> None:
    upstream_cancelled = False

    async def reply(request: httpx.Request) -> httpx.Response:
        nonlocal upstream_cancelled
        if request.url.path.endswith("/hang"):
            try:
                await trio.sleep_forever()
            except trio.Cancelled:
                upstream_cancelled = True
                raise
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up, max_concurrency=1, timeout_seconds=1000)
    async with running(actor):
        with trio.move_on_after(1) as scope:
            await actor.request("GET", "hang")
        assert scope.cancelled_caught
        # The only worker was freed: the abandoned upstream call was cancelled.
        with trio.fail_after(1):
            response = await actor.request("GET", "next")
        assert response.status_code == 200
        assert upstream_cancelled
        assert actor.in_flight == 0


async def test_cancelled_queued_caller_is_dropped(autojump_clock: MockClock) -> None:
    gate = trio.Event()

    async def reply(request: httpx.Request) -> httpx.Response:
        await gate.wait()
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up, max_concurrency=1)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(actor.request, "GET", "first")
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            await actor.request("GET", "abandoned")
        assert actor.queue_depth == 0
        gate.set()
    await trio.testing.wait_all_tasks_blocked()
    assert up.paths == ["/v1/first"]


async def test_coalesced_call_survives_one_cancelled_caller(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(2)
        return httpx.Response(200, json=1)

    up = Upstream(reply)
    actor = make_actor(up)
    got: list[SourceResponse] = []

    async def patient() -> None:
        got.append(await actor.request("GET", "x"))

    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(patient)
        await trio.testing.wait_all_tasks_blocked()
        with trio.move_on_after(1):
            await actor.request("GET", "x")
    assert len(up.requests) == 1
    assert [r.json() for r in got] == [1]


async def test_stopping_fails_waiting_and_later_requests(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep_forever()
        raise AssertionError("unreachable")

    actor = make_actor(Upstream(reply), max_concurrency=1, timeout_seconds=1000)
    codes: list[str] = []

    async def call(path: str) -> None:
        try:
            await actor.request("GET", path)
        except SourceError as exc:
            codes.append(exc.code)

    async with trio.open_nursery() as outer:
        outer.start_soon(call, "in-flight")
        outer.start_soon(call, "queued")
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            await trio.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
    assert codes == ["source_stopped", "source_stopped"]
    with pytest.raises(SourceError) as info:
        await actor.request("GET", "late")
    assert info.value.code == "source_stopped"
    with pytest.raises(RuntimeError):
        await actor.run()


async def test_a_crashing_worker_raises_one_meaningful_error(autojump_clock: MockClock) -> None:
    class Broken(SourceActor):
        async def _worker(self) -> None:
            raise ValueError("a bug in the actor")

    actor = make_actor(Upstream())
    broken = Broken(actor.spec, actor.settings, transport=httpx.MockTransport(Upstream()))
    with pytest.RaisesGroup(pytest.RaisesExc(SourceActorCrashed, match="'demo' crashed")):
        async with trio.open_nursery() as nursery:
            await nursery.start(broken.run)


async def test_get_params_coalesce_by_their_encoding(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        await trio.sleep(1)
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up)
    async with running(actor), trio.open_nursery() as nursery:
        nursery.start_soon(partial(actor.request, "GET", "x", params={"flag": True}))
        nursery.start_soon(partial(actor.request, "GET", "x", params={"flag": "true"}))
        nursery.start_soon(partial(actor.request, "GET", "x", params={"flag": "True"}))
    assert sorted(r.url.query.decode() for r in up.requests) == ["flag=True", "flag=true"]


# -- safety ------------------------------------------------------------------------------------


async def test_key_never_in_messages_or_urls(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/down"):
            return httpx.Response(500)
        if request.url.path.endswith("/drop"):
            raise httpx.ReadError(f"connection reset while reading {request.url}")
        if request.url.path.endswith("/busy"):
            return httpx.Response(429)
        return httpx.Response(200)

    up = Upstream(reply)
    actor = make_actor(up, auth=("query", "apikey"), max_retries=0)
    async with running(actor):
        ok = await actor.request("GET", "fine")
        assert KEY not in ok.url
        assert "apikey=***" in ok.url
        for path in ("down", "drop", "busy"):
            with pytest.raises(SourceError) as info:
                await actor.request("GET", path)
            assert KEY not in str(info.value)
            assert KEY not in info.value.message
            assert "***" in info.value.message
            assert info.value.__cause__ is None


async def test_response_too_large(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/declared"):
            return httpx.Response(200, content=b"x" * (MAX_RESPONSE_BYTES + 1))
        return httpx.Response(200, content=b"x" * MAX_RESPONSE_BYTES)

    up = Upstream(reply)
    actor = make_actor(up)
    async with running(actor):
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "declared")
        assert info.value.code == "response_too_large"
        exactly = await actor.request("GET", "limit")
        assert len(exactly.content) == MAX_RESPONSE_BYTES
    assert len(up.requests) == 2  # an oversized body is not retried


# Stopping a body read early leaves httpx's nested stream generators to the garbage collector,
# which trio reports as a ResourceWarning: encode/httpx#3686, not something the actor can close.
@pytest.mark.filterwarnings("ignore:Async generator 'httpx\\.:ResourceWarning")
async def test_streamed_response_too_large(autojump_clock: MockClock) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(6):
            yield b"x" * (1024 * 1024)

    async def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=chunks())  # no Content-Length

    up = Upstream(reply)
    actor = make_actor(up)
    async with running(actor):
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "streamed")
    assert info.value.code == "response_too_large"
    assert len(up.requests) == 1


# -- the handle modules get --------------------------------------------------------------------


async def test_handle_is_a_source_at_its_priority(autojump_clock: MockClock) -> None:
    async def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=request.content, headers={"X-Method": request.method})

    up = Upstream(reply)
    actor = make_actor(up)
    source: Source = actor.handle("high")
    assert source.name == "demo"
    async with running(actor):
        got = await source.get("g", params={"a": 1}, headers={"X-Extra": "1"})
        posted = await source.post("p", json={"b": 2}, params={"c": "3"})
    assert got.headers["x-method"] == "GET"
    assert up.requests[0].url.params["a"] == "1"
    assert up.requests[0].headers["x-extra"] == "1"
    assert posted.headers["x-method"] == "POST"
    assert posted.json() == {"b": 2}
    assert up.requests[1].url.params["c"] == "3"


# -- circuit breaker ---------------------------------------------------------------------------


async def test_circuit_opens_fails_fast_then_probes_and_closes(
    autojump_clock: MockClock,
) -> None:
    healthy = False

    async def upstream(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if healthy else 503)

    up = Upstream(upstream)
    actor = make_actor(up, max_retries=0, circuit_failure_threshold=3, circuit_reset_seconds=10)
    async with running(actor):
        for _ in range(3):
            with pytest.raises(SourceError) as info:
                await actor.request("GET", "x")
            assert info.value.code == "upstream_error"
        # Open: no upstream call, an immediate circuit_open error.
        sent = len(up.requests)
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "x")
        assert info.value.code == "circuit_open"
        assert len(up.requests) == sent
        assert actor.circuit.state(trio.current_time()) == "open"
        # After the reset time one probe goes; it fails, so the circuit opens for twice as long.
        await trio.sleep(10)
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "x")
        assert info.value.code == "upstream_error"
        assert len(up.requests) == sent + 1
        await trio.sleep(10)
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "x")
        assert info.value.code == "circuit_open"
        await trio.sleep(10)
        healthy = True
        response = await actor.request("GET", "x")
        assert response.status_code == 200
        assert actor.circuit.state(trio.current_time()) == "closed"


async def test_half_open_lets_one_probe_through(autojump_clock: MockClock) -> None:
    gate = trio.Event()
    fail = True

    async def upstream(request: httpx.Request) -> httpx.Response:
        if fail:
            return httpx.Response(500)
        await gate.wait()
        return httpx.Response(200)

    up = Upstream(upstream)
    actor = make_actor(up, max_retries=0, circuit_failure_threshold=1, circuit_reset_seconds=5)
    async with running(actor):
        with pytest.raises(SourceError):
            await actor.request("GET", "x")
        await trio.sleep(5)
        fail = False
        codes: list[str] = []

        async def call(path: str) -> None:
            try:
                await actor.request("GET", path)
                codes.append("ok")
            except SourceError as exc:
                codes.append(exc.code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(call, "probe")
            await trio.sleep(0.1)
            nursery.start_soon(call, "other")
            await trio.sleep(0.1)
            assert codes == ["circuit_open"]
            gate.set()
        assert sorted(codes) == ["circuit_open", "ok"]


async def test_client_errors_and_429_do_not_open_the_circuit(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(404)))
    actor = make_actor(up, max_retries=0, circuit_failure_threshold=2)
    async with running(actor):
        for _ in range(5):
            assert (await actor.request("GET", "x")).status_code == 404
        assert actor.circuit.state(trio.current_time()) == "closed"


async def test_paced_429s_do_not_spend_the_retry_budget(autojump_clock: MockClock) -> None:
    throttle = httpx.Response(429, headers={"Retry-After": "1"})
    up = Upstream(replies(*([throttle] * 6), httpx.Response(200)))
    actor = make_actor(up, max_retries=1)
    async with running(actor):
        response = await actor.request("GET", "x")
    assert response.status_code == 200
    assert len(up.requests) == 7


async def test_endless_paced_429s_give_up_as_rate_limited(autojump_clock: MockClock) -> None:
    up = Upstream(replies(httpx.Response(429, headers={"Retry-After": "1"})))
    actor = make_actor(up, max_retries=1)
    async with running(actor):
        with pytest.raises(SourceError) as info:
            await actor.request("GET", "x")
    assert info.value.code == "rate_limited"
    assert len(up.requests) == 11
