"""Helpers shared by the web-search modules (m10-m12): the company, the query, the hits."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any, Final, NamedTuple, TypeVar

import msgspec

from ...domains import InvalidDomain, registrable_domain
from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    SearchHit,
    SearchQuery,
)
from . import _websearch
from ._common import count_points

WEBSEARCH: Final = "websearch"
M01: Final = "m01_company_context"
_M01 = (M01,)
MAX_CITATIONS: Final = 10

S = TypeVar("S", bound=msgspec.Struct)


class Company(NamedTuple):
    """Who the queries are about."""

    name: str
    domain: str
    #: The domain's own label (``costco`` for ``shop.costco.co.uk``).
    label: str


def company_of(ctx: ModuleContext) -> Company:
    """The company name from m01 (else the domain's label) and the registrable domain."""
    try:
        domain = registrable_domain(ctx.domain)
    except InvalidDomain:
        domain = ctx.domain
    label = domain.split(".", 1)[0]
    try:
        context = ctx.dependency(M01)
    except ModuleError as exc:
        # m01 cached without data, or run on its own: the label still identifies the company.
        if exc.code != "dependency_missing":
            raise
        context = {}
    name = context.get("company_name")
    if not isinstance(name, str) or not name.strip():
        name = label
    # A double quote inside the name would break the phrase query.
    return Company(name=name.replace('"', "").strip(), domain=domain, label=label)


def module_options(ctx: ModuleContext, options_type: type[S]) -> S:
    """``[modules.<id>]`` as ``options_type``; ``invalid_options`` names the bad key."""
    try:
        return msgspec.convert(dict(ctx.options), options_type)
    except msgspec.ValidationError as exc:
        raise ModuleError("invalid_options", f"modules.{ctx.module_id}: {exc}") from None


async def search_hits(ctx: ModuleContext, query: SearchQuery) -> list[SearchHit]:
    """The hits of ``query`` (``source_not_configured`` when no web search is set up)."""
    return await _websearch.search(ctx.source(WEBSEARCH), query)


def parse_when(published: str | None) -> dt.datetime | None:
    """An ISO date or datetime as an aware datetime (UTC when it carries no zone)."""
    if not published:
        return None
    try:
        when = dt.datetime.fromisoformat(published)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def iso_date(published: str | None) -> str | None:
    """The ``YYYY-MM-DD`` date of a hit's ``published``, or ``None``."""
    when = parse_when(published)
    return when.date().isoformat() if when is not None else None


def hit_text(hit: SearchHit) -> str:
    """A hit's snippet and extra snippets as one text."""
    return " ".join([hit.snippet, *hit.extra_snippets]).strip()


def citations_for(hits: Iterable[SearchHit]) -> list[Citation]:
    """One citation per distinct hit URL, at most :data:`MAX_CITATIONS`."""
    seen: dict[str, Citation] = {}
    for hit in hits:
        if hit.url not in seen and len(seen) < MAX_CITATIONS:
            seen[hit.url] = Citation(url=hit.url, title=hit.title or hit.url)
    return list(seen.values())


def _tokens(text: str) -> list[str]:
    return [t for t in re.findall(r"[a-z0-9]+", text.lower()) if t not in _NAME_NOISE]


_NAME_NOISE: Final = frozenset(
    {"the", "inc", "corp", "corporation", "co", "company", "llc", "ltd", "plc", "group", "sa", "ag"}
)


def mentions_company(text: str, company: Company) -> bool:
    """Whether ``text`` (e.g. "Costco Wholesale Corp") names ``company``."""
    words = _tokens(text)
    label = company.label.replace("-", "").lower()
    if len(label) >= 4 and label in "".join(words):
        return True
    # Every word of the name, not just the first: "American Eagle" is not "American Express".
    name_words = _tokens(company.name)
    return (bool(name_words) and all(w in words for w in name_words)) or label in words


def make_result(
    data: dict[str, Any], hits: Iterable[SearchHit], source_url: str | None, warnings: list[str]
) -> ModuleResult:
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=citations_for(hits),
        source=WEBSEARCH,
        source_url=source_url,
        warnings=warnings,
    )
