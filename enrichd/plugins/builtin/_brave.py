"""Brave Search, the default provider of the ``websearch`` source."""

from __future__ import annotations

from .._types import SearchHit, SearchProvider, SearchQuery, Source, SourceNotConfigured


async def _search(source: Source, query: SearchQuery) -> list[SearchHit]:
    raise SourceNotConfigured(source.name, why="the brave provider is not implemented yet")


PROVIDER = SearchProvider(
    name="brave",
    base_url="https://api.search.brave.com",
    auth=("header", "X-Subscription-Token"),
    search=_search,
    homepage="https://search.brave.com",
)
