"""The web-search provider plugin point: a third-party provider behind the ``websearch`` source."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
import trio

from enrichd.config import Config, ConfigError
from enrichd.daemon._engine import resolve_sources
from enrichd.daemon._sources import SourceActor
from enrichd.plugins import (
    PluginConfigError,
    SearchHit,
    SearchProvider,
    SearchQuery,
    Source,
    hookimpl,
    load_plugins,
)
from enrichd.plugins.builtin import SOURCES, _websearch


async def _fake_search(source: Source, query: SearchQuery) -> list[SearchHit]:
    response = await source.post("search", json={"q": query.q})
    return [SearchHit(title=h["title"], url=h["link"]) for h in response.json()["organic"]]


FAKE = SearchProvider(
    name="serperish",
    base_url="https://serper.example",
    auth=("header", "X-API-KEY"),
    search=_fake_search,
)


class ProviderPlugin:
    """A third-party plugin that only adds a search provider."""

    @hookimpl
    def enrichd_plugin_api_version(self) -> int:
        return 1

    @hookimpl
    def enrichd_search_providers(self) -> list[SearchProvider]:
        return [FAKE]


def _resolve(websearch: dict[str, Any], plugins: list[tuple[str, Any]]) -> Any:
    registry = load_plugins(extra_objects=plugins)
    config = msgspec.convert({"sources": {"websearch": websearch}}, Config)
    return resolve_sources(registry, config)["websearch"][1]


def test_brave_is_the_default_provider() -> None:
    settings = _resolve({}, [])
    assert settings.base_url == "https://api.search.brave.com"
    assert settings.auth == ("header", "X-Subscription-Token")
    assert settings.options.provider.name == "brave"


def test_a_plugin_provider_lends_its_base_url_and_auth() -> None:
    settings = _resolve({"provider": "serperish"}, [("serperish", ProviderPlugin())])
    assert settings.base_url == "https://serper.example"
    assert settings.auth == ("header", "X-API-KEY")
    assert settings.options.provider is FAKE


def test_a_configured_base_url_wins_over_the_provider_default() -> None:
    settings = _resolve(
        {"provider": "serperish", "base_url": "http://127.0.0.1:9/x"},
        [("serperish", ProviderPlugin())],
    )
    assert settings.base_url == "http://127.0.0.1:9/x"


def test_unknown_provider_is_a_config_error_listing_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"sources\.websearch\.provider: unknown provider 'bing'"):
        _resolve({"provider": "bing"}, [])
    with pytest.raises(ConfigError, match="known: brave"):
        _resolve({"provider": "bing"}, [])


def test_two_plugins_providing_one_provider_name_are_refused() -> None:
    with pytest.raises(PluginConfigError, match="serperish"):
        load_plugins(extra_objects=[("a", ProviderPlugin()), ("b", ProviderPlugin())])


def test_unknown_websearch_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="provder"):
        _resolve({"provder": "brave"}, [])


async def test_search_goes_through_the_provider_and_dedupes(canned: Any, autojump: Any) -> None:
    canned.json(
        "POST",
        "/search",
        {"organic": [{"title": "A", "link": "https://a.example/"}] * 2},
    )
    settings = _resolve(
        {"provider": "serperish", "base_url": canned.url, "api_key": "k"},
        [("serperish", ProviderPlugin())],
    )
    spec = next(s for s in SOURCES if s.name == "websearch")
    actor = SourceActor(spec, settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(actor.run)
        hits = await _websearch.search(actor.handle(), SearchQuery(q="acme"))
        nursery.cancel_scope.cancel()
    assert [h.url for h in hits] == ["https://a.example/"]
    assert canned.requests[0].headers["x-api-key"] == "k"
