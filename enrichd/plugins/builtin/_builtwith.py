"""BuiltWith: the Domain API (paid) and the Free API.

Both APIs report most errors with HTTP 200 and an ``Errors`` array, so a 2xx answer is only a
success once its body has been parsed and found free of errors. The Domain API's timestamps are
epoch *milliseconds*, the Free API's epoch *seconds*; both are turned into ISO dates here, so the
modules never see raw epochs.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final, Literal, TypeVar

import msgspec

from .._types import ModuleError, NoData, Source, SourceResponse, SourceSpec

__all__ = [
    "DEFAULT_API_VERSION",
    "DOMAIN_SOURCE",
    "FREE_PATH",
    "FREE_SOURCE",
    "SOURCES",
    "BuiltWithOptions",
    "CompanyMeta",
    "DomainProfile",
    "FreeCategory",
    "FreeGroup",
    "FreeProfile",
    "SpendPoint",
    "Technology",
    "epoch_date",
    "lookup_domain",
    "lookup_free",
    "profile_url",
    "tag_name",
]

DOMAIN_SOURCE: Final = "builtwith"
FREE_SOURCE: Final = "builtwith_free"
DEFAULT_API_VERSION: Final = "v22"
FREE_PATH: Final = "free1/api.json"

#: The Domain API's switches (sent as ``FLAG=yes``); by default none, so Meta and text come back.
Flag = Literal["HIDETEXT", "HIDEDL", "LIVEONLY", "NOMETA", "NOPII", "NOATTR"]


class BuiltWithOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The keys of ``[sources.builtwith]`` beyond the common ones."""

    #: The version path of the Domain API (``v22`` → ``GET v22/api.json``).
    api_version: Annotated[str, msgspec.Meta(pattern=r"^v\d+$")] = DEFAULT_API_VERSION
    #: Domain API flags to send, e.g. ``["LIVEONLY"]``; ``NOMETA`` leaves m01 without BuiltWith.
    flags: list[Flag] = msgspec.field(default_factory=list)


SOURCES: list[SourceSpec] = [
    SourceSpec(
        name=DOMAIN_SOURCE,
        description="BuiltWith Domain API (paid)",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback=FREE_SOURCE,
        rate_per_second=2.0,
        burst=2,
        # Enough calls in flight to use the rate at a few seconds an answer.
        max_concurrency=6,
        homepage="https://builtwith.com",
        options_type=BuiltWithOptions,
    ),
    SourceSpec(
        name=FREE_SOURCE,
        description="BuiltWith Free API",
        base_url="https://api.builtwith.com",
        auth=("query", "KEY"),
        fallback="homepage",
        rate_per_second=1.0,
        burst=1,
        max_concurrency=1,
        homepage="https://builtwith.com",
    ),
]

# Human names for BuiltWith's group tags (the values seen in real data; the Free API's group
# names are the same tags). A tag missing here is shown as BuiltWith spells it.
_TAG_NAMES: Final[dict[str, str]] = {
    "ads": "Advertising",
    "analytics": "Analytics and Tracking",
    "cdn": "Content Delivery Network",
    "cdns": "Content Delivery Network",
    "cms": "Content Management System",
    "copyright": "Copyright",
    "css": "CSS",
    "docinfo": "Document Information",
    "encoding": "Encoding",
    "feeds": "Feeds",
    "framework": "Frameworks",
    "hosting": "Web Hosting",
    "javascript": "JavaScript Libraries",
    "language": "Language",
    "link": "Links",
    "media": "Media",
    "mobile": "Mobile",
    "mx": "Email Hosting",
    "ns": "Name Server",
    "payment": "Payment",
    "seo_headers": "SEO Headers",
    "seo_meta": "SEO Meta",
    "seo_title": "SEO Title",
    "server": "Server",
    "shipping": "Shipping",
    "shop": "eCommerce",
    "ssl": "SSL Certificates",
    "web master": "Web Master",
    "web server": "Web Server",
    "widgets": "Widgets",
}

_AUTH_RE: Final = re.compile(r"key|auth|unauthori", re.IGNORECASE)
_NOT_FOUND_RE: Final = re.compile(r"not in our system", re.IGNORECASE)
_CREDITS_RE: Final = re.compile(r"credit|quota", re.IGNORECASE)
_NOT_FOUND_CODE: Final = "-10"

_T = TypeVar("_T")


# -- public results ----------------------------------------------------------------------------


class Technology(msgspec.Struct, kw_only=True, frozen=True):
    """One technology the Domain API found, merged across the site's paths."""

    name: str
    #: The first of BuiltWith's Categories, else the human name of its Tag.
    category: str
    tag: str | None = None
    categories: tuple[str, ...] = ()
    #: ISO dates (YYYY-MM-DD, UTC): the earliest first and latest last detection over all paths.
    first_detected: str | None = None
    last_detected: str | None = None
    premium: bool | None = None
    parent: str | None = None


