"""Helpers shared by m01 and m02: reading the homepage, citations, data points."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, TypeVar

import msgspec

from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    Source,
    SourceNotConfigured,
)
from . import _builtwith as bw
from . import _html
from ._common import count_points
from ._homepage import Page, fetch_homepage

T = TypeVar("T")

BUILTWITH: Final = bw.DOMAIN_SOURCE
BUILTWITH_FREE: Final = bw.FREE_SOURCE
HOMEPAGE: Final = "homepage"

# field_sources labels.
FROM_BUILTWITH: Final = "builtwith"
FROM_JSONLD: Final = "homepage:jsonld"
FROM_OPENGRAPH: Final = "homepage:opengraph"
FROM_HTML: Final = "homepage:html"

#: Keys of a result's data that are bookkeeping rather than found facts (not data points).
_NOT_POINTS: Final = frozenset({"domain", "field_sources"})


class HomepageView(msgspec.Struct, kw_only=True, frozen=True):
    """One fetched homepage and the facts read from it."""

    page: Page
    facts: _html.PageFacts


async def read_homepage(source: Source, domain: str) -> HomepageView:
    """Fetch ``domain``'s homepage through ``source`` and extract its facts."""
    page = await fetch_homepage(source, domain)
    # Parsing a large page is CPU work of tens of milliseconds: fine on the Trio thread.
    facts = _html.extract_facts(page.html, page.final_url)
    return HomepageView(page=page, facts=facts)


async def _attempt(
    ctx: ModuleContext, name: str, fn: Callable[[Source], Awaitable[T]]
) -> T | ModuleError:
    """``fn(ctx.source(name))``, or the :class:`ModuleError` that stopped it."""
    try:
        return await fn(ctx.source(name))
    except ModuleError as exc:
        exc.source = exc.source or name
        return exc


def _points(data: Mapping[str, Any]) -> int:
    return count_points({k: v for k, v in data.items() if k not in _NOT_POINTS})


def _builtwith_citation(domain: str) -> Citation:
    return Citation(url=bw.profile_url(domain), title=f"BuiltWith technology profile: {domain}")


def _homepage_citation(view: HomepageView, domain: str) -> Citation:
    title = view.facts.title or f"Homepage of {domain}"
    return Citation(url=view.page.final_url, title=title)


def _unavailable(name: str, error: ModuleError) -> str:
    if isinstance(error, SourceNotConfigured):
        return f"{name} not used: {error.message}"
    return f"{name} unavailable ({error.code}): {error.message}"


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()
