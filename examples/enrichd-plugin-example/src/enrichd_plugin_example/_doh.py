"""DNS over HTTPS, JSON flavour: the sources and their client.

Google Public DNS (``GET https://dns.google/resolve?name=acme.com&type=MX``) and Cloudflare
(``GET https://cloudflare-dns.com/dns-query?...`` with ``Accept: application/dns-json``) answer
the same JSON document::

    {"Status": 0, "Answer": [{"name": "acme.com.", "type": 15, "TTL": 300,
                              "data": "10 aspmx.l.google.com."}]}

``Status`` is the DNS response code: 0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN. Neither needs a key.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

import msgspec
from enrichd.plugins import Citation, ModuleError, NoData, Source, SourceSpec

#: The primary source and its fallback (``[sources.example_doh]``, ``[sources.example_doh_cf]``).
GOOGLE = "example_doh"
CLOUDFLARE = "example_doh_cf"

#: DNS record types by name, as the JSON API numbers them.
RRTYPES = {"MX": 15, "TXT": 16}

_NOERROR, _NXDOMAIN = 0, 3
#: A TXT record's character-strings, as a resolver that keeps the quotes writes them.
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')


class DohOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The source's own keys in ``[sources.example_doh]`` (besides the common ones)."""

    #: The JSON resolver's path under ``base_url``.
    path: str = "resolve"
    #: A public web page showing the same answer, cited for the data: ``{name}`` and ``{type}``
    #: are filled in. Empty: the API URL that was queried is cited.
    lookup_page: str = "https://dns.google/query?name={name}&rr_type={type}"


class CloudflareOptions(DohOptions, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The own keys of ``[sources.example_doh_cf]``: Cloudflare's path, no lookup page."""

    path: str = "dns-query"
    lookup_page: str = ""


SOURCES = [
    SourceSpec(
        name=GOOGLE,
        description="Google Public DNS, JSON API (MX and TXT records)",
        base_url="https://dns.google",
        requires_api_key=False,
        fallback=CLOUDFLARE,
        # No published limit: stay polite, a resolver is shared infrastructure.
        rate_per_second=10.0,
        burst=10,
        max_concurrency=4,
        timeout_seconds=10.0,
        max_retries=2,
        homepage="https://developers.google.com/speed/public-dns/docs/doh/json",
        options_type=DohOptions,
        # DNS answers are small; a large body is not a resolver talking.
        max_response_bytes=256 * 1024,
        keep_cookies=False,
    ),
    SourceSpec(
        name=CLOUDFLARE,
        description="Cloudflare 1.1.1.1, DNS over HTTPS JSON API (fallback of example_doh)",
        base_url="https://cloudflare-dns.com",
        requires_api_key=False,
        rate_per_second=10.0,
        burst=10,
        max_concurrency=4,
        timeout_seconds=10.0,
        max_retries=2,
        homepage="https://developers.cloudflare.com/1.1.1.1/encryption/dns-over-https/",
        options_type=CloudflareOptions,
        max_response_bytes=256 * 1024,
        keep_cookies=False,
    ),
]


class Records(msgspec.Struct, kw_only=True, frozen=True):
    """The records of one type for one name, and where a reader can check them."""

    rrtype: str
    data: list[str]
    citation: Citation


def _options(source: Source) -> DohOptions:
    options = source.settings.options
    return options if isinstance(options, DohOptions) else DohOptions()


def _citation(source: Source, name: str, rrtype: str, api_url: str) -> Citation:
    page = _options(source).lookup_page
    url = page.format(name=urllib.parse.quote(name), type=rrtype) if page else api_url
    return Citation(url=url, title=f"DNS {rrtype} records of {name}")


def txt_string(data: str) -> str:
    """A TXT record's text: Google gives it bare, Cloudflare quoted and maybe split in parts."""
    parts = _QUOTED.findall(data)
    if not parts:
        return data
    return "".join(re.sub(r"\\(.)", r"\1", part) for part in parts)


async def lookup(source: Source, name: str, rrtype: str) -> Records:
    """The ``rrtype`` records of ``name`` through ``source``.

    Raises ``NoData`` when the name does not exist (NXDOMAIN), ``ModuleError`` with
    ``upstream_error`` when the resolver refuses or fails the query, ``malformed_response``
    when the answer is not the JSON API's document.
    """
    response = await source.get(
        _options(source).path,
        params={"name": name, "type": rrtype},
        headers={"Accept": "application/dns-json"},
    )
    if response.status_code != 200:
        # The source actor already retried 429s and 5xx; any other status is final.
        raise ModuleError(
            "upstream_error",
            f"the resolver answered HTTP {response.status_code} for {name} {rrtype}",
            source=source.name,
        )
    body: Any = response.json()
    if not isinstance(body, dict) or not isinstance(body.get("Status"), int):
        raise ModuleError(
            "malformed_response",
            f"the answer for {name} {rrtype} is not a DNS JSON document",
            source=source.name,
        )
    status = body["Status"]
    if status == _NXDOMAIN:
        raise NoData(f"{name} does not exist in DNS (NXDOMAIN)", source=source.name)
    if status != _NOERROR:
        raise ModuleError(
            "upstream_error",
            f"DNS response code {status} for {name} {rrtype}",
            source=source.name,
        )
    answers = body.get("Answer") or []
    if not isinstance(answers, list):
        raise ModuleError(
            "malformed_response", "the answer's Answer is not a list", source=source.name
        )
    # An answer may start with the CNAME chain that led to the records asked for.
    data = [
        str(a["data"])
        for a in answers
        if isinstance(a, dict) and a.get("type") == RRTYPES[rrtype] and "data" in a
    ]
    return Records(rrtype=rrtype, data=data, citation=_citation(source, name, rrtype, response.url))