class SpendPoint(msgspec.Struct, kw_only=True, frozen=True):
    """One point of BuiltWith's SpendHistory."""

    date: str
    usd: int


class CompanyMeta(msgspec.Struct, kw_only=True, frozen=True):
    """The company facts of a Domain API answer (its Meta and Attributes blocks)."""

    company_name: str | None = None
    vertical: str | None = None
    social: tuple[str, ...] = ()
    telephones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    city: str | None = None
    state: str | None = None
    postcode: str | None = None
    #: ISO-3166 alpha-2 as BuiltWith gives it.
    country: str | None = None
    #: Attributes.Employees when above zero (BuiltWith sends 0 for "unknown").
    employees: int | None = None


class DomainProfile(msgspec.Struct, kw_only=True, frozen=True):
    """What the Domain API knows about one domain."""

    domain: str
    technologies: tuple[Technology, ...] = ()
    #: Estimated monthly USD spend on premium technology (``None`` when not sent).
    spend_usd: int | None = None
    spend_history: tuple[SpendPoint, ...] = ()
    meta: CompanyMeta | None = None
    first_indexed: str | None = None
    last_indexed: str | None = None


class FreeCategory(msgspec.Struct, kw_only=True, frozen=True):
    """One technology category of the Free API: counts, never technology names."""

    name: str
    live: int = 0
    dead: int = 0
    first_detected: str | None = None
    last_detected: str | None = None


class FreeGroup(msgspec.Struct, kw_only=True, frozen=True):
    """One group (a BuiltWith tag such as ``analytics``) of the Free API."""

    name: str
    #: The human name of the group's tag.
    category: str
    live: int = 0
    dead: int = 0
    first_detected: str | None = None
    last_detected: str | None = None
    categories: tuple[FreeCategory, ...] = ()


class FreeProfile(msgspec.Struct, kw_only=True, frozen=True):
    """What the Free API knows about one domain."""

    domain: str
    first_indexed: str | None = None
    last_indexed: str | None = None
    groups: tuple[FreeGroup, ...] = ()


# -- wire format (tolerant: every field optional, unknown fields ignored) -----------------------


class _WireError(msgspec.Struct, rename="pascal"):
    lookup: Any = None
    message: Any = None
    code: Any = None


class _WireTech(msgspec.Struct, rename="pascal"):
    name: Any = None
    tag: Any = None
    categories: Any = None
    parent: Any = None
    is_premium: Any = None
    first_detected: float | None = None
    last_detected: float | None = None


class _WirePath(msgspec.Struct, rename="pascal"):
    technologies: list[_WireTech] | None = None


class _WireSpend(msgspec.Struct, rename="pascal"):
    d: float | None = None
    s: float | None = None


class _WireResult(msgspec.Struct, rename="pascal"):
    spend: float | None = None
    spend_history: list[_WireSpend] | None = None
    paths: list[_WirePath] | None = None


class _WireMeta(msgspec.Struct, rename="pascal"):
    company_name: Any = None
    vertical: Any = None
    social: Any = None
    telephones: Any = None
    emails: Any = None
    city: Any = None
    state: Any = None
    postcode: Any = None
    country: Any = None


class _WireAttributes(msgspec.Struct, rename="pascal"):
    employees: float | None = None


class _WireItem(msgspec.Struct, rename="pascal"):
    result: _WireResult | None = None
    meta: _WireMeta | None = None
    attributes: _WireAttributes | None = None
    lookup: Any = None
    first_indexed: float | None = None
    last_indexed: float | None = None


class _WireDomain(msgspec.Struct, rename="pascal"):
    results: list[_WireItem] | None = None
    errors: list[_WireError] | None = None


class _WireFreeCategory(msgspec.Struct):
    name: Any = None
    live: float | None = None
    dead: float | None = None
    latest: float | None = None
    oldest: float | None = None


class _WireFreeGroup(msgspec.Struct):
    name: Any = None
    live: float | None = None
    dead: float | None = None
    latest: float | None = None
    oldest: float | None = None
    categories: list[_WireFreeCategory] | None = None


class _WireFree(msgspec.Struct):
    domain: Any = None
    first: float | None = None
    last: float | None = None
    groups: list[_WireFreeGroup] | None = None
    errors: list[_WireError] | None = msgspec.field(name="Errors", default=None)


class _WireErrorsOnly(msgspec.Struct):
    errors: list[_WireError] | None = msgspec.field(name="Errors", default=None)


# -- helpers -----------------------------------------------------------------------------------


def profile_url(domain: str) -> str:
    """BuiltWith's public page for ``domain`` (the citation for BuiltWith data)."""
    return f"https://builtwith.com/{domain}"


