"""The simulated upstream APIs, each under its own path prefix, in their real wire formats.

Data is deterministic per domain (SHA-256 of the domain's company label, see ``_profile.py``);
the clock given as ``now`` only decides what "today" is (last detections, news ages, charts).
The server around this (rate limits, faults, latency, stats) is ``_server.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import msgspec

from . import _brave, _builtwith, _homepage, _openai, _similarweb
from ._http import HttpRequest, HttpResponse, json_response
from ._yahoo import Yahoo

#: Upstream name -> first path segment in the sandbox's URL space.
PREFIXES = {
    "builtwith": "builtwith",
    "similarweb": "similarweb",
    "yahoo_finance": "yahoo",
    "websearch": "brave",
    "llm": "openai",
    "homepage": "homepage",
}
_BY_PREFIX = {prefix: name for name, prefix in PREFIXES.items()}
_SIMULATED = ("X-Enrichd-Simulated", "sandbox")


class Upstreams:
    """Every simulated upstream API, answering in its real wire format."""

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._yahoo = Yahoo()

    def route(self, path: str) -> str | None:
        """The upstream (source name) a request path belongs to, or ``None``."""
        first = path.lstrip("/").split("/", 1)[0]
        name = _BY_PREFIX.get(first)
        if name == "builtwith" and path.startswith("/builtwith/free1/"):
            return "builtwith_free"
        return name

    def rotate_crumbs(self) -> None:
        """Invalidate every Yahoo crumb handed out so far (clients must fetch a new one)."""
        self._yahoo.rotate()

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse:
        """Answer ``request`` as ``upstream`` would; ``base_url`` is the sandbox's own URL."""
        response = self._answer(upstream, request, base_url, self._now())
        return msgspec.structs.replace(response, headers=[*response.headers, _SIMULATED])

    def _answer(
        self, upstream: str, request: HttpRequest, base_url: str, now: float
    ) -> HttpResponse:
        if upstream in ("builtwith", "builtwith_free"):
            return _builtwith.handle(request, now)
        if upstream == "similarweb":
            return _similarweb.handle(request, now)
        if upstream == "yahoo_finance":
            return self._yahoo.handle(request, now)
        if upstream == "websearch":
            return _brave.handle(request, now)
        if upstream == "llm":
            return _openai.handle(request, now)
        if upstream == "homepage":
            return _homepage.handle(request.path, base_url, now)
        return json_response({"error": f"unknown upstream {upstream!r}"}, 404)
