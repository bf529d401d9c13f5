"""Brave Search API: ``/res/v1/web/search`` and ``/res/v1/news/search``.

Results are derived from the query: the company is the first token of ``q`` that is a domain,
and the query's wording picks what comes back (hiring, quotes, news events, revenue, or
generic hits), as described in the sandbox contract.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from ._events import articles
from ._http import HttpRequest, HttpResponse, json_response
from ._jobs import careers_snippet, careers_url, job, listed
from ._model import Profile
from ._profile import profile_for
from ._util import DAY, find_domain, hex_id, human_age, iso_datetime, money, month_of, today

_KIND_WORDS = (
    ("hiring", ("hiring", "jobs", "job", "careers", "career")),
    ("quote", ("said", "says", "quote", "quotes", "interview", "ceo")),
    ("revenue", ("revenue",)),
    ("event", ("news", "announces", "announced", "announcement")),
)
#: Brave's breadcrumb separator in ``meta_url.path`` (U+203A, as the real API sends it).
_CRUMB = " \u203a "
_FRESHNESS = {"pd": 1, "pw": 7, "pm": 31, "py": 365}
_HEADERS = [
    ("x-ratelimit-limit", "5, 15000"),
    ("x-ratelimit-policy", "5;w=1, 15000;w=2592000"),
    ("x-ratelimit-remaining", "4, 14000"),
    ("x-ratelimit-reset", "1, 1419704"),
]


@dataclass(frozen=True, slots=True)
class _Hit:
    title: str
    url: str
    description: str
    published: int | None = None


def _error(error: dict[str, Any]) -> HttpResponse:
    return json_response({"type": "ErrorResponse", "error": error}, 422)


def kind_of(query: str) -> str:
    """What a query asks for: hiring, quote, revenue, event or generic."""
    words = set(re.findall(r"[a-z]+", query.lower()))
    return next((kind for kind, keys in _KIND_WORDS if words & set(keys)), "generic")


def handle(request: HttpRequest, now: float) -> HttpResponse:
    """Answer a Brave search request."""
    news = request.path.endswith("/news/search")
    if not news and not request.path.endswith("/web/search"):
        return json_response(
            {
                "type": "ErrorResponse",
                "error": {"status": 404, "code": "NOT_FOUND", "detail": "Resource not found."},
            },
            404,
        )
    token = request.headers.get("x-subscription-token")
    if not token or token.startswith("bad"):
        return _error(
            {
                "code": "SUBSCRIPTION_TOKEN_INVALID",
                "detail": "The provided subscription token is invalid.",
                "meta": {"component": "authentication"},
                "status": 422,
            }
        )
    q = request.query.get("q", "").strip()
    if not q or len(q) > 400:
        msg = "Field required" if not q else "String should have at most 400 characters"
        return _error(
            {
                "id": hex_id(32, "err", q),
                "status": 422,
                "detail": "Unable to validate request parameter(s)",
                "meta": {
                    "errors": [
                        {
                            "type": "missing" if not q else "string_too_long",
                            "loc": ["query", "q"],
                            "msg": msg,
                        }
                    ]
                },
            }
        )
    count = _int(request.query.get("count"), 20, 50 if news else 20)
    page = _int(request.query.get("offset"), 0, 9)
    domain = find_domain(q)
    profile = profile_for(domain) if domain else None
    kind = kind_of(q)
    if news and kind != "quote":
        kind = "event"
    hits, total = _hits(profile, kind, now, page * count, count)
    hits = [h for h in hits if _fresh(h, request.query.get("freshness"), now)]
    decorate = request.query.get("text_decorations", "true").lower() not in ("false", "0")
    more = total > (page + 1) * count
    query_block = {
        "original": q,
        "show_strict_warning": False,
        "is_navigational": False,
        "is_news_breaking": False,
        "spellcheck_off": True,
        "country": "us",
        "bad_results": False,
        "should_fallback": False,
        "more_results_available": more,
    }
    if news:
        return json_response(
            {
                "type": "news",
                "query": query_block,
                "results": [_news(h, now, profile, decorate) for h in hits],
            },
            headers=_HEADERS,
        )
    body: dict[str, Any] = {"type": "search", "query": query_block}
    sections = _sections(request.query.get("result_filter"), kind)
    if "web" in sections:
        body["web"] = {
            "type": "search",
            "family_friendly": True,
            "results": [_web(h, now, profile, decorate) for h in hits],
        }
    if "news" in sections:
        dated = [h for h in hits if h.published is not None]
        body["news"] = {
            "type": "news",
            "mutated_by_goggles": False,
            "results": [_news(h, now, profile, decorate) for h in dated],
        }
    body["mixed"] = {
        "type": "mixed",
        "top": [],
        "side": [],
        "main": [
            {"type": "web", "index": i, "all": False}
            for i in range(len(hits) if "web" in sections else 0)
        ],
    }
    return json_response(body, headers=_HEADERS)


def _int(raw: str | None, default: int, high: int) -> int:
    try:
        return max(0, min(int(raw), high)) if raw else default
    except ValueError:
        return default


def _sections(result_filter: str | None, kind: str) -> set[str]:
    default = {"web", "news"} if kind in ("event", "quote") else {"web"}
    if not result_filter:
        return default
    return {part.strip() for part in result_filter.split(",")} & {"web", "news"}


def _fresh(hit: _Hit, freshness: str | None, now: float) -> bool:
    if not freshness or hit.published is None:
        return True
    if freshness in _FRESHNESS:
        return hit.published >= now - _FRESHNESS[freshness] * DAY
    low, sep, high = freshness.partition("to")
    if not sep:
        return True
    day = iso_datetime(hit.published)[:10]
    return low <= day <= high


def _hits(
    p: Profile | None, kind: str, now: float, start: int, count: int
) -> tuple[list[_Hit], int]:
    """One page of hits (from ``start``) and how many there are in all."""
    if p is None:
        return [], 0
    if kind == "hiring":
        return _hiring(p, now, start, count)
    if kind in ("quote", "event"):
        every = [
            _Hit(a.title, a.url, a.description, a.published)
            for a in articles(p, now, quotes=kind == "quote")
        ]
    elif kind == "revenue":
        every = _revenue(p, now)
    else:
        every = _generic(p, now)
    return every[start : start + count], len(every)


def _hiring(p: Profile, now: float, start: int, count: int) -> tuple[list[_Hit], int]:
    total = 1 + listed(p)
    hits = []
    for position in range(start, min(total, start + count)):
        if position == 0:
            hits.append(_Hit(f"Careers at {p.name} | Jobs", careers_url(p), careers_snippet(p)))
        else:
            posting = job(p, position - 1, now)
            hits.append(_Hit(posting.title, posting.url, posting.description, posting.posted))
    return hits, total


def _revenue(p: Profile, now: float) -> list[_Hit]:
    year = p.fiscal_year or month_of(now)[0] - 1
    if p.public:
        text = (
            f"{p.name} reported annual revenue of {money(p.revenue)} for fiscal {year}, "
            f"{'up' if p.revenue_growth >= 0 else 'down'} {abs(p.revenue_growth) * 100:.1f}% "
            "from the prior year."
        )
        url = f"https://stockanalysis.com/stocks/{(p.ticker or '').lower()}/revenue/"
        title = f"{p.name} ({p.ticker}) Revenue {year}"
    else:
        text = (
            f"{p.name} has an estimated annual revenue of {money(p.revenue)} and about "
            f"{p.employees:,} employees."
        )
        url = f"https://growjo.com/company/{p.name.replace(' ', '_')}"
        title = f"{p.name}: Revenue, Competitors, Alternatives"
    published = today(now) - 20 * DAY
    return [_Hit(title, url, text, published), *_generic(p, now)[:3]]


def _generic(p: Profile, now: float) -> list[_Hit]:
    handle = p.label.replace("-", "")
    hits = [
        _Hit(
            f"{p.name} | Official Site",
            f"https://www.{p.domain}/",
            f"Shop and learn more about {p.name}, founded in {p.founded} and based in "
            f"{p.city}, {p.state}.",
        ),
        _Hit(
            f"{p.name} | LinkedIn",
            f"https://www.linkedin.com/company/{handle}",
            f"{p.name} | {p.employees:,} followers on LinkedIn. {p.vertical} | "
            f"{p.city}, {p.state}.",
        ),
        _Hit(
            f"{p.name} - Crunchbase Company Profile & Funding",
            f"https://www.crunchbase.com/organization/{p.label}",
            f"{p.name} is a {p.vertical.lower()} company founded in {p.founded}.",
        ),
        _Hit(
            f"Working at {p.name} | Glassdoor",
            f"https://www.glassdoor.com/Overview/"
            f"Working-at-{handle}-EI_IE{100000 + int(hex_id(6, p.label), 16) % 900000}.htm",
            f"See what employees say about working at {p.name}.",
        ),
    ]
    if p.public:
        hits.insert(
            1,
            _Hit(
                f"{p.legal_name} ({p.ticker}) Stock Price, News, Quote",
                f"https://finance.yahoo.com/quote/{p.ticker}/",
                f"Find the latest {p.legal_name} ({p.ticker}) stock quote, history, "
                "news and other vital information.",
            ),
        )
    return hits + [
        _Hit(a.title, a.url, a.description, a.published) for a in articles(p, now, quotes=False)[:3]
    ]


def _decorate(text: str, p: Profile | None, decorate: bool) -> str:
    if decorate and p is not None and p.name in text:
        return text.replace(p.name, f"<strong>{p.name}</strong>", 1)
    return text


@lru_cache(maxsize=16384)
def _meta_url(url: str) -> dict[str, str]:
    # Cached (the same URLs come back often); callers never mutate the dict.
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    return {
        "scheme": parts.scheme,
        "netloc": parts.netloc,
        "hostname": parts.hostname or "",
        "favicon": f"https://imgs.search.brave.com/{hex_id(40, parts.netloc)}/favicon",
        "path": "".join(f"{_CRUMB}{segment}" for segment in segments),
    }


def _web(hit: _Hit, now: float, p: Profile | None, decorate: bool) -> dict[str, Any]:
    meta_url = _meta_url(hit.url)
    host = meta_url["hostname"]
    result: dict[str, Any] = {
        "title": hit.title,
        "url": hit.url,
        "is_source_local": False,
        "is_source_both": False,
        "description": _decorate(hit.description, p, decorate),
        "profile": {
            "name": host.removeprefix("www."),
            "url": hit.url,
            "long_name": host,
            "img": meta_url["favicon"].replace("/favicon", "/profile"),
        },
        "language": "en",
        "family_friendly": True,
        "type": "search_result",
        "subtype": "generic",
        "is_live": False,
        "meta_url": meta_url,
    }
    if hit.published is not None:
        result["page_age"] = iso_datetime(hit.published)
        result["age"] = human_age(hit.published, now)
    return result


def _news(hit: _Hit, now: float, p: Profile | None, decorate: bool) -> dict[str, Any]:
    result: dict[str, Any] = {
        "type": "news_result",
        "title": hit.title,
        "url": hit.url,
        "description": _decorate(hit.description, p, decorate),
        "meta_url": _meta_url(hit.url),
        "is_live": False,
        "family_friendly": True,
        "breaking": hit.published is not None and now - hit.published < DAY,
    }
    if hit.published is not None:
        result["age"] = human_age(hit.published, now)
        result["page_age"] = iso_datetime(hit.published)
    return result
