"""A transport that refuses to connect anywhere but the public internet (an SSRF guard).

The homepage source fetches URLs that a client chose indirectly (the domain it sent) and that the
site itself chose (its redirects). Without a guard, ``evil.example`` could resolve to
``127.0.0.1`` or ``169.254.169.254`` and make the daemon read its own admin endpoints or the
cloud metadata service. :class:`GuardedTransport` resolves every request's host itself, refuses
the request unless *every* address is global, and then connects to the address it checked —
never resolving the name a second time, so a DNS answer that changes between the check and the
connection (DNS rebinding) cannot slip through. The ``Host`` header and the TLS server name stay
those of the original host name, so virtual hosting and certificate checks work as before.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Final

import httpx
import trio

from .._types import SourceError

__all__ = [
    "AddressRefused",
    "GuardedTransport",
    "HostNotFound",
    "Resolver",
    "non_global_reason",
    "system_resolver",
]

#: ``resolver(host, port)`` returns the host's addresses as strings, most preferred first.
Resolver = Callable[[str, int], Awaitable[list[str]]]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Connection attempts per request when an address refuses the connection (round-robin DNS).
_MAX_ADDRESSES: Final = 4

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# Checked in order, so the more specific entries come first. Anything not listed is global.
_IPV4_BLOCKED: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_V4("0.0.0.0/8"), "'this network' (0.0.0.0/8)"),
    (_V4("10.0.0.0/8"), "private (RFC 1918)"),
    (_V4("100.64.0.0/10"), "carrier-grade NAT (RFC 6598)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private (RFC 1918)"),
    (_V4("192.0.0.0/24"), "reserved for IETF protocol assignments"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("192.88.99.0/24"), "reserved (deprecated 6to4 relay anycast)"),
    (_V4("192.168.0.0/16"), "private (RFC 1918)"),
    (_V4("198.18.0.0/15"), "benchmarking (RFC 2544)"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved (240.0.0.0/4)"),
)

_MAPPED: Final = _V6("::ffff:0:0/96")
_NAT64: Final = _V6("64:ff9b::/96")
_SIXTOFOUR: Final = _V6("2002::/16")
_TEREDO: Final = _V6("2001::/32")
_GLOBAL_UNICAST: Final = _V6("2000::/3")

_IPV6_BLOCKED: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    # Local-use NAT64 prefixes may embed the IPv4 address at several bit positions (RFC 6052),
    # so no single check of "the" embedded address is sound: refused outright.
    (_V6("64:ff9b:1::/48"), "local-use NAT64 (RFC 8215)"),
    (_V6("100::/64"), "discard-only (RFC 6666)"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("2001::/23"), "reserved for IETF protocol assignments"),
    (_V6("3fff::/20"), "documentation (RFC 9637)"),
    (_V6("fc00::/7"), "unique local (private)"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)


def non_global_reason(address: str | IPAddress) -> str | None:
    """Why ``address`` is not on the public internet, or ``None`` when it is global.

    IPv6 forms that carry an IPv4 address (IPv4-mapped, NAT64 ``64:ff9b::/96``, 6to4, Teredo)
    are judged by the IPv4 address they carry. Raises ``ValueError`` for a non-address.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_reason(ip)
    return _ipv6_reason(ip)


def _ipv4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _IPV4_BLOCKED:
        if ip in network:
            return reason
    return None


def _embedded(kind: str, ipv4: ipaddress.IPv4Address) -> str | None:
    inner = _ipv4_reason(ipv4)
    return None if inner is None else f"{kind} form of {ipv4}, which is {inner}"


def _ipv6_reason(ip: ipaddress.IPv6Address) -> str | None:
    if ip.scope_id is not None:
        ip = ipaddress.IPv6Address(ip.packed)
    if ip in _MAPPED:
        return _embedded("IPv4-mapped", ipaddress.IPv4Address(ip.packed[-4:]))
    if ip in _NAT64:
        return _embedded("NAT64", ipaddress.IPv4Address(ip.packed[-4:]))
    if ip in _SIXTOFOUR:
        return _embedded("6to4", ipaddress.IPv4Address(ip.packed[2:6]))
    if ip in _TEREDO:
        server, client = ip.teredo or (None, None)
        for part in (server, client):
            if part is not None and (reason := _embedded("Teredo", part)) is not None:
                return reason
        return None
    for network, reason in _IPV6_BLOCKED:
        if ip in network:
            return reason
    if ip not in _GLOBAL_UNICAST:
        return "reserved (outside the global unicast range 2000::/3)"
    return None