def tag_name(tag: str) -> str:
    """The human name of a BuiltWith tag (``shop`` → ``eCommerce``); unknown tags unchanged."""
    return _TAG_NAMES.get(tag.strip().casefold(), tag.strip())


def epoch_date(value: float | None, *, milliseconds: bool) -> str | None:
    """An epoch timestamp as an ISO date (UTC); ``None`` for missing, zero or absurd values."""
    if value is None or value <= 0:
        return None
    seconds = value / 1000 if milliseconds else value
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _texts(value: Any) -> tuple[str, ...]:
    """The non-empty strings of a string array (BuiltWith sends ``null`` for none)."""
    if not isinstance(value, list):
        return ()
    seen: dict[str, None] = {}
    for item in value:
        text = _text(item)
        if text is not None:
            seen.setdefault(text, None)
    return tuple(seen)


def _count(value: float | None) -> int:
    return int(value) if value is not None and value > 0 else 0


def _options(source: Source) -> BuiltWithOptions:
    options = source.settings.options
    return options if isinstance(options, BuiltWithOptions) else BuiltWithOptions()


# -- errors ------------------------------------------------------------------------------------


def _raise_errors(source: Source, domain: str, errors: list[_WireError]) -> None:
    """Raise the error an ``Errors`` array stands for (a no-op when it is empty)."""
    if not errors:
        return
    messages = [_text(e.message) or f"error code {e.code}" for e in errors]
    joined = "; ".join(messages)
    if any(str(e.code).strip() == _NOT_FOUND_CODE for e in errors) or _NOT_FOUND_RE.search(joined):
        raise NoData(f"BuiltWith has no data for {domain}: {joined}", source=source.name)
    if _AUTH_RE.search(joined):
        raise ModuleError(
            "auth_failed", f"BuiltWith refused the API key: {joined}", source=source.name
        )
    if _CREDITS_RE.search(joined):
        raise ModuleError(
            "quota_exhausted", f"BuiltWith refused the lookup: {joined}", source=source.name
        )
    raise ModuleError(
        "upstream_error", f"BuiltWith answered an error: {joined}", source=source.name
    )


def _check_status(source: Source, domain: str, response: SourceResponse) -> None:
    """Turn a non-2xx answer into an error (the actor already retried 429 and 5xx)."""
    status = response.status_code
    if 200 <= status < 300:
        return
    try:
        errors = msgspec.json.decode(response.content, type=_WireErrorsOnly).errors or []
    except msgspec.DecodeError:
        errors = []
    detail = "; ".join(_text(e.message) or "" for e in errors).strip("; ")
    suffix = f": {detail}" if detail else ""
    if status in (401, 403):
        raise ModuleError(
            "auth_failed",
            f"BuiltWith refused the API key (HTTP {status}){suffix}",
            source=source.name,
        )
    _raise_errors(source, domain, errors)
    raise ModuleError(
        "upstream_error", f"{response.url} answered HTTP {status}{suffix}", source=source.name
    )


def _decode(source: Source, response: SourceResponse, kind: type[_T]) -> _T:
    try:
        return msgspec.json.decode(response.content, type=kind)
    except msgspec.DecodeError as exc:
        raise ModuleError(
            "malformed_response",
            f"{response.url}: not a BuiltWith answer: {exc}",
            source=source.name,
        ) from exc


# -- the Domain API ----------------------------------------------------------------------------


async def lookup_domain(source: Source, domain: str) -> DomainProfile:
    """Look ``domain`` up in the Domain API (``{api_version}/api.json``).

    Raises :class:`NoData` when BuiltWith does not know the domain, and :class:`ModuleError`
    ``auth_failed``, ``quota_exhausted``, ``upstream_error`` or ``malformed_response``.
    """
    options = _options(source)
    params: dict[str, str] = {"LOOKUP": domain}
    params.update(dict.fromkeys(options.flags, "yes"))
    response = await source.get(f"{options.api_version}/api.json", params=params)
    _check_status(source, domain, response)
    envelope = _decode(source, response, _WireDomain)
    _raise_errors(source, domain, envelope.errors or [])
    item = _pick_item(envelope.results or [], domain)
    if item is None:
        raise NoData(f"BuiltWith returned no result for {domain}", source=source.name)
    return _domain_profile(domain, item)


def _pick_item(items: list[_WireItem], domain: str) -> _WireItem | None:
    """The result for ``domain`` (matched on Lookup), else the first one."""
    for item in items:
        lookup = _text(item.lookup)
        if lookup is not None and lookup.casefold() == domain.casefold():
            return item
    return items[0] if items else None


