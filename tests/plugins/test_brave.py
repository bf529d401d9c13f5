"""The Brave provider of the ``websearch`` source against a canned loopback upstream.

The bodies are the reference document's examples (upstream-apis.md section 4.1) verbatim where it
gives one. The source is resolved from a config table exactly as the engine does
(``resolve_sources`` runs the websearch ``configure`` that picks the provider) and runs as a real
source actor, so the key header, retries and Retry-After pauses are the production ones.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import trio

from enrichd.config import Config
from enrichd.daemon._engine import resolve_sources
from enrichd.daemon._sources import SourceActor, SourceHandle
from enrichd.plugins import ModuleError, SearchHit, SearchQuery, SourceError, load_plugins
from enrichd.plugins.builtin import _brave, _websearch
from enrichd.plugins.builtin._brave import clean_text, parse_age, parse_page_age
from enrichd.sandbox import HttpResponse, json_response
from tests.canned import CannedServer

WEB = "/brave/res/v1/web/search"
NEWS = "/brave/res/v1/news/search"

# -- the reference document's examples, verbatim -------------------------------------------------

#: upstream-apis.md 4.1, "Example (constructed from documented field names)".
WEB_EXAMPLE: dict[str, Any] = {
    "type": "search",
    "query": {
        "original": "acme corp hiring vp engineering",
        "show_strict_warning": False,
        "is_navigational": False,
        "is_news_breaking": False,
        "country": "us",
        "more_results_available": True,
    },
    "mixed": {
        "type": "mixed",
        "main": [{"type": "web", "index": 0, "all": False}],
        "top": [],
        "side": [],
    },
    "web": {
        "type": "search",
        "family_friendly": True,
        "results": [
            {
                "title": "Acme Corp is hiring a VP of Engineering",
                "url": "https://jobs.acme.example/vp-engineering",
                "is_source_local": False,
                "is_source_both": False,
                "description": "Acme Corp is looking for a <strong>VP of Engineering</strong> "
                "to lead...",
                "page_age": "2026-09-04T11:02:00",
                "profile": {
                    "name": "Acme",
                    "url": "https://jobs.acme.example/vp-engineering",
                    "long_name": "jobs.acme.example",
                    "img": "https://imgs.search.brave.com/...",
                },
                "language": "en",
                "family_friendly": True,
                "type": "search_result",
                "subtype": "generic",
                "is_live": False,
                "meta_url": {
                    "scheme": "https",
                    "netloc": "jobs.acme.example",
                    "hostname": "jobs.acme.example",
                    "favicon": "https://imgs.search.brave.com/...",
                    "path": "› vp-engineering",  # noqa: RUF001 (verbatim)
                },
                "age": "September 4, 2026",
                "extra_snippets": ["Reports to the CTO...", "Location: Remote (US)"],
            }
        ],
    },
    "news": {
        "type": "news",
        "results": [
            {
                "title": "Acme Corp raises $40M Series C",
                "url": "https://news.example/acme-series-c",
                "description": "...",
                "age": "3 hours ago",
                "breaking": True,
                "meta_url": {"hostname": "news.example"},
            }
        ],
    },
}

#: upstream-apis.md 4.1, errors: a bad token (HTTP 422, captured from the live API).
TOKEN_INVALID: dict[str, Any] = {
    "type": "ErrorResponse",
    "error": {
        "code": "SUBSCRIPTION_TOKEN_INVALID",
        "detail": "The provided subscription token is invalid.",
        "meta": {"component": "authentication"},
        "status": 422,
    },
}

#: upstream-apis.md 4.1, errors: a validation failure (HTTP 422).
VALIDATION: dict[str, Any] = {
    "type": "ErrorResponse",
    "error": {
        "id": "ac767880-a9c9-4b26-99e1-716fd0249fa8",
        "status": 422,
        "detail": "Unable to validate request parameter(s)",
        "meta": {"errors": [{"type": "missing", "loc": ["query", "q"], "msg": "Field required"}]},
    },
}

#: CREDIT_EXHAUSTED with HTTP 402 (the reference names the code and status; body constructed).
CREDIT_EXHAUSTED: dict[str, Any] = {
    "type": "ErrorResponse",
    "error": {
        "code": "CREDIT_EXHAUSTED",
        "detail": "Your plan's credits are exhausted.",
        "status": 402,
    },
}

#: The ``errors`` list envelope with ``time`` (SUBSCRIPTION_NOT_FOUND, HTTP 404; constructed).
NOT_FOUND_LIST: dict[str, Any] = {
    "type": "ErrorResponse",
    "errors": [
        {
            "code": "SUBSCRIPTION_NOT_FOUND",
            "detail": "No subscription was found for this token.",
            "status": 404,
        }
    ],
    "time": 1663072993,
}

#: The news endpoint's shape: ``results`` at the top level.
NEWS_EXAMPLE: dict[str, Any] = {
    "type": "news",
    "query": {"original": "acme corp news"},
    "results": [
        {
            "title": "Acme Corp names Jane Doe as new Chief Digital Officer",
            "url": "https://news.example/acme-cdo",
            "description": "Acme Corp &amp; its board named <strong>Jane Doe</strong>...",
            "age": "August 2, 2026",
            "page_age": "2026-08-02T09:30:00Z",
            "meta_url": {"hostname": "news.example"},
        },
        {
            "title": "Acme Corp expands into Canada",
            "url": "https://news.example/acme-canada",
            "description": "The retailer opens ...",
            "age": "July 1, 2026",
        },
    ],
}


# -- helpers -------------------------------------------------------------------------------------


def websearch_actor(base_url: str, api_key: str | None = "k", **table: Any) -> SourceActor:
    """The ``websearch`` source actor as the engine would build it from ``[sources.websearch]``."""
    config = msgspec.convert(
        {"sources": {"websearch": {"base_url": base_url, "api_key": api_key, **table}}}, Config
    )
    spec, settings = resolve_sources(load_plugins(), config)["websearch"]
    return SourceActor(spec, settings)


@asynccontextmanager
async def websearch(canned: CannedServer, **table: Any) -> AsyncIterator[SourceHandle]:
    """A running ``websearch`` actor on the canned server's ``/brave`` prefix."""
    actor = websearch_actor(f"{canned.url}/brave", **table)
    try:
        async with trio.open_nursery() as nursery:
            await nursery.start(actor.run)
            yield actor.handle()
            nursery.cancel_scope.cancel(reason="test finished")
    except BaseExceptionGroup as group:
        # The body's own error, unwrapped, so tests can say pytest.raises(ModuleError).
        if len(group.exceptions) == 1 and isinstance(group.exceptions[0], Exception):
            raise group.exceptions[0] from None
        raise


