"""Fixtures of the example's tests: enrichd's testing kit, and canned DNS-over-HTTPS answers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    # Not imported at run time: pytest must import enrichd.testing itself, as a plugin.
    from enrichd.testing import CannedServer

# The kit's fixtures: enrichd_daemon, enrichd_config, enrichd_client, enrichd_sandbox,
# canned_upstream. Declared here, in the tests' top-level conftest, as pytest requires.
pytest_plugins = ["enrichd.testing"]


class Resolver:
    """Queues DNS JSON API answers on a canned upstream, as Google or Cloudflare write them."""

    def __init__(self, server: CannedServer, path: str = "/resolve") -> None:
        self.server = server
        self.path = path

    @property
    def url(self) -> str:
        """The base URL to configure as the source's ``base_url``."""
        return self.server.url

    def answer(self, name: str, rrtype: str, *data: str, status: int = 0) -> None:
        """Answer ``name rrtype`` with records ``data`` (DNS response code ``status``)."""
        number = {"MX": 15, "TXT": 16}[rrtype]
        body: dict[str, Any] = {
            "Status": status,
            "TC": False,
            "RD": True,
            "RA": True,
            "AD": False,
            "CD": False,
            "Question": [{"name": f"{name}.", "type": number}],
        }
        if data:
            body["Answer"] = [
                {"name": f"{name}.", "type": number, "TTL": 300, "data": d} for d in data
            ]
        self.server.json("GET", self.path, body, query={"name": name, "type": rrtype})

    def queries(self) -> list[tuple[str, str]]:
        """The ``(name, type)`` of every query received, in order."""
        return [(r.query["name"], r.query["type"]) for r in self.server.calls(self.path)]


@pytest.fixture
def google(canned_upstream: CannedServer) -> Resolver:
    """Google Public DNS, simulated: ``GET /resolve?name=...&type=...``."""
    return Resolver(canned_upstream, "/resolve")


@pytest.fixture
def cloudflare(canned_upstream: CannedServer) -> Resolver:
    """Cloudflare's resolver, simulated on the same server: ``GET /dns-query?...``."""
    return Resolver(canned_upstream, "/dns-query")


@pytest.fixture
def sources(google: Resolver) -> dict[str, dict[str, Any]]:
    """``[sources.*]`` tables pointing both DNS sources at the canned upstream."""
    return {
        "example_doh": {"base_url": google.url, "max_retries": 0},
        "example_doh_cf": {"base_url": google.url, "max_retries": 0},
    }
