"""The SSRF guard: address classification, pinning to the checked address, redirect hops.

No real DNS: every resolver here is a stub. The transport under the guard is an
``httpx.MockTransport`` that records the request the guard hands on (after the rewrite).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
import pytest
import trio

from enrichd.config import ResolvedSource
from enrichd.daemon._sources import SourceActor
from enrichd.plugins import ModuleError, NoData, SourceError
from enrichd.plugins.builtin import _homepage
from enrichd.plugins.builtin._homepage import HomepageOptions, fetch_homepage
from enrichd.plugins.builtin._ssrf import (
    AddressRefused,
    GuardedTransport,
    HostNotFound,
    non_global_reason,
    system_resolver,
)

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c8:1946"

# -- classification ------------------------------------------------------------------------------

REFUSED = [
    ("0.0.0.0", "this network"),
    ("0.1.2.3", "this network"),
    ("10.0.0.5", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.1.1", "private"),
    ("100.64.0.1", "carrier-grade NAT"),
    ("100.127.255.254", "carrier-grade NAT"),
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("169.254.169.254", "link-local"),
    ("192.0.0.8", "IETF"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("198.18.0.1", "benchmarking"),
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("::", "unspecified"),
    ("::1", "loopback"),
    ("fc00::1", "unique local"),
    ("fd12:3456::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("ff02::1", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("fec0::1", "site-local"),
    ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, which is loopback"),
    ("::ffff:10.1.2.3", "IPv4-mapped form of 10.1.2.3, which is private"),
    ("::ffff:169.254.169.254", "link-local"),
    ("64:ff9b::7f00:1", "NAT64 form of 127.0.0.1"),
    ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
    ("64:ff9b:1::5db8:d822", "local-use NAT64"),
    ("2002:7f00:1::1", "6to4 form of 127.0.0.1"),
    ("2002:c0a8:101::1", "6to4 form of 192.168.1.1"),
    # Teredo: server 65.54.227.120 (global), client 192.0.2.45 (documentation).
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo form of 192.0.2.45"),
    ("2001:2::1", "IETF"),
    ("::7f00:1", "IPv4-compatible"),
    ("4000::1", "outside the global unicast range"),
]


@pytest.mark.parametrize(("address", "reason"), REFUSED)
def test_non_global_addresses_are_refused(address: str, reason: str) -> None:
    found = non_global_reason(address)
    assert found is not None
    assert reason in found


GLOBAL = [
    PUBLIC_V4,
    "8.8.8.8",
    "1.1.1.1",
    "100.63.255.255",  # just below the CGNAT block
    "100.128.0.0",  # just above it
    "172.32.0.1",  # just above 172.16/12
    "223.255.255.254",  # just below multicast
    PUBLIC_V6,
    "2a00:1450:4001:82b::200e",
    "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822",  # NAT64 of 93.184.216.34 (DNS64 networks)
    "2002:5db8:d822::1",  # 6to4 of 93.184.216.34
    # Teredo with server 65.54.227.120 and client 93.184.216.34 (obfuscated: a247:27dd).
    "2001:0:4136:e378:8000:63bf:a247:27dd",
]


@pytest.mark.parametrize("address", GLOBAL)
def test_global_addresses_are_allowed(address: str) -> None:
    assert non_global_reason(address) is None


def test_teredo_example_decodes_as_expected() -> None:
    # Guards the constructed Teredo address above against a typo.
    teredo = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:a247:27dd").teredo
    assert teredo == (ipaddress.IPv4Address("65.54.227.120"), ipaddress.IPv4Address(PUBLIC_V4))


# -- the transport -------------------------------------------------------------------------------


class StubResolver:
    """Answers from a table; records every lookup. Unknown names raise EAI_NONAME."""

    def __init__(self, table: Mapping[str, list[str] | BaseException]) -> None:
        self.table = dict(table)
        self.calls: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        await trio.lowlevel.checkpoint()
        answer = self.table.get(host)
        if answer is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if isinstance(answer, BaseException):
            raise answer
        return list(answer)


class Recorder:
    """A MockTransport handler that records the (rewritten) requests it receives."""

    def __init__(self, reply: Callable[[httpx.Request], httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self._reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self._reply is not None:
            return self._reply(request)
        return httpx.Response(200, html="<title>ok</title>")


def guarded(
    table: Mapping[str, list[str] | BaseException],
    recorder: Recorder | None = None,
    *,
    allow_private: bool = False,
) -> tuple[GuardedTransport, StubResolver, Recorder]:
    resolver = StubResolver(table)
    recorder = recorder if recorder is not None else Recorder()
    transport = GuardedTransport(
        httpx.MockTransport(recorder), allow_private=allow_private, resolver=resolver
    )
    return transport, resolver, recorder


async def test_request_is_pinned_to_the_checked_address() -> None:
    transport, resolver, recorder = guarded({"shop.example": [PUBLIC_V4]})
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("https://shop.example/path?q=1")
    assert response.status_code == 200
    assert resolver.calls == [("shop.example", 443)]
    [sent] = recorder.requests
    assert sent.url == httpx.URL(f"https://{PUBLIC_V4}/path?q=1")
    assert sent.headers["host"] == "shop.example"
    assert sent.extensions["sni_hostname"] == "shop.example"
    assert sent.headers["connection"] == "close"
    # The caller still sees the URL it asked for (cookies and redirects resolve against it).
    assert response.url == httpx.URL("https://shop.example/path?q=1")


async def test_plain_http_keeps_port_and_sets_no_sni() -> None:
    transport, resolver, recorder = guarded({"shop.example": [PUBLIC_V6]})
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("http://shop.example:8080/")
    assert resolver.calls == [("shop.example", 8080)]
    [sent] = recorder.requests
    assert str(sent.url) == f"http://[{PUBLIC_V6}]:8080/"
    assert sent.headers["host"] == "shop.example:8080"
    assert "sni_hostname" not in sent.extensions


async def test_international_names_are_resolved_and_sent_as_punycode() -> None:
    transport, resolver, recorder = guarded({"xn--bcher-kva.example": [PUBLIC_V4]})
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("https://bücher.example/")
    assert resolver.calls == [("xn--bcher-kva.example", 443)]
    assert recorder.requests[0].extensions["sni_hostname"] == "xn--bcher-kva.example"


async def test_one_private_address_among_global_ones_is_refused() -> None:
    transport, _, recorder = guarded({"mixed.example": [PUBLIC_V4, "8.8.8.8", "10.0.0.7"]})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused) as info:
            await client.get("https://mixed.example/")
    assert recorder.requests == []
    error = info.value
    assert error.code == "address_refused"
    assert error.source == "homepage"
    assert error.address == "10.0.0.7"
    assert "mixed.example (10.0.0.7)" in error.message
    assert "private" in error.message
    assert "allow_private_addresses" in error.message


@pytest.mark.parametrize("address", [a for a, _ in REFUSED if "%" not in a])
async def test_every_non_global_range_is_refused_by_the_transport(address: str) -> None:
    transport, _, recorder = guarded({"evil.example": [address]})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused):
            await client.get("http://evil.example/")
    assert recorder.requests == []


@pytest.mark.parametrize("url", ["http://127.0.0.1/", "http://[::1]/", "http://169.254.169.254/"])
async def test_ip_literals_are_checked_without_a_lookup(url: str) -> None:
    transport, resolver, recorder = guarded({})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(AddressRefused):
            await client.get(url)
    assert resolver.calls == []
    assert recorder.requests == []


async def test_public_ip_literal_is_allowed() -> None:
    transport, resolver, recorder = guarded({})
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get(f"http://{PUBLIC_V4}/")
    assert resolver.calls == []
    assert recorder.requests[0].url.host == PUBLIC_V4


async def test_ipv4_mapped_answer_connects_to_the_ipv4_address() -> None:
    transport, _, recorder = guarded({"mapped.example": [f"::ffff:{PUBLIC_V4}"]})
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("http://mapped.example/")
    assert recorder.requests[0].url.host == PUBLIC_V4


async def test_allow_private_passes_everything_through_unchanged() -> None:
    transport, resolver, recorder = guarded({}, allow_private=True)
    async with httpx.AsyncClient(transport=transport) as client:
        await client.get("http://localhost:8900/homepage/acme.example/")
    assert resolver.calls == []
    [sent] = recorder.requests
    assert str(sent.url) == "http://localhost:8900/homepage/acme.example/"
    assert sent.headers["connection"] == "keep-alive"  # httpx's default, untouched


async def test_next_address_is_tried_when_a_connection_fails() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.host == PUBLIC_V4:
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(200)

    recorder = Recorder(reply)
    transport, _, _ = guarded({"multi.example": [PUBLIC_V4, "8.8.8.8"]}, recorder)
    async with httpx.AsyncClient(transport=transport) as client:
        response = await client.get("http://multi.example/")
    assert response.status_code == 200
    assert [r.url.host for r in recorder.requests] == [PUBLIC_V4, "8.8.8.8"]


async def test_connect_error_on_every_address_is_raised() -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    transport, _, recorder = guarded({"down.example": [PUBLIC_V4, "8.8.8.8"]}, Recorder(reply))
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get("http://down.example/")
    assert len(recorder.requests) == 2


async def test_unknown_host_is_host_not_found() -> None:
    transport, _, _ = guarded({})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(HostNotFound) as info:
            await client.get("http://nowhere.example/")
    assert info.value.code == "host_not_found"
    assert "nowhere.example" in info.value.message


@pytest.mark.parametrize(
    "failure",
    [socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"), OSError("boom")],
)
async def test_temporary_resolution_failure_is_a_connect_error(failure: BaseException) -> None:
    transport, _, _ = guarded({"flaky.example": failure})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match=r"cannot resolve flaky\.example"):
            await client.get("http://flaky.example/")


async def test_no_addresses_is_a_connect_error() -> None:
    transport, _, _ = guarded({"empty.example": []})
    async with httpx.AsyncClient(transport=transport) as client:
        with pytest.raises(httpx.ConnectError, match="no addresses"):
            await client.get("http://empty.example/")


async def test_closing_the_guard_closes_the_inner_transport() -> None:
    closed: list[bool] = []

    class Inner(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(204)

        async def aclose(self) -> None:
            closed.append(True)

    async with httpx.AsyncClient(transport=GuardedTransport(Inner())) as client:
        assert isinstance(client, httpx.AsyncClient)
    assert closed == [True]


async def test_system_resolver_answers_ip_literals_without_dns() -> None:
    assert await system_resolver("127.0.0.1", 80) == ["127.0.0.1"]


def test_default_inner_transport_is_httpx() -> None:
    guard = GuardedTransport()
    assert isinstance(guard.inner, httpx.AsyncHTTPTransport)
    assert guard.allow_private is False


# -- through the source actor and fetch_homepage ---------------------------------------------------


@asynccontextmanager
async def homepage_actor(
    table: Mapping[str, list[str] | BaseException],
    reply: Callable[[httpx.Request], httpx.Response],
) -> AsyncIterator[tuple[SourceActor, StubResolver, Recorder]]:
    """The real homepage source spec, with a stub resolver and a mock upstream under the guard."""
    resolver = StubResolver(table)
    recorder = Recorder(reply)

    def wrap(settings: ResolvedSource, inner: Any) -> httpx.AsyncBaseTransport:
        return GuardedTransport(inner, allow_private=False, resolver=resolver, source=settings.name)

    spec = msgspec.structs.replace(_homepage.SOURCE, wrap_transport=wrap)
    settings = ResolvedSource(
        name="homepage",
        base_url=spec.base_url,
        api_key=None,
        rate_per_second=1000.0,
        burst=1000,
        daily_quota=None,
        max_concurrency=2,
        timeout_seconds=spec.timeout_seconds,
        max_retries=spec.max_retries,
        enabled=True,
        options=HomepageOptions(url_template="http://{domain}/"),
    )
    actor = SourceActor(spec, settings, transport=httpx.MockTransport(recorder))
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        yield actor, resolver, recorder
        nursery.cancel_scope.cancel()


async def test_fetch_homepage_through_the_guard(autojump: Any) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<title>Public</title>")

    async with homepage_actor({"public.example": [PUBLIC_V4]}, reply) as (actor, _, recorder):
        page = await fetch_homepage(actor.handle(), "public.example")
    assert page.final_url == "http://public.example/"
    assert page.html == "<title>Public</title>"
    [sent] = recorder.requests
    assert sent.url.host == PUBLIC_V4
    assert sent.headers["host"] == "public.example"
    assert sent.headers["user-agent"].startswith("enrichd/")


async def test_redirect_to_a_private_address_is_refused_at_the_hop(autojump: Any) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": "http://internal.example/admin"})

    table = {"public.example": [PUBLIC_V4], "internal.example": ["10.0.0.5"]}
    async with homepage_actor(table, reply) as (actor, resolver, recorder):
        with pytest.raises(SourceError) as info:
            await fetch_homepage(actor.handle(), "public.example")
    assert info.value.code == "address_refused"
    assert "internal.example (10.0.0.5)" in info.value.message
    # The public hop was sent; the private one never left the guard, and was not retried.
    assert [r.headers["host"] for r in recorder.requests] == ["public.example"]
    assert [host for host, _ in resolver.calls] == ["public.example", "internal.example"]


async def test_homepage_of_a_domain_resolving_privately_is_refused(autojump: Any) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    async with homepage_actor({"rebind.example": ["127.0.0.1"]}, reply) as (actor, _, _):
        with pytest.raises(SourceError) as info:
            await fetch_homepage(actor.handle(), "rebind.example")
    assert info.value.code == "address_refused"


async def test_homepage_of_an_unknown_domain_is_no_data(autojump: Any) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        raise AssertionError("nothing may be sent")

    async with homepage_actor({}, reply) as (actor, resolver, _):
        with pytest.raises(ModuleError) as info:
            await fetch_homepage(actor.handle(), "gone.example")
    assert isinstance(info.value, NoData)
    assert info.value.code == "no_data"
    assert "gone.example" in info.value.message
    assert len(resolver.calls) == 1  # not retried
