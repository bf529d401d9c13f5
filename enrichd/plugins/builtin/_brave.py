"""Brave Search, the default provider of the ``websearch`` source.

One GET per query: ``res/v1/web/search`` for web results (Brave adds a news cluster to the same
answer) or ``res/v1/news/search`` for news, relative to the source's base URL. The source actor
adds the ``X-Subscription-Token`` header (``PROVIDER.auth``), rate-limits, and retries 429/5xx;
this module turns the answer into :class:`~enrichd.plugins.SearchHit` objects and maps Brave's
error bodies to module errors.

Providers are a plugin point, so a third-party plugin can put another search API behind the
``websearch`` source. Serper, for example::

    from enrichd.plugins import SearchHit, SearchProvider, SearchQuery, Source, SourceError
    from enrichd.plugins import hookimpl

    _TBS = {"day": "qdr:d", "week": "qdr:w", "month": "qdr:m", "year": "qdr:y"}

    async def serper_search(source: Source, query: SearchQuery) -> list[SearchHit]:
        body = {"q": query.q, "num": query.count}
        if query.freshness is not None:
            body["tbs"] = _TBS[query.freshness]
        response = await source.post("news" if query.kind == "news" else "search", json=body)
        if response.status_code != 200:
            raise SourceError(source.name, "upstream_error",
                              f"Serper answered HTTP {response.status_code}",
                              status_code=response.status_code)
        items = response.json().get("news" if query.kind == "news" else "organic", [])
        return [SearchHit(title=i["title"], url=i["link"], snippet=i.get("snippet", ""))
                for i in items]

    SERPER = SearchProvider(name="serper", base_url="https://google.serper.dev",
                            auth=("header", "X-API-KEY"), search=serper_search,
                            homepage="https://serper.dev")

    @hookimpl
    def enrichd_search_providers() -> list[SearchProvider]:
        return [SERPER]

and the user selects it with ``[sources.websearch] provider = "serper"`` (the key still goes in
``[sources.websearch] api_key`` or ``ENRICHD_WEBSEARCH_API_KEY``; the base URL defaults to the
provider's own).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Mapping
from typing import Any, Final

from .._types import (
    ModuleError,
    SearchHit,
    SearchProvider,
    SearchQuery,
    Source,
    SourceError,
    SourceResponse,
)

WEB_PATH: Final = "res/v1/web/search"
NEWS_PATH: Final = "res/v1/news/search"
#: Brave's documented maximum for ``count``.
MAX_COUNT: Final = 20

_FRESHNESS: Final[Mapping[str, str]] = {"day": "pd", "week": "pw", "month": "pm", "year": "py"}
_TAG_RE = re.compile(r"<[^>]{0,200}>")
_SPACE_RE = re.compile(r"\s+")
# ``age`` is a human string: either relative ("3 hours ago", left alone: relative to what?) or a
# date, in the forms Brave uses.
_AGE_FORMATS: Final = ("%B %d, %Y", "%b %d, %Y", "%d %B %Y", "%d %b %Y", "%Y-%m-%d")
_AUTH_CODES: Final = frozenset(
    {"SUBSCRIPTION_TOKEN_INVALID", "SUBSCRIPTION_NOT_FOUND", "SUBSCRIPTION_TOKEN_MISSING"}
)


def clean_text(text: str) -> str:
    """``text`` without HTML tags (Brave's ``<strong>`` highlights) and entities, one-spaced."""
    return _SPACE_RE.sub(" ", html.unescape(_TAG_RE.sub("", text))).strip()


def parse_page_age(value: object) -> str | None:
    """An ISO-8601 ``page_age`` as an ISO datetime string (naive values taken as UTC)."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.isoformat()


def parse_age(value: object) -> str | None:
    """A date-like ``age`` ("September 4, 2026") as an ISO date; relative ages give ``None``."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for fmt in _AGE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _hit(result: object) -> SearchHit | None:
    if not isinstance(result, dict):
        return None
    url = result.get("url")
    if not isinstance(url, str) or not url:
        return None
    title = result.get("title")
    description = result.get("description")
    extras = result.get("extra_snippets")
    return SearchHit(
        title=clean_text(title) if isinstance(title, str) else "",
        url=url,
        snippet=clean_text(description) if isinstance(description, str) else "",
        published=parse_page_age(result.get("page_age")) or parse_age(result.get("age")),
        extra_snippets=tuple(
            clean_text(s)
            for s in (extras if isinstance(extras, list) else [])
            if isinstance(s, str)
        ),
    )


def _results(cluster: object) -> list[object]:
    if isinstance(cluster, dict):
        results = cluster.get("results")
        if isinstance(results, list):
            return results
    return []


def parse_hits(body: object, kind: str) -> list[SearchHit]:
    """The hits in a Brave answer: web results then the news cluster, or the news results."""
    if not isinstance(body, dict):
        raise ModuleError("malformed_response", "Brave answered something other than an object")
    if kind == "news":
        # The news endpoint puts ``results`` at the top level; accept a ``news`` cluster too.
        raw = _results(body) or _results(body.get("news"))
    else:
        raw = _results(body.get("web")) + _results(body.get("news"))
    return [hit for hit in map(_hit, raw) if hit is not None]


def _error_object(body: object) -> dict[str, Any]:
    """The error record of either envelope: ``{"error": {...}}`` or ``{"errors": [{...}]}``."""
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    errors = body.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        return errors[0]
    return {}


def _validation_detail(error: Mapping[str, Any]) -> str:
    """Brave's detail plus each failed parameter, e.g. ``query.q: Field required``."""
    detail = str(error.get("detail") or "request refused")
    meta = error.get("meta")
    problems = meta.get("errors") if isinstance(meta, dict) else None
    parts = []
    for problem in problems if isinstance(problems, list) else []:
        if isinstance(problem, dict):
            loc = problem.get("loc")
            where = ".".join(str(p) for p in loc) if isinstance(loc, list) else "?"
            parts.append(f"{where}: {problem.get('msg', 'invalid')}")
    return f"{detail} ({'; '.join(parts)})" if parts else detail


def error_for(source: str, response: SourceResponse) -> SourceError:
    """The error a non-200 Brave answer means: by HTTP status first, then by ``error.code``."""
    status = response.status_code
    try:
        error = _error_object(response.json())
    except ModuleError:
        error = {}
    code = str(error.get("code") or "")
    detail = str(error.get("detail") or "").strip()
    said = f"Brave answered HTTP {status}" + (f" {code}" if code else "")
    said += f": {detail}" if detail else ""
    if status in (401, 403) or code in _AUTH_CODES:
        return SourceError(
            source, "auth_failed", f"{said} (check [sources.{source}] api_key)", status_code=status
        )
    if status == 402 or code == "CREDIT_EXHAUSTED":
        return SourceError(source, "quota_exhausted", said, status_code=status)
    if status in (400, 422):
        message = f"Brave refused the request: {_validation_detail(error)}"
        return SourceError(source, "invalid_request", message, status_code=status)
    return SourceError(source, "upstream_error", said, status_code=status)


def build_params(query: SearchQuery) -> dict[str, str | int]:
    """The query string for ``query``."""
    params: dict[str, str | int] = {"q": query.q, "count": max(1, min(query.count, MAX_COUNT))}
    if query.freshness is not None:
        params["freshness"] = _FRESHNESS[query.freshness]
    return params


async def _search(source: Source, query: SearchQuery) -> list[SearchHit]:
    path = NEWS_PATH if query.kind == "news" else WEB_PATH
    response = await source.get(
        path, params=build_params(query), headers={"Accept": "application/json"}
    )
    if response.status_code != 200:
        raise error_for(source.name, response)
    try:
        return parse_hits(response.json(), query.kind)
    except ModuleError as exc:
        message = f"Brave: {exc.message}"
        raise SourceError(source.name, exc.code, message, status_code=200) from exc


PROVIDER = SearchProvider(
    name="brave",
    base_url="https://api.search.brave.com",
    auth=("header", "X-Subscription-Token"),
    search=_search,
    homepage="https://search.brave.com",
)
