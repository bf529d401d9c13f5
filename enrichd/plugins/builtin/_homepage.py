"""The domain's own homepage: a guarded fetch that refuses non-global addresses.

:func:`fetch_homepage` GETs ``url_template`` for a domain through the ``homepage`` source and
follows its redirects by hand (the source's client never follows them), so every hop goes through
the same rate limit and the same address check (:mod:`._ssrf`). The page it returns feeds
:func:`._html.extract_facts` (company facts) and :func:`._fingerprints.detect` (technologies).
"""

from __future__ import annotations

import codecs
import re
from typing import Final
from urllib.parse import urlsplit

import httpx
import msgspec

from ...config import ResolvedSource
from .._types import ModuleError, NoData, Source, SourceError, SourceResponse, SourceSpec
from ._ssrf import GuardedTransport

__all__ = [
    "MAX_REDIRECTS",
    "SOURCE",
    "HomepageOptions",
    "Page",
    "Redirect",
    "decode_html",
    "fetch_homepage",
    "homepage_url",
    "parse_set_cookie",
]

#: Redirects followed before giving up with ``too_many_redirects``.
MAX_REDIRECTS: Final = 5
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_GONE_STATUSES: Final = frozenset({404, 410})
_PLACEHOLDER: Final = "{domain}"
_REQUEST_HEADERS: Final = {
    "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    # Company facts are compared with English-language upstreams (BuiltWith, Yahoo).
    "Accept-Language": "en-US,en;q=0.8",
}


class HomepageOptions(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """The keys of ``[sources.homepage]`` beyond the common ones."""

    #: The URL fetched for a domain; ``{domain}`` is replaced by the domain.
    url_template: str = "https://{domain}/"
    #: Allow loopback, private and other non-public addresses (the sandbox, development only).
    allow_private_addresses: bool = False

    def __post_init__(self) -> None:
        check_url_template(self.url_template)


def check_url_template(template: str) -> None:
    """Raise ``ValueError`` unless ``template`` is an http(s) URL containing ``{domain}``."""
    if _PLACEHOLDER not in template:
        raise ValueError(
            f"url_template must contain {_PLACEHOLDER} (e.g. 'https://{{domain}}/'), "
            f"got {template!r}"
        )
    parts = urlsplit(template.replace(_PLACEHOLDER, "example.com"))
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"url_template must be an absolute http:// or https:// URL, got {template!r}"
        )


def homepage_url(template: str, domain: str) -> str:
    """``template`` with ``{domain}`` replaced by ``domain``."""
    return template.replace(_PLACEHOLDER, domain)


def _options(settings: ResolvedSource) -> HomepageOptions:
    options = settings.options
    return options if isinstance(options, HomepageOptions) else HomepageOptions()


def _wrap_transport(
    settings: ResolvedSource, inner: httpx.AsyncBaseTransport | None
) -> httpx.AsyncBaseTransport:
    return GuardedTransport(
        inner, allow_private=_options(settings).allow_private_addresses, source=settings.name
    )


SOURCE = SourceSpec(
    name="homepage",
    description="The domain's own homepage",
    # The actor needs a base URL, but fetch_homepage always sends absolute URLs built from
    # url_template; ".invalid" can never resolve (RFC 6761), so nothing leaks there by mistake.
    base_url="https://homepage.invalid",
    requires_api_key=False,
    rate_per_second=10.0,
    burst=10,
    # Homepages can take seconds (the timeout is 10 s): enough in flight to use the rate.
    max_concurrency=20,
    timeout_seconds=10.0,
    # A homepage that timed out twice is down; more retries would only delay the job.
    max_retries=1,
    homepage="",
    options_type=HomepageOptions,
    max_response_bytes=2 * 1024 * 1024,
    wrap_transport=_wrap_transport,
    # One client fetches every domain's homepage: keeping their cookies would only grow memory.
    keep_cookies=False,
)


class Redirect(msgspec.Struct, kw_only=True, frozen=True):
    """One redirect that was followed."""

    url: str
    status: int
    #: The absolute URL it pointed to.
    location: str