class AddressRefused(SourceError):
    """A request's host resolves to an address that is not public; never retried.

    It is a :class:`SourceError` (code ``address_refused``) rather than an ``httpx`` transport
    error so that the source actor hands it to the module as it is instead of retrying it.
    """

    def __init__(self, source: str, host: str, address: str, reason: str) -> None:
        where = host if host == address else f"{host} ({address})"
        super().__init__(
            source,
            "address_refused",
            f"refusing to connect to {where}: the address is {reason}, not a public internet "
            f"address (set [sources.{source}] allow_private_addresses = true for a test or "
            "intranet setup)",
        )
        self.host = host
        self.address = address
        self.reason = reason


class HostNotFound(SourceError):
    """The host name does not exist in DNS (``host_not_found``); retrying will not help."""

    def __init__(self, source: str, host: str, detail: str) -> None:
        super().__init__(source, "host_not_found", f"cannot resolve {host}: {detail}")
        self.host = host


async def system_resolver(host: str, port: int) -> list[str]:
    """The addresses of ``host`` from the system resolver (``getaddrinfo``), in its order."""
    infos = await trio.socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            addresses.append(str(sockaddr[0]))
    return addresses


# getaddrinfo's "this name does not exist" answers; any other failure may be temporary.
_NO_SUCH_NAME: Final = frozenset(
    code for code in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", None)) if code is not None
)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Sends requests through ``inner`` only to public addresses, pinned to the checked one.

    For each request the host is resolved with ``resolver`` (IP literals are taken as they are);
    the request is refused with :class:`AddressRefused` unless every address is global. It is then
    sent to the first address (the next ones if a connection cannot be made), with the URL's host
    replaced by the address, the ``Host`` header and TLS server name (``sni_hostname``) kept as
    the original host, and ``Connection: close`` so a connection opened for one host name is
    never reused for another that happens to share the address. ``allow_private=True`` turns
    every check off (for the sandbox and development). Redirects are followed by the caller
    through this transport, so every hop is checked.
    """

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport | None = None,
        *,
        allow_private: bool = False,
        resolver: Resolver | None = None,
        source: str = "homepage",
    ) -> None:
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self.allow_private = allow_private
        self.resolver: Resolver = resolver if resolver is not None else system_resolver
        self.source = source

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Check the request's host, then send it to a checked address."""
        if self.allow_private:
            return await self.inner.handle_async_request(request)
        host = request.url.raw_host.decode("ascii")
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        addresses = await self._checked_addresses(host, port, request)
        error: httpx.ConnectError | None = None
        for address in addresses[:_MAX_ADDRESSES]:
            try:
                return await self.inner.handle_async_request(_pinned(request, host, address))
            except httpx.ConnectError as exc:
                # Nothing was sent yet, so trying the host's next address is safe.
                error = exc
        assert error is not None
        raise error

    async def _checked_addresses(self, host: str, port: int, request: httpx.Request) -> list[str]:
        try:
            literal: IPAddress | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        raw = [host] if literal is not None else await self._resolve(host, port, request)
        addresses: list[str] = []
        for text in dict.fromkeys(raw):
            ip = ipaddress.ip_address(text)
            reason = non_global_reason(ip)
            if reason is not None:
                raise AddressRefused(self.source, host, text, reason)
            if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
                text = str(ip.ipv4_mapped)
            addresses.append(text)
        if not addresses:
            raise httpx.ConnectError(f"{host} has no addresses", request=request)
        return addresses

    async def _resolve(self, host: str, port: int, request: httpx.Request) -> list[str]:
        try:
            return await self.resolver(host, port)
        except socket.gaierror as exc:
            if exc.errno in _NO_SUCH_NAME:
                raise HostNotFound(self.source, host, exc.strerror or str(exc)) from exc
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc
        except OSError as exc:
            raise httpx.ConnectError(f"cannot resolve {host}: {exc}", request=request) from exc

    async def aclose(self) -> None:
        """Close the inner transport."""
        await self.inner.aclose()

    async def __aenter__(self) -> GuardedTransport:
        await self.inner.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        await self.inner.__aexit__(exc_type, exc_value, traceback)


def _pinned(request: httpx.Request, host: str, address: str) -> httpx.Request:
    """A copy of ``request`` addressed to ``address``, still naming ``host`` to the server."""
    headers = request.headers.copy()  # already holds Host: <original host[:port]>
    headers["Connection"] = "close"
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = host
    return httpx.Request(
        request.method,
        request.url.copy_with(host=address),
        headers=headers,
        stream=request.stream,
        extensions=extensions,
    )
