"""The simulated Brave Search API: envelope, errors, and results by kind of query."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from enrichd.sandbox._http import HttpRequest, HttpResponse
from enrichd.sandbox._profile import profile_for
from enrichd.sandbox._upstreams import Upstreams

NOW = 1_780_000_000.0
_QUOTE_RE = re.compile(
    r"[\u201c\"](?P<quote>[^\u201c\u201d\"]+?),?[\u201d\"],? "
    r"(?:said (?P<name>[^,]+), (?P<title>.+?) of (?P<company>.+?)\.|"
    r"(?P<name2>[^,]+), (?P<title2>[^,]+), said\.)$"
)
_EVENT_WORDS = {
    "acquisition": re.compile(r"\bacquires\b"),
    "new_market": re.compile(r"\bexpands into\b"),
    "executive_change": re.compile(r"\bnames .+ as new Chief .+ Officer\b"),
    "funding": re.compile(r"\braises \$\d+M Series [A-E]\b"),
    "layoffs": re.compile(r"\bcuts \d+ jobs\b"),
    "technology_refresh": re.compile(r"\b(?:replatforms|migrates|technology refresh)\b"),
    "competitor_win": re.compile(r"\bselects\b"),
    "digital_initiative": re.compile(r"\b(?:launches|unveils|invests in|rolls out)\b"),
}


async def search(
    q: str | None, endpoint: str = "web", token: str = "k", **params: str
) -> HttpResponse:
    query = {**({"q": q} if q is not None else {}), **params}
    target = f"/brave/res/v1/{endpoint}/search?{urlencode(query)}"
    split = urlsplit(target)
    req = HttpRequest(
        method="GET",
        path=split.path,
        query=dict(parse_qsl(split.query)),
        headers={"x-subscription-token": token},
        body=b"",
        target=target,
    )
    return await Upstreams(now=lambda: NOW).handle("websearch", req, "http://sandbox")


async def results(q: str, endpoint: str = "web", **params: str) -> list[dict[str, Any]]:
    response = await search(q, endpoint, **params)
    assert response.status == 200
    answer = json.loads(response.body)
    if endpoint == "news":
        assert answer["type"] == "news"
        items: list[dict[str, Any]] = answer["results"]
        return items
    assert answer["type"] == "search" and answer["query"]["original"] == q
    web: list[dict[str, Any]] = answer.get("web", {}).get("results", [])
    return web


def plain(text: str) -> str:
    return re.sub(r"</?strong>", "", text)


async def test_errors() -> None:
    bad = await search("costco.com", token="bad-token")
    assert bad.status == 422
    assert json.loads(bad.body) == {
        "type": "ErrorResponse",
        "error": {
            "code": "SUBSCRIPTION_TOKEN_INVALID",
            "detail": "The provided subscription token is invalid.",
            "meta": {"component": "authentication"},
            "status": 422,
        },
    }
    missing = await search(None)
    assert missing.status == 422
    error = json.loads(missing.body)["error"]
    assert error["meta"]["errors"][0]["loc"] == ["query", "q"]


async def test_web_result_shape() -> None:
    hits = await results("Costco Wholesale costco.com")
    assert hits
    for hit in hits:
        assert {
            "title",
            "url",
            "description",
            "type",
            "subtype",
            "meta_url",
            "profile",
            "language",
            "family_friendly",
            "is_source_local",
            "is_live",
        } <= set(hit)
        assert hit["type"] == "search_result"
        assert set(hit["meta_url"]) == {"scheme", "netloc", "hostname", "favicon", "path"}
    assert hits[0]["url"] == "https://www.costco.com/"
    assert "<strong>Costco Wholesale</strong>" in hits[0]["description"]
    undecorated = await results("Costco Wholesale costco.com", text_decorations="false")
    assert all("<strong>" not in h["description"] for h in undecorated)


async def test_hiring_queries() -> None:
    costco = profile_for("costco.com")
    assert costco is not None
    hits = await results('"Costco Wholesale" costco.com hiring', count="10")
    assert len(hits) == 10
    careers, jobs = hits[0], hits[1:]
    assert f"{costco.open_positions} open positions" in plain(careers["description"])
    for job in jobs:
        assert job["title"].endswith(" - Costco Wholesale")
        assert re.match(
            r"https://(?:boards\.greenhouse\.io/|jobs\.lever\.co/|careers\.costco"
            r"\.com/)",
            job["url"],
        )
        assert dt.datetime.fromisoformat(job["page_age"])
    page2 = await results("costco.com jobs", count="10", offset="1")
    assert {h["url"] for h in page2}.isdisjoint({h["url"] for h in hits})
    roles = [
        h["title"]
        for d in ("wayfair.com", "bestbuy.com", "gymshark.com", "target.com")
        for h in await results(f"{d} careers", count="20")
    ]
    assert any(re.search(r"Search|Relevance|E-commerce|Personali[sz]ation", r) for r in roles)


async def test_quote_queries() -> None:
    hits = await results("costco.com CEO said")
    assert hits
    for hit in hits:
        match = _QUOTE_RE.search(plain(hit["description"]))
        assert match, hit["description"]
        if match.group("company"):
            assert match.group("company") == "Costco Wholesale"
        assert dt.datetime.fromisoformat(hit["page_age"]) <= dt.datetime(2026, 5, 28)


async def test_event_queries_cover_every_event_type() -> None:
    seen: set[str] = set()
    cutoff = dt.datetime.fromtimestamp(NOW - 366 * 86400)
    domains = ["costco.com", "northwindtraders.com", "acme-shop.co.uk", "brightgoods.io"]
    for domain in domains + [f"startup{i}.com" for i in range(12)]:
        for hit in await results(f"{domain} news", endpoint="news", count="50"):
            assert hit["type"] == "news_result" and hit["age"]
            published = dt.datetime.fromisoformat(hit["page_age"])
            assert cutoff <= published <= dt.datetime.fromtimestamp(NOW)
            seen |= {kind for kind, word in _EVENT_WORDS.items() if word.search(hit["title"])}
    assert seen == set(_EVENT_WORDS)
    web = json.loads((await search("costco.com announces")).body)
    assert web["web"]["results"] and web["news"]["results"]


async def test_revenue_queries() -> None:
    public = await results("Costco Wholesale costco.com annual revenue")
    text = plain(public[0]["description"])
    assert "Costco Wholesale reported annual revenue of $254.5 billion for fiscal 2024" in text
    private = await results("patagonia.com revenue")
    assert "estimated annual revenue of $1.5 billion" in plain(private[0]["description"])


async def test_freshness_and_determinism() -> None:
    week = await results("costco.com news", endpoint="news", freshness="pw")
    year = await results("costco.com news", endpoint="news")
    assert len(week) < len(year)
    assert all(
        dt.datetime.fromisoformat(h["page_age"]).timestamp() >= NOW - 7 * 86400 - 3600 for h in week
    )
    again = await results("costco.com news", endpoint="news")
    assert again == year


async def test_query_without_a_domain() -> None:
    answer = json.loads((await search("best site search vendors")).body)
    assert answer["type"] == "search" and answer["web"]["results"] == []