class Page(msgspec.Struct, kw_only=True, frozen=True):
    """A fetched homepage: the final answer after redirects."""

    #: The URL first requested (``url_template`` filled in).
    url: str
    #: The URL that answered with the page.
    final_url: str
    status: int
    #: The final response's headers, names in lower case (repeated headers joined by ", ").
    headers: dict[str, str]
    #: Cookie name -> value from the ``Set-Cookie`` headers of every hop (later hops win).
    cookies: dict[str, str]
    #: The body decoded as text: BOM, then the Content-Type charset, then a ``<meta charset>``,
    #: else UTF-8 with undecodable bytes replaced. Empty for non-text content types.
    html: str
    content_type: str | None
    redirects: list[Redirect]
    #: Whether the answer came from the enrichd sandbox rather than the real site.
    simulated: bool = False


async def fetch_homepage(source: Source, domain: str) -> Page:
    """Fetch ``domain``'s homepage through ``source`` (the ``homepage`` source handle).

    Builds the URL from the source's ``url_template``, GETs it with an absolute URL and follows
    up to :data:`MAX_REDIRECTS` redirects (301, 302, 303, 307, 308 with a ``Location``; relative
    locations are resolved; only http and https). Every hop goes through the source, so each is
    rate limited and checked against private addresses.

    Raises :class:`ModuleError` with code:

    - ``no_data`` (:class:`NoData`): the page answered 404 or 410, or the domain's host name does
      not exist in DNS;
    - ``too_many_redirects``: more than :data:`MAX_REDIRECTS` redirects, or a redirect loop;
    - ``upstream_error``: any other non-2xx final status, a redirect without a usable
      ``Location`` or to a non-HTTP URL;
    - and whatever the source raises (``SourceError``: ``address_refused``, ``timeout``,
      ``connection_error``, ``response_too_large``, ``upstream_error`` for 5xx...).
    """
    first = homepage_url(_options(source.settings).url_template, domain)
    url = first
    redirects: list[Redirect] = []
    visited = {url}
    cookies: dict[str, str] = {}
    # The source keeps no cookie jar (it serves every domain), so the cookies a hop sets are
    # sent back by hand within this one fetch, and only to the host that set them.
    jar: dict[str, dict[str, str]] = {}
    while True:
        host = urlsplit(url).hostname or ""
        response = await _get(source, url, first_hop=not redirects, cookies=jar.get(host, {}))
        hop_cookies = parse_set_cookie(response.headers.get("set-cookie", ""))
        cookies.update(hop_cookies)
        jar.setdefault(host, {}).update(hop_cookies)
        if response.status_code not in _REDIRECT_STATUSES:
            break
        target = _redirect_target(source, url, response)
        redirects.append(Redirect(url=url, status=response.status_code, location=target))
        if len(redirects) > MAX_REDIRECTS:
            raise ModuleError(
                "too_many_redirects",
                f"{first} redirected more than {MAX_REDIRECTS} times: {_chain(first, redirects)}",
                source=source.name,
            )
        # Revisiting a URL is a loop, unless the hop set a cookie that may change the answer
        # (the "set a cookie and come back" pattern); MAX_REDIRECTS still bounds that.
        if target in visited and not hop_cookies:
            raise ModuleError(
                "too_many_redirects",
                f"{first} redirects in a loop: {_chain(first, redirects)}",
                source=source.name,
            )
        visited.add(target)
        url = target
    _check_status(source, url, response)
    content_type = response.headers.get("content-type")
    return Page(
        url=first,
        final_url=url,
        status=response.status_code,
        headers=dict(response.headers),
        cookies=cookies,
        html=decode_html(response.content, content_type) if _is_text(content_type) else "",
        content_type=content_type,
        redirects=redirects,
        simulated=response.simulated,
    )


async def _get(
    source: Source, url: str, *, first_hop: bool, cookies: dict[str, str]
) -> SourceResponse:
    headers = dict(_REQUEST_HEADERS)
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        return await source.get(url, headers=headers)
    except SourceError as exc:
        if first_hop and exc.code == "host_not_found":
            raise NoData(f"{exc.message}: the domain has no website", source=source.name) from exc
        raise
    except httpx.InvalidURL as exc:
        # httpx prepares the next request of every redirect, even one it will not follow, and
        # fails on a Location such as "javascript:..." before the answer reaches us.
        raise ModuleError(
            "upstream_error",
            f"{url} redirected to a Location that is not a usable URL: {exc}",
            source=source.name,
        ) from exc