def _domain_profile(domain: str, item: _WireItem) -> DomainProfile:
    result = item.result or _WireResult()
    spend = int(result.spend) if result.spend is not None and result.spend >= 0 else None
    history = tuple(
        SpendPoint(date=date, usd=int(point.s))
        for point in result.spend_history or []
        if point.s is not None and (date := epoch_date(point.d, milliseconds=True)) is not None
    )
    return DomainProfile(
        domain=domain,
        technologies=_merge_technologies(result.paths or []),
        spend_usd=spend,
        spend_history=history,
        meta=_company_meta(item),
        first_indexed=epoch_date(item.first_indexed, milliseconds=True),
        last_indexed=epoch_date(item.last_indexed, milliseconds=True),
    )


def _merge_technologies(paths: list[_WirePath]) -> tuple[Technology, ...]:
    """One entry per technology name over every path: earliest first, latest last detection."""
    merged: dict[str, Technology] = {}
    for path in paths:
        for wire in path.technologies or []:
            tech = _technology(wire)
            if tech is None:
                continue
            key = tech.name.casefold()
            seen = merged.get(key)
            merged[key] = tech if seen is None else _combine(seen, tech)
    return tuple(merged.values())


def _technology(wire: _WireTech) -> Technology | None:
    name = _text(wire.name)
    if name is None:
        return None
    tag = _text(wire.tag)
    categories = _texts(wire.categories)
    category = categories[0] if categories else tag_name(tag) if tag else "Other"
    premium = wire.is_premium
    return Technology(
        name=name,
        category=category,
        tag=tag,
        categories=categories,
        first_detected=epoch_date(wire.first_detected, milliseconds=True),
        last_detected=epoch_date(wire.last_detected, milliseconds=True),
        premium=premium.strip().casefold() == "yes" if isinstance(premium, str) else None,
        parent=_text(wire.parent),
    )


def _combine(a: Technology, b: Technology) -> Technology:
    """``a`` seen on another path as ``b``: widen the detection window, fill missing facts."""
    firsts = [d for d in (a.first_detected, b.first_detected) if d]
    lasts = [d for d in (a.last_detected, b.last_detected) if d]
    return msgspec.structs.replace(
        a,
        # The first path's category wins unless it only had the tag's generic name.
        category=a.category if a.categories or not b.categories else b.category,
        tag=a.tag or b.tag,
        categories=a.categories or b.categories,
        first_detected=min(firsts) if firsts else None,
        last_detected=max(lasts) if lasts else None,
        premium=a.premium if a.premium is not None else b.premium,
        parent=a.parent or b.parent,
    )


def _company_meta(item: _WireItem) -> CompanyMeta | None:
    meta = item.meta
    employees = _count(item.attributes.employees) if item.attributes else 0
    if meta is None and not employees:
        return None
    meta = meta or _WireMeta()
    country = _text(meta.country)
    return CompanyMeta(
        company_name=_text(meta.company_name),
        vertical=_text(meta.vertical),
        social=_texts(meta.social),
        telephones=_texts(meta.telephones),
        emails=_texts(meta.emails),
        city=_text(meta.city),
        state=_text(meta.state),
        postcode=_text(meta.postcode),
        country=country.upper() if country and len(country) == 2 else country,
        employees=employees or None,
    )


# -- the Free API ------------------------------------------------------------------------------


async def lookup_free(source: Source, domain: str) -> FreeProfile:
    """Look ``domain`` up in the Free API (``free1/api.json``): group and category counts.

    Raises :class:`NoData` when BuiltWith does not know the domain or lists no groups, and
    :class:`ModuleError` like :func:`lookup_domain`.
    """
    response = await source.get(FREE_PATH, params={"LOOKUP": domain})
    _check_status(source, domain, response)
    wire = _decode(source, response, _WireFree)
    _raise_errors(source, domain, wire.errors or [])
    groups = tuple(g for g in (_free_group(w) for w in wire.groups or []) if g is not None)
    if not groups:
        raise NoData(f"BuiltWith's Free API lists no technology for {domain}", source=source.name)
    return FreeProfile(
        domain=_text(wire.domain) or domain,
        first_indexed=epoch_date(wire.first, milliseconds=False),
        last_indexed=epoch_date(wire.last, milliseconds=False),
        groups=groups,
    )


def _free_group(wire: _WireFreeGroup) -> FreeGroup | None:
    name = _text(wire.name)
    if name is None:
        return None
    categories = tuple(
        FreeCategory(
            name=cat_name,
            live=_count(cat.live),
            dead=_count(cat.dead),
            first_detected=epoch_date(cat.oldest, milliseconds=False),
            last_detected=epoch_date(cat.latest, milliseconds=False),
        )
        for cat in wire.categories or []
        if (cat_name := _text(cat.name)) is not None
    )
    return FreeGroup(
        name=name,
        category=tag_name(name),
        live=_count(wire.live),
        dead=_count(wire.dead),
        first_detected=epoch_date(wire.oldest, milliseconds=False),
        last_detected=epoch_date(wire.latest, milliseconds=False),
        categories=categories,
    )