async def search(canned: CannedServer, query: SearchQuery, **table: Any) -> list[SearchHit]:
    """Run one search through a fresh actor."""
    async with websearch(canned, **table) as source:
        return await _websearch.search(source, query)


# -- requests and parsing ------------------------------------------------------------------------


async def test_web_example(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, WEB_EXAMPLE)
    query = SearchQuery(q="acme corp hiring vp engineering", count=20, freshness="month")
    hits = await search(canned, query)

    (request,) = canned.requests
    assert request.path == WEB
    assert request.query == {
        "q": "acme corp hiring vp engineering",
        "count": "20",
        "freshness": "pm",
    }
    # The actor adds the provider's auth header; the key never goes in the URL.
    assert request.headers["x-subscription-token"] == "k"
    assert request.headers["accept"] == "application/json"
    assert hits == [
        SearchHit(
            title="Acme Corp is hiring a VP of Engineering",
            url="https://jobs.acme.example/vp-engineering",
            snippet="Acme Corp is looking for a VP of Engineering to lead...",
            published="2026-09-04T11:02:00+00:00",
            extra_snippets=("Reports to the CTO...", "Location: Remote (US)"),
        ),
        # The news cluster of the same answer; "3 hours ago" is no date.
        SearchHit(
            title="Acme Corp raises $40M Series C",
            url="https://news.example/acme-series-c",
            snippet="...",
            published=None,
        ),
    ]