def _redirect_target(source: Source, url: str, response: SourceResponse) -> str:
    status = response.status_code
    location = response.headers.get("location", "").strip()
    if not location:
        raise ModuleError(
            "upstream_error",
            f"{url} answered {status} (a redirect) without a Location header",
            source=source.name,
        )
    try:
        target = httpx.URL(url).join(location).copy_with(fragment=None)
    except (httpx.InvalidURL, ValueError) as exc:
        raise ModuleError(
            "upstream_error",
            f"{url} redirected to an invalid URL {location!r}: {exc}",
            source=source.name,
        ) from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise ModuleError(
            "upstream_error",
            f"{url} redirected to {location!r}, which is not an http(s) URL",
            source=source.name,
        )
    if not _valid_host(target.raw_host.decode("ascii", errors="replace")):
        raise ModuleError(
            "upstream_error",
            f"{url} redirected to an invalid URL {location!r}: bad host name",
            source=source.name,
        )
    return str(target)


_HOST_NAME: Final = re.compile(r"^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*\.?$")


def _valid_host(host: str) -> bool:
    if ":" in host:  # an IPv6 literal, which httpx has already parsed
        return True
    return _HOST_NAME.match(host) is not None


def _chain(first: str, redirects: list[Redirect]) -> str:
    return " -> ".join([first, *(r.location for r in redirects)])


def _check_status(source: Source, url: str, response: SourceResponse) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in _GONE_STATUSES:
        raise NoData(f"{url} answered {status}: no homepage there", source=source.name)
    hint = " (the site may refuse automated clients)" if status in (401, 403) else ""
    raise ModuleError("upstream_error", f"{url} answered HTTP {status}{hint}", source=source.name)


def _is_text(content_type: str | None) -> bool:
    # A page without a Content-Type is sniffed as text; an image or a PDF is not a homepage.
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return not media or media.startswith("text/") or "html" in media or "xml" in media


# -- decoding -----------------------------------------------------------------------------------

_BOMS: Final = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CHARSET_PARAM: Final = re.compile(r"""charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE)
_META_CHARSET: Final = re.compile(
    rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([\w.:+-]+)""", re.IGNORECASE
)
# WHATWG Encoding: these labels all mean windows-1252 in a browser.
_WINDOWS_1252: Final = frozenset({"latin_1", "iso8859-1", "ascii"})
#: How far into the body a ``<meta charset>`` is looked for (the HTML spec's prescan reads 1024
#: bytes; real pages put comments and scripts first, so a little more).
_PRESCAN_BYTES: Final = 4096


def decode_html(content: bytes, content_type: str | None) -> str:
    """Decode an HTML body the way a browser would, in the order of the HTML spec.

    A byte-order mark wins, then the ``charset`` of ``content_type``, then a ``<meta charset>``
    or ``http-equiv`` declaration near the top; otherwise UTF-8. Undecodable bytes become
    U+FFFD, so this never raises.
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return content[len(bom) :].decode(encoding, errors="replace")
    header = _CHARSET_PARAM.search(content_type or "")
    meta = _META_CHARSET.search(content[:_PRESCAN_BYTES])
    labels = (
        header.group(1) if header else None,
        meta.group(1).decode("ascii", errors="replace") if meta else None,
    )
    for index, label in enumerate(labels):
        codec = _codec(label, from_meta=index == 1)
        if codec is None:
            continue
        try:
            return content.decode(codec, errors="replace")
        except LookupError:  # a bytes-to-bytes codec such as "base64"
            continue
    return content.decode("utf-8", errors="replace")


def _codec(label: str | None, *, from_meta: bool) -> str | None:
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    if name in _WINDOWS_1252:
        return "cp1252"
    if from_meta and name.startswith("utf-16"):
        # A meta tag readable as ASCII cannot be in UTF-16; the HTML spec says UTF-8 then.
        return "utf-8"
    return name


# -- cookies ------------------------------------------------------------------------------------

# httpx joins repeated Set-Cookie headers with ", ", and Expires dates contain commas too: a new
# cookie starts after a comma only where a "name=" follows.
_COOKIE_SPLIT: Final = re.compile(r",\s*(?=[^;,\s=]+=)")


def parse_set_cookie(value: str) -> dict[str, str]:
    """Cookie name -> value from a (possibly comma-joined) ``Set-Cookie`` header value."""
    cookies: dict[str, str] = {}
    if not value:
        return cookies
    for part in _COOKIE_SPLIT.split(value):
        pair = part.split(";", 1)[0]
        name, sep, cookie_value = pair.partition("=")
        name = name.strip()
        if sep and name:
            cookies[name] = cookie_value.strip().strip('"')
    return cookies
