"""The simulated upstream APIs (placeholder: the real implementation replaces this file)."""

from __future__ import annotations

import time
from collections.abc import Callable

from ._http import HttpRequest, HttpResponse, json_response

#: Upstream name -> first path segment in the sandbox's URL space.
PREFIXES = {
    "builtwith": "builtwith",
    "similarweb": "similarweb",
    "yahoo_finance": "yahoo",
    "websearch": "brave",
    "llm": "openai",
    "homepage": "homepage",
}


class Upstreams:
    """Every simulated upstream API, answering in its real wire format."""

    def __init__(self, *, now: Callable[[], float] = time.time) -> None:
        self._now = now

    def route(self, path: str) -> str | None:
        """The upstream (source name) a request path belongs to, or ``None``."""
        first = path.lstrip("/").split("/", 1)[0]
        for name, prefix in PREFIXES.items():
            if first == prefix:
                if name == "builtwith" and path.startswith("/builtwith/free1/"):
                    return "builtwith_free"
                return name
        return None

    def rotate_crumbs(self) -> None:
        """Invalidate every Yahoo crumb handed out so far (clients must fetch a new one)."""

    async def handle(self, upstream: str, request: HttpRequest, base_url: str) -> HttpResponse:
        """Answer ``request`` as ``upstream`` would; ``base_url`` is the sandbox's own URL."""
        return json_response({"error": f"{upstream} is not simulated yet"}, 501)
