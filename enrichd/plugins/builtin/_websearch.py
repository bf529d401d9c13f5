"""The ``websearch`` source: one source, several possible providers (Brave by default).

Providers are a plugin point (``enrichd_search_providers``): the configured one lends the source
its default base URL and its way of sending the key, and does the provider-specific wire format.
Modules call :func:`search` and never see which provider answered.
"""

from __future__ import annotations

import msgspec

from ...config import ConfigError, ResolvedSource
from .._manager import Registry
from .._types import SearchHit, SearchProvider, SearchQuery, Source, SourceSpec

DEFAULT_PROVIDER = "brave"
DEFAULT_BASE_URL = "https://api.search.brave.com"


class WebSearchOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The keys of ``[sources.websearch]`` beyond the common ones."""

    provider: str = DEFAULT_PROVIDER


class ResolvedWebSearch(msgspec.Struct, kw_only=True, frozen=True):
    """The options once the provider name is resolved to the provider itself."""

    provider: SearchProvider


def _configure(settings: ResolvedSource, registry: Registry) -> ResolvedSource:
    options = settings.options if settings.options is not None else WebSearchOptions()
    provider = registry.search_providers.get(options.provider)
    if provider is None:
        known = ", ".join(sorted(registry.search_providers)) or "none installed"
        raise ConfigError(
            f"sources.websearch.provider: unknown provider {options.provider!r}; known: {known}"
        )
    # An unset base_url arrives as the spec's default (Brave's); another provider brings its own.
    base_url = settings.base_url
    if base_url == DEFAULT_BASE_URL:
        base_url = provider.base_url
    return msgspec.structs.replace(
        settings,
        base_url=base_url,
        auth=provider.auth,
        options=ResolvedWebSearch(provider=provider),
    )


SOURCE = SourceSpec(
    name="websearch",
    description="Web search API (Brave by default; provider is configurable)",
    base_url=DEFAULT_BASE_URL,
    auth=("header", "X-Subscription-Token"),
    rate_per_second=5.0,
    burst=5,
    # Enough calls in flight to use the rate at ~2 s an answer.
    max_concurrency=10,
    homepage="https://search.brave.com",
    options_type=WebSearchOptions,
    configure=_configure,
)


def provider_of(source: Source) -> SearchProvider:
    """The provider behind a ``websearch`` source handle."""
    options = source.settings.options
    if not isinstance(options, ResolvedWebSearch):
        raise TypeError(f"source {source.name!r} is not a web-search source")
    return options.provider


async def search(source: Source, query: SearchQuery) -> list[SearchHit]:
    """Run ``query`` through the source's provider, deduplicating hits by URL."""
    hits = await provider_of(source).search(source, query)
    seen: set[str] = set()
    unique: list[SearchHit] = []
    for hit in hits:
        if hit.url not in seen:
            seen.add(hit.url)
            unique.append(hit)
    return unique
