"""The homepage source: options, the hand-made redirect loop, status handling and decoding.

The source is resolved from a ``[sources.homepage]`` table exactly as the engine does and runs as
a real source actor against the canned loopback server (hence ``allow_private_addresses``), so
the size cap, retries and the User-Agent are the production ones.
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio

from enrichd.config import Config, ConfigError
from enrichd.daemon._engine import resolve_sources
from enrichd.daemon._sources import SourceActor, SourceHandle
from enrichd.plugins import ModuleError, NoData, SourceError, load_plugins
from enrichd.plugins.builtin._homepage import (
    MAX_REDIRECTS,
    SOURCE,
    HomepageOptions,
    Page,
    decode_html,
    fetch_homepage,
    homepage_url,
    parse_set_cookie,
)
from enrichd.plugins.builtin._ssrf import GuardedTransport
from enrichd.sandbox import HttpResponse, Reset
from tests.canned import CannedServer
from tests.conftest import BUILTIN

DOMAIN = "acme.example"
HOME = f"/homepage/{DOMAIN}/"
HTML = "<!doctype html><title>Acme</title>"


def html(body: str | bytes = HTML, status: int = 200, *headers: tuple[str, str]) -> HttpResponse:
    data = body.encode() if isinstance(body, str) else body
    return HttpResponse(status=status, headers=[("content-type", "text/html"), *headers], body=data)


def redirect(location: str, status: int = 302, *headers: tuple[str, str]) -> HttpResponse:
    return HttpResponse(status=status, headers=[("location", location), *headers])


def homepage_config(base_url: str, **table: Any) -> Config:
    options = {
        "url_template": f"{base_url}/homepage/{{domain}}/",
        "allow_private_addresses": True,
        **table,
    }
    return msgspec.convert({"sources": {"homepage": options}}, Config)


@asynccontextmanager
async def homepage(canned: CannedServer, **table: Any) -> AsyncIterator[SourceHandle]:
    """A running ``homepage`` actor, resolved from config, pointing at the canned server."""
    config = homepage_config(canned.url, **table)
    spec, settings = resolve_sources(load_plugins(), config)["homepage"]
    actor = SourceActor(spec, settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        yield actor.handle()
        nursery.cancel_scope.cancel()


# -- the spec and its options --------------------------------------------------------------------


def test_source_spec() -> None:
    assert SOURCE.name == "homepage"
    assert SOURCE.requires_api_key is False
    assert SOURCE.base_url  # the actor refuses a source without one
    assert SOURCE.timeout_seconds == 10.0
    assert SOURCE.max_response_bytes == 2 * 1024 * 1024
    assert SOURCE.options_type is HomepageOptions
    assert SOURCE.wrap_transport is not None


def test_default_options() -> None:
    options = msgspec.convert({}, HomepageOptions)
    assert options.url_template == "https://{domain}/"
    assert options.allow_private_addresses is False
    assert homepage_url(options.url_template, "acme.example") == "https://acme.example/"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"url_template": "https://example.com/"}, "must contain {domain}"),
        ({"url_template": "ftp://{domain}/"}, "http:// or https://"),
        ({"url_template": "{domain}/index.html"}, "http:// or https://"),
        ({"url_template": "https:///{domain}"}, "http:// or https://"),
        ({"allow_private_addresses": "yes"}, "Expected `bool`"),
        ({"url_templat": "https://{domain}/"}, "unknown field `url_templat`"),
    ],
)
def test_bad_options_name_the_key(table: dict[str, Any], message: str) -> None:
    config = msgspec.convert({"sources": {"homepage": table}}, Config)
    with pytest.raises(ConfigError) as info:
        resolve_sources(load_plugins(), config)
    assert str(info.value).startswith("sources.homepage: ")
    assert message in str(info.value)


def test_options_reach_the_guarded_transport() -> None:
    for allow in (True, False):
        config = homepage_config("http://127.0.0.1:9", allow_private_addresses=allow)
        spec, settings = resolve_sources(load_plugins(), config)["homepage"]
        assert isinstance(settings.options, HomepageOptions)
        actor = SourceActor(spec, settings)
        transport = actor._transport
        assert isinstance(transport, GuardedTransport)
        assert transport.allow_private is allow


# -- fetching ------------------------------------------------------------------------------------


async def test_fetches_the_page(autojump: Any, canned: CannedServer) -> None:
    canned.add(
        "GET",
        HOME,
        html(
            HTML,
            200,
            ("X-Powered-By", "Next.js"),
            ("Set-Cookie", "_shopify_y=abc; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT"),
            ("Set-Cookie", "session=xyz; HttpOnly"),
            ("X-Enrichd-Simulated", "sandbox"),
        ),
    )
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    assert isinstance(page, Page)
    assert page.url == page.final_url == f"{canned.url}{HOME}"
    assert page.status == 200
    assert page.html == HTML
    assert page.headers["x-powered-by"] == "Next.js"
    assert all(name == name.lower() for name in page.headers)
    assert page.cookies == {"_shopify_y": "abc", "session": "xyz"}
    assert page.content_type == "text/html"
    assert page.redirects == []
    assert page.simulated is True
    [request] = canned.requests
    assert request.headers["user-agent"].startswith("enrichd/0.1")
    assert request.headers["accept"].startswith("text/html")


async def test_follows_a_chain_of_five_redirects(autojump: Any, canned: CannedServer) -> None:
    base = canned.url
    canned.add("GET", HOME, redirect(f"{base}/homepage/www.{DOMAIN}/", 301))
    canned.add("GET", f"/homepage/www.{DOMAIN}/", redirect("en/", 302))  # relative
    canned.add("GET", f"/homepage/www.{DOMAIN}/en/", redirect("../us/?x=1#frag", 303))
    canned.add("GET", f"/homepage/www.{DOMAIN}/us/", redirect("/final/", 307))  # absolute path
    canned.add(
        "GET",
        "/final/",
        redirect(f"//{base.split('://', 1)[1]}/last/", 308, ("set-cookie", "hop=1")),
    )
    canned.add("GET", "/last/", html("<title>done</title>", 200, ("set-cookie", "final=2")))
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    assert page.final_url == f"{base}/last/"
    assert page.html == "<title>done</title>"
    assert [r.status for r in page.redirects] == [301, 302, 303, 307, 308]
    assert len(page.redirects) == MAX_REDIRECTS
    assert page.redirects[1].location == f"{base}/homepage/www.{DOMAIN}/en/"
    assert page.redirects[2].location == f"{base}/homepage/www.{DOMAIN}/us/?x=1"
    assert page.cookies == {"hop": "1", "final": "2"}
    assert [r.target for r in canned.requests][-3:] == [
        "/homepage/www.acme.example/us/?x=1",
        "/final/",
        "/last/",
    ]


async def test_six_redirects_are_too_many(autojump: Any, canned: CannedServer) -> None:
    for hop in range(6):
        canned.add("GET", f"/hop{hop}/", redirect(f"/hop{hop + 1}/"))
    canned.add("GET", HOME, redirect("/hop0/"))
    async with homepage(canned) as source:
        with pytest.raises(ModuleError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "too_many_redirects"
    assert "more than 5" in info.value.message
    assert len(canned.requests) == MAX_REDIRECTS + 1  # the sixth Location is never fetched


async def test_redirect_loop_is_detected(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, redirect("/b/"))
    canned.add("GET", "/b/", redirect(HOME))
    async with homepage(canned) as source:
        with pytest.raises(ModuleError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "too_many_redirects"
    assert "loop" in info.value.message
    assert len(canned.requests) == 2


async def test_same_url_redirect_that_sets_a_cookie_is_followed(
    autojump: Any, canned: CannedServer
) -> None:
    canned.add("GET", HOME, redirect(HOME, 302, ("set-cookie", "check=1")), html())
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    assert page.html == HTML
    assert page.cookies == {"check": "1"}
    assert canned.requests[1].headers.get("cookie") == "check=1"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (redirect("ftp://files.acme.example/"), "not an http(s) URL"),
        (redirect("javascript:alert(1)"), "not a usable URL"),
        (HttpResponse(status=301), "without a Location header"),
        (redirect("http://[broken/"), "invalid URL"),
    ],
)
async def test_bad_redirects_are_upstream_errors(
    autojump: Any, canned: CannedServer, answer: HttpResponse, message: str
) -> None:
    canned.add("GET", HOME, answer)
    async with homepage(canned) as source:
        with pytest.raises(ModuleError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "upstream_error"
    assert message in info.value.message
    assert info.value.source == "homepage"


@pytest.mark.parametrize("status", [404, 410])
async def test_missing_page_is_no_data(autojump: Any, canned: CannedServer, status: int) -> None:
    canned.add("GET", HOME, html("gone", status))
    async with homepage(canned) as source:
        with pytest.raises(NoData) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "no_data"
    assert str(status) in info.value.message


@pytest.mark.parametrize(("status", "hint"), [(403, "automated clients"), (400, ""), (304, "")])
async def test_other_statuses_are_upstream_errors(
    autojump: Any, canned: CannedServer, status: int, hint: str
) -> None:
    canned.add("GET", HOME, html("no", status))
    async with homepage(canned) as source:
        with pytest.raises(ModuleError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "upstream_error"
    assert f"HTTP {status}" in info.value.message
    assert hint in info.value.message


async def test_server_errors_are_retried_once(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, html("down", 503))
    async with homepage(canned) as source:
        with pytest.raises(SourceError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "upstream_error"
    assert len(canned.requests) == 2


async def test_connection_reset_is_a_connection_error(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, Reset())
    async with homepage(canned) as source:
        with pytest.raises(SourceError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "connection_error"


async def test_two_mebibytes_are_read(autojump: Any, canned: CannedServer) -> None:
    body = b"<p>" + b"x" * (2 * 1024 * 1024 - 3)
    canned.add("GET", HOME, html(body))
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    assert len(page.html) == 2 * 1024 * 1024


async def test_larger_pages_are_refused(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, html(b"x" * (2 * 1024 * 1024 + 1)))
    async with homepage(canned) as source:
        with pytest.raises(SourceError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "response_too_large"
    assert len(canned.requests) == 1


async def test_charset_from_the_content_type(autojump: Any, canned: CannedServer) -> None:
    body = "Caf\u00e9 \u201cM\u00fcller\u201d".encode("cp1252")
    canned.add(
        "GET",
        HOME,
        HttpResponse(headers=[("content-type", "text/html; charset=ISO-8859-1")], body=body),
    )
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    # Browsers read ISO-8859-1 as windows-1252, so the curly quotes survive.
    assert page.html == "Caf\u00e9 \u201cM\u00fcller\u201d"


async def test_non_text_content_gives_no_html(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, HttpResponse(headers=[("content-type", "image/png")], body=b"\x89PNG"))
    async with homepage(canned) as source:
        page = await fetch_homepage(source, DOMAIN)
    assert page.html == ""
    assert page.content_type == "image/png"


async def test_through_an_engine(autojump: Any, engine_factory: Any, canned: CannedServer) -> None:
    canned.add("GET", HOME, redirect(f"/homepage/www.{DOMAIN}/", 301))
    canned.add("GET", f"/homepage/www.{DOMAIN}/", html())
    sources = {
        "homepage": {
            "url_template": f"{canned.url}/homepage/{{domain}}/",
            "allow_private_addresses": True,
        }
    }
    async with engine_factory(**BUILTIN, sources=sources) as engine:
        page = await fetch_homepage(engine.sources["homepage"].handle(), DOMAIN)
    assert page.final_url == f"{canned.url}/homepage/www.{DOMAIN}/"
    assert page.html == HTML


async def test_private_addresses_are_refused_by_default(
    autojump: Any, canned: CannedServer
) -> None:
    async with homepage(canned, allow_private_addresses=False) as source:
        with pytest.raises(SourceError) as info:
            await fetch_homepage(source, DOMAIN)
    assert info.value.code == "address_refused"
    assert "127.0.0.1" in info.value.message
    assert canned.requests == []


# -- decoding and cookies ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ("h\u00e9".encode(), "text/html; charset=utf-8", "h\u00e9"),
        ("h\u00e9".encode(), "text/html", "h\u00e9"),  # no label: UTF-8
        ("h\u00e9".encode(), None, "h\u00e9"),
        ("h\u00e9".encode("cp1252"), "text/html", "h\ufffd"),  # not UTF-8: replaced
        ("h\u00e9".encode("cp1252"), 'text/html; charset="windows-1252"', "h\u00e9"),
        ("h\u00e9".encode("cp1252"), "text/html; charset=latin1", "h\u00e9"),
        ("h\u00e9".encode("cp1252"), "text/html; charset=no-such-charset", "h\ufffd"),
        ("h\u00e9".encode("cp1252"), "text/html; charset=base64", "h\ufffd"),
        (
            b'<meta charset="windows-1252"><p>' + "h\u00e9".encode("cp1252"),
            "text/html",
            '<meta charset="windows-1252"><p>h\u00e9',
        ),
        (
            b'<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">'
            + "\u65e5\u672c".encode("shift_jis"),
            None,
            '<meta http-equiv="Content-Type" content="text/html; charset=Shift_JIS">\u65e5\u672c',
        ),
        # The header wins over the meta tag...
        (
            b'<meta charset="shift_jis">' + "h\u00e9".encode(),
            "text/html; charset=utf-8",
            '<meta charset="shift_jis">h\u00e9',
        ),
        # ...and a byte-order mark over both.
        (codecs.BOM_UTF8 + "h\u00e9".encode(), "text/html; charset=cp1252", "h\u00e9"),
        (codecs.BOM_UTF16_LE + "h\u00e9".encode("utf-16-le"), None, "h\u00e9"),
        # A meta tag readable as ASCII cannot be UTF-16: read as UTF-8.
        (b'<meta charset="utf-16">' + "h\u00e9".encode(), None, '<meta charset="utf-16">h\u00e9'),
    ],
)
def test_decode_html(body: bytes, content_type: str | None, expected: str) -> None:
    assert decode_html(body, content_type) == expected


def test_parse_set_cookie() -> None:
    joined = (
        "a=1; Path=/; Expires=Wed, 21 Oct 2026 07:28:00 GMT, b=two; HttpOnly, "
        'c="quoted"; Secure, flag, =nameless, d='
    )
    assert parse_set_cookie(joined) == {"a": "1", "b": "two", "c": "quoted", "d": ""}
    assert parse_set_cookie("") == {}