async def test_news_endpoint_top_level_results(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", NEWS, NEWS_EXAMPLE)
    hits = await search(canned, SearchQuery(q="acme corp news", kind="news", freshness="year"))

    (request,) = canned.requests
    assert request.path == NEWS
    assert request.query == {"q": "acme corp news", "count": "10", "freshness": "py"}
    assert [h.url for h in hits] == [
        "https://news.example/acme-cdo",
        "https://news.example/acme-canada",
    ]
    assert hits[0].snippet == "Acme Corp & its board named Jane Doe..."
    assert hits[0].published == "2026-08-02T09:30:00+00:00"
    # No page_age: the date-like age is used.
    assert hits[1].published == "2026-07-01"


async def test_news_endpoint_news_cluster(autojump: Any, canned: CannedServer) -> None:
    body = {"type": "search", "news": {"type": "news", "results": NEWS_EXAMPLE["results"]}}
    canned.json("GET", NEWS, body)
    hits = await search(canned, SearchQuery(q="acme corp", kind="news"))
    assert len(hits) == 2


async def test_count_is_capped_and_freshness_mapped(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, {"type": "search"})
    async with websearch(canned) as source:
        for freshness in ("day", "week", "month", "year", None):
            await _websearch.search(source, SearchQuery(q="x", count=50, freshness=freshness))
    assert [r.query.get("freshness") for r in canned.requests] == ["pd", "pw", "pm", "py", None]
    assert {r.query["count"] for r in canned.requests} == {"20"}


async def test_no_results_is_an_empty_list(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, {"type": "search", "query": {"original": "x"}})
    assert await search(canned, SearchQuery(q="x")) == []


async def test_hits_are_deduplicated_by_url(autojump: Any, canned: CannedServer) -> None:
    body = copy.deepcopy(WEB_EXAMPLE)
    body["news"]["results"][0]["url"] = "https://jobs.acme.example/vp-engineering"
    canned.json("GET", WEB, body)
    hits = await search(canned, SearchQuery(q="x"))
    assert [h.title for h in hits] == ["Acme Corp is hiring a VP of Engineering"]


async def test_results_without_url_are_skipped(autojump: Any, canned: CannedServer) -> None:
    body = {
        "type": "search",
        "web": {
            "results": [{"title": "no url"}, "junk", {"url": "https://a.example/", "title": 3}]
        },
    }
    canned.json("GET", WEB, body)
    assert await search(canned, SearchQuery(q="x")) == [
        SearchHit(title="", url="https://a.example/")
    ]


async def test_sandbox_prefix_and_provider_auth(autojump: Any, canned: CannedServer) -> None:
    actor = websearch_actor(f"{canned.url}/brave")
    assert actor.settings.base_url == f"{canned.url}/brave"
    assert actor.settings.auth == ("header", "X-Subscription-Token")
    assert _websearch.provider_of(actor.handle()) is _brave.PROVIDER


# -- errors --------------------------------------------------------------------------------------


async def expect_error(canned: CannedServer, code: str, *answers: HttpResponse) -> SourceError:
    canned.add("GET", WEB, *answers)
    with pytest.raises(SourceError) as caught:
        await search(canned, SearchQuery(q="acme.example"))
    assert caught.value.code == code
    assert caught.value.source == "websearch"
    return caught.value


async def test_bad_token_422_is_auth_failed(autojump: Any, canned: CannedServer) -> None:
    error = await expect_error(canned, "auth_failed", json_response(TOKEN_INVALID, 422))
    assert "SUBSCRIPTION_TOKEN_INVALID" in error.message
    assert "The provided subscription token is invalid." in error.message
    assert error.status_code == 422
    assert len(canned.requests) == 1  # a 4xx is not retried


async def test_validation_422_is_invalid_request(autojump: Any, canned: CannedServer) -> None:
    error = await expect_error(canned, "invalid_request", json_response(VALIDATION, 422))
    assert "Unable to validate request parameter(s)" in error.message
    assert "query.q: Field required" in error.message


async def test_credit_exhausted_402(autojump: Any, canned: CannedServer) -> None:
    error = await expect_error(canned, "quota_exhausted", json_response(CREDIT_EXHAUSTED, 402))
    assert "CREDIT_EXHAUSTED" in error.message


async def test_errors_list_envelope(autojump: Any, canned: CannedServer) -> None:
    error = await expect_error(canned, "auth_failed", json_response(NOT_FOUND_LIST, 404))
    assert "SUBSCRIPTION_NOT_FOUND" in error.message
    assert "No subscription was found" in error.message


@pytest.mark.parametrize("status", [401, 403])
async def test_401_403_are_auth_failed(autojump: Any, canned: CannedServer, status: int) -> None:
    await expect_error(canned, "auth_failed", HttpResponse(status=status, body=b"denied"))


async def test_other_404_is_upstream_error(autojump: Any, canned: CannedServer) -> None:
    # A wrong base URL, not a subscription problem.
    await expect_error(canned, "upstream_error", json_response({"detail": "Not Found"}, 404))


async def test_malformed_json(autojump: Any, canned: CannedServer) -> None:
    truncated = HttpResponse(
        headers=[("content-type", "application/json")], body=b'{"type": "search", "web": {'
    )
    error = await expect_error(canned, "malformed_response", truncated)
    assert "not JSON" in error.message


async def test_non_object_body_is_malformed(autojump: Any, canned: CannedServer) -> None:
    canned.json("GET", WEB, ["not", "an", "object"])
    with pytest.raises(ModuleError) as caught:
        await search(canned, SearchQuery(q="x"))
    assert caught.value.code == "malformed_response"
    assert caught.value.source == "websearch"


async def test_429_with_retry_after_is_retried(autojump: Any, canned: CannedServer) -> None:
    limited = json_response(
        {"type": "ErrorResponse", "error": {"code": "RATE_LIMITED", "status": 429}},
        429,
        [("retry-after", "2")],
    )
    canned.add("GET", WEB, limited, json_response(WEB_EXAMPLE))
    start = trio.current_time()
    hits = await search(canned, SearchQuery(q="x"))
    assert len(hits) == 2
    assert len(canned.requests) == 2
    assert trio.current_time() - start >= 2.0  # the actor waited out Retry-After


async def test_429_until_the_actor_gives_up(autojump: Any, canned: CannedServer) -> None:
    # Paced 429s do not spend max_retries; the actor sits out 10 of them, then gives up.
    canned.add("GET", WEB, json_response({}, 429, [("retry-after", "1")]))
    with pytest.raises(SourceError) as caught:
        await search(canned, SearchQuery(q="x"), max_retries=1)
    assert caught.value.code == "rate_limited"
    assert len(canned.requests) == 11


# -- text and date cleanup -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Acme <strong>VP</strong> of Engineering", "Acme VP of Engineering"),
        ("Tom &amp; Jerry&#39;s &quot;shop&quot;", 'Tom & Jerry\'s "shop"'),
        ("  two\n  lines <b>bold</b>  ", "two lines bold"),
        ("a &lt;strong&gt; literal", "a <strong> literal"),
    ],
)
def test_clean_text(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize(
    ("age", "date"),
    [
        ("September 4, 2026", "2026-09-04"),
        ("Sep 4, 2026", "2026-09-04"),
        ("4 September 2026", "2026-09-04"),
        ("2026-09-04", "2026-09-04"),
        ("3 hours ago", None),
        ("", None),
        (None, None),
        (17, None),
    ],
)
def test_parse_age(age: object, date: str | None) -> None:
    assert parse_age(age) == date


@pytest.mark.parametrize(
    ("page_age", "iso"),
    [
        ("2026-09-04T11:02:00", "2026-09-04T11:02:00+00:00"),
        ("2026-09-04T11:02:00Z", "2026-09-04T11:02:00+00:00"),
        ("2026-09-04T11:02:00+02:00", "2026-09-04T11:02:00+02:00"),
        ("2026-09-04", "2026-09-04T00:00:00+00:00"),
        ("yesterday", None),
        (None, None),
    ],
)
def test_parse_page_age(page_age: object, iso: str | None) -> None:
    assert parse_page_age(page_age) == iso
