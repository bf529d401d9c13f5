"""m01_company_context: BuiltWith Meta and the homepage merged field by field.

BuiltWith's Domain API (its Meta block) and the homepage are asked at the same time; the first
source in the order BuiltWith, the homepage's schema.org Organization JSON-LD, its OpenGraph
tags, the rest of its HTML that has a field wins, and ``field_sources`` says where each field
came from.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final, NoReturn, TypeVar
from urllib.parse import urlsplit

import trio

from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    SourceNotConfigured,
)
from . import _builtwith as bw
from . import _html
from ._pagecommon import (
    BUILTWITH,
    FROM_BUILTWITH,
    FROM_HTML,
    FROM_JSONLD,
    FROM_OPENGRAPH,
    HOMEPAGE,
    HomepageView,
    _attempt,
    _builtwith_citation,
    _homepage_citation,
    _points,
    _unavailable,
    read_homepage,
)

T = TypeVar("T")


_COMPANY_FIELDS: Final = (
    "company_name",
    "legal_name",
    "description",
    "industry",
    "founded",
    "city",
    "state",
    "country",
    "employees",
    "employees_range",
    "phones",
    "emails",
    "ticker",
    "logo",
    "careers_url",
)

#: A tier of the merge: its ``field_sources`` label and the fields it has.
Tier = tuple[str, dict[str, Any]]


async def run_company_context(ctx: ModuleContext) -> ModuleResult:
    """m01: who the company is, from BuiltWith Meta and the homepage, merged field by field."""
    domain = ctx.domain
    profile, view = await _company_sources(ctx)
    errors = {
        name: outcome
        for name, outcome in ((BUILTWITH, profile), (HOMEPAGE, view))
        if isinstance(outcome, ModuleError)
    }
    if len(errors) == 2:
        _raise_first(errors)
    warnings = [_unavailable(name, error) for name, error in errors.items()]

    tiers: list[Tier] = []
    if isinstance(profile, bw.DomainProfile):
        if profile.meta is None:
            warnings.append("BuiltWith answered without company Meta (is NOMETA among its flags?)")
        tiers.append((FROM_BUILTWITH, builtwith_company_fields(profile)))
    if isinstance(view, HomepageView):
        tiers.extend(homepage_company_tiers(view.facts))
    data, field_sources = merge_company_fields(domain, tiers)
    data["field_sources"] = field_sources

    served = _served_by(field_sources)
    citations: list[Citation] = []
    if BUILTWITH in served:
        citations.append(_builtwith_citation(domain))
    if HOMEPAGE in served and isinstance(view, HomepageView):
        citations.append(_homepage_citation(view, domain))
    if not served:
        warnings.append(f"neither BuiltWith nor the homepage gave any company facts for {domain}")
    # The source that gave the most fields (ties to BuiltWith); with none, the first that answered.
    source = (
        max(served, key=served.__getitem__)
        if served
        else next(name for name in (BUILTWITH, HOMEPAGE) if name not in errors)
    )
    return ModuleResult(
        data=data,
        data_points=_points(data),
        citations=citations,
        source=source,
        source_url=citations[0].url if citations else None,
        warnings=warnings,
    )


async def _company_sources(
    ctx: ModuleContext,
) -> tuple[bw.DomainProfile | ModuleError, HomepageView | ModuleError]:
    """BuiltWith's profile and the homepage, fetched concurrently; each may be an error."""
    domain = ctx.domain
    profile: bw.DomainProfile | ModuleError | None = None
    view: HomepageView | ModuleError | None = None

    async def builtwith() -> None:
        nonlocal profile
        profile = await _attempt(ctx, BUILTWITH, lambda s: bw.lookup_domain(s, domain))

    async def homepage() -> None:
        nonlocal view
        view = await _attempt(ctx, HOMEPAGE, lambda s: read_homepage(s, domain))

    # _attempt catches every ModuleError, so one source failing never cancels the other.
    async with trio.open_nursery() as nursery:
        nursery.start_soon(builtwith)
        nursery.start_soon(homepage)
    assert profile is not None and view is not None
    return profile, view


def _raise_first(errors: Mapping[str, ModuleError]) -> NoReturn:
    """Both sources failed: raise the first one that was tried (or "not configured")."""
    reasons = "; ".join(f"{name}: {error.message}" for name, error in errors.items())
    tried = [e for e in errors.values() if not isinstance(e, SourceNotConfigured)]
    if not tried:
        raise SourceNotConfigured(
            BUILTWITH, why=f"neither builtwith nor homepage is configured ({reasons})"
        )
    first = tried[0]
    raise ModuleError(
        first.code, f"no source could serve: {reasons}", source=first.source
    ) from first


def _served_by(field_sources: Mapping[str, str]) -> dict[str, int]:
    """Source name -> number of fields it gave, in the order sources are preferred."""
    counts = {BUILTWITH: 0, HOMEPAGE: 0}
    for label in field_sources.values():
        counts[label.split(":", 1)[0]] += 1
    return {name: count for name, count in counts.items() if count}


def builtwith_company_fields(profile: bw.DomainProfile) -> dict[str, Any]:
    """The m01 fields in a Domain API answer's Meta and Attributes."""
    meta = profile.meta
    if meta is None:
        return {}
    return {
        "company_name": meta.company_name,
        "industry": meta.vertical,
        "city": meta.city,
        "state": meta.state,
        "country": country_code(meta.country),
        "employees": meta.employees,
        "phones": list(meta.telephones),
        "emails": [e.lower() for e in meta.emails],
        "social_profiles": social_profiles(meta.social),
    }


def homepage_company_tiers(facts: _html.PageFacts) -> list[Tier]:
    """The homepage's m01 fields in merge order: JSON-LD, OpenGraph, the rest of the HTML."""
    tiers: list[Tier] = []
    org = facts.organization
    if org is not None:
        tiers.append((FROM_JSONLD, _jsonld_fields(facts, org)))
    og = facts.opengraph
    tiers.append(
        (
            FROM_OPENGRAPH,
            {
                "company_name": _clean(og.get("site_name")),
                "description": _clean(og.get("description")),
                "social_profiles": _twitter_site(facts.twitter_site),
            },
        )
    )
    tiers.append(
        (
            FROM_HTML,
            {
                "description": _clean(facts.description),
                "phones": list(facts.phones),
                "emails": list(facts.emails),
                "social_profiles": dict(facts.social_profiles),
                "careers_url": facts.careers_urls[0] if facts.careers_urls else None,
            },
        )
    )
    return tiers


def _jsonld_fields(facts: _html.PageFacts, org: _html.Organization) -> dict[str, Any]:
    address = org.address or _html.Address()
    employees = org.employees
    employees_range = None
    if isinstance(employees, _html.EmployeeRange):
        # A range is reported as its lower bound (never an invented midpoint) plus the range.
        employees_range = {"min": employees.min, "max": employees.max}
        employees = employees.min
    same_as = {_profile_key(url) for url in org.same_as}
    return {
        "company_name": org.name,
        "legal_name": org.legal_name,
        "description": org.description,
        "industry": org.industry,
        "founded": _founded(org.founding_year),
        "city": address.city,
        "state": address.region,
        "country": country_code(address.country),
        "employees": employees,
        "employees_range": employees_range,
        "phones": list(org.telephones),
        "emails": [e.lower() for e in org.emails],
        # The page's profiles that its Organization's sameAs lists (the rest are page links).
        "social_profiles": {
            platform: url
            for platform, url in facts.social_profiles.items()
            if _profile_key(url) in same_as
        },
        "ticker": ticker_symbol(org.ticker_symbol),
        "logo": org.logo,
    }


def merge_company_fields(
    domain: str, tiers: Iterable[Tier]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Merge ``tiers`` field by field (the first tier with a value wins) into m01's data."""
    tiers = list(tiers)
    found: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in _COMPANY_FIELDS:
        for label, fields in tiers:
            value = fields.get(field)
            if _present(value):
                found[field] = value
                sources[field] = label
                break
    social: dict[str, str] = {}
    for label, fields in tiers:
        for platform, url in (fields.get("social_profiles") or {}).items():
            if platform not in social and url:
                social[platform] = url
                sources[f"social_profiles.{platform}"] = label
    hq = _hq(found.get("city"), found.get("state"), found.get("country"))
    if hq is not None:
        sources["hq"] = sources["city"]
    data: dict[str, Any] = {
        "company_name": found.get("company_name"),
        "legal_name": found.get("legal_name"),
        "domain": domain,
        "description": found.get("description"),
        "industry": found.get("industry"),
        "founded": found.get("founded"),
        "hq": hq,
        "city": found.get("city"),
        "state": found.get("state"),
        "country": found.get("country"),
        "employees": found.get("employees"),
        "employees_range": found.get("employees_range"),
        "phones": found.get("phones", []),
        "emails": found.get("emails", []),
        "social_profiles": dict(sorted(social.items())),
        "ticker": found.get("ticker"),
        "logo": found.get("logo"),
        "careers_url": found.get("careers_url"),
    }
    # The range belongs to the employee count it came with.
    if sources.get("employees_range") != sources.get("employees"):
        data["employees_range"] = None
        sources.pop("employees_range", None)
    return data, dict(sorted(sources.items()))


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and value != {}


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    return " ".join(value.split()) or None


def _hq(city: str | None, state: str | None, country: str | None) -> str | None:
    """``"City, State"``, else ``"City, Country"`` (the country's name when known)."""
    if not city:
        return None
    if state:
        return f"{city}, {state}"
    if country:
        return f"{city}, {_COUNTRY_NAMES.get(country, country)}"
    return city


def _founded(year: int | None) -> int | None:
    if year is None or year > dt.datetime.now(dt.UTC).year:
        return None
    return year


_TICKER_RE: Final = re.compile(r"^[A-Z0-9][A-Z0-9.\-]{0,9}$")


def ticker_symbol(value: str | None) -> str | None:
    """A bare ticker from schema.org ``tickerSymbol`` ("NASDAQ: COST" → "COST")."""
    if not value:
        return None
    symbol = value.rsplit(":", 1)[-1].strip().upper()
    return symbol if _TICKER_RE.match(symbol) else None


# Social networks by host, for BuiltWith's Meta.Social (a flat list of URLs).
_SOCIAL_HOSTS: Final = (
    ("linkedin", re.compile(r"(?:^|\.)linkedin\.com$")),
    ("twitter", re.compile(r"(?:^|\.)(?:twitter|x)\.com$")),
    ("facebook", re.compile(r"(?:^|\.)(?:facebook|fb)\.com$")),
    ("instagram", re.compile(r"(?:^|\.)instagram\.com$")),
    ("youtube", re.compile(r"(?:^|\.)youtube\.com$")),
    ("tiktok", re.compile(r"(?:^|\.)tiktok\.com$")),
    ("github", re.compile(r"(?:^|\.)github\.com$")),
    ("pinterest", re.compile(r"(?:^|\.)pinterest\.[a-z.]+$")),
)
_SHARE_PATH: Final = re.compile(r"/(?:sharer|share|intent|dialog)\b", re.IGNORECASE)


def social_profiles(urls: Iterable[str]) -> dict[str, str]:
    """Network -> profile URL for the profile links among ``urls`` (the first per network)."""
    profiles: dict[str, str] = {}
    for url in urls:
        absolute = url if "://" in url else f"https://{url}"
        host, path = _host_path(absolute)
        if not host or path in ("", "/") or _SHARE_PATH.search(path):
            continue
        for platform, pattern in _SOCIAL_HOSTS:
            if pattern.search(host):
                profiles.setdefault(platform, absolute.rstrip("/"))
                break
    return profiles


def _host_path(url: str) -> tuple[str, str]:
    try:
        parts = urlsplit(url)
        return (parts.hostname or "").lower(), parts.path
    except ValueError:
        return "", ""


def _twitter_site(handle: str | None) -> dict[str, str]:
    handle = (handle or "").strip().lstrip("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", handle):
        return {}
    return {"twitter": f"https://twitter.com/{handle}"}


def _profile_key(url: str) -> str:
    """A URL reduced for comparing profile links: no scheme, ``www.``, query or end slash."""
    host, path = _host_path(url if "://" in url else f"https://{url}")
    return f"{host.removeprefix('www.')}{path.rstrip('/')}".lower()


# ISO-3166 alpha-2 codes for the names and alpha-3 codes pages commonly write.
_COUNTRIES: Final = (
    ("US", "United States", ("USA", "U.S.", "U.S.A.", "United States of America", "America")),
    ("GB", "United Kingdom", ("GBR", "UK", "U.K.", "Great Britain", "England", "Britain")),
    ("CA", "Canada", ("CAN",)),
    ("AU", "Australia", ("AUS",)),
    ("NZ", "New Zealand", ("NZL",)),
    ("IE", "Ireland", ("IRL",)),
    ("DE", "Germany", ("DEU", "Deutschland")),
    ("FR", "France", ("FRA",)),
    ("ES", "Spain", ("ESP", "España")),
    ("IT", "Italy", ("ITA", "Italia")),
    ("NL", "Netherlands", ("NLD", "The Netherlands", "Holland")),
    ("BE", "Belgium", ("BEL",)),
    ("CH", "Switzerland", ("CHE",)),
    ("AT", "Austria", ("AUT",)),
    ("SE", "Sweden", ("SWE",)),
    ("NO", "Norway", ("NOR",)),
    ("DK", "Denmark", ("DNK",)),
    ("FI", "Finland", ("FIN",)),
    ("PL", "Poland", ("POL",)),
    ("PT", "Portugal", ("PRT",)),
    ("CZ", "Czechia", ("CZE", "Czech Republic")),
    ("IL", "Israel", ("ISR",)),
    ("IN", "India", ("IND",)),
    ("CN", "China", ("CHN",)),
    ("JP", "Japan", ("JPN",)),
    ("KR", "South Korea", ("KOR", "Korea", "Republic of Korea")),
    ("SG", "Singapore", ("SGP",)),
    ("HK", "Hong Kong", ("HKG",)),
    ("TW", "Taiwan", ("TWN",)),
    ("BR", "Brazil", ("BRA", "Brasil")),
    ("MX", "Mexico", ("MEX", "México")),
    ("AR", "Argentina", ("ARG",)),
    ("CL", "Chile", ("CHL",)),
    ("ZA", "South Africa", ("ZAF",)),
    ("AE", "United Arab Emirates", ("ARE", "UAE")),
    ("SA", "Saudi Arabia", ("SAU",)),
    ("TR", "Turkey", ("TUR", "Türkiye")),
    ("LU", "Luxembourg", ("LUX",)),
)
_COUNTRY_NAMES: Final = {code: name for code, name, _ in _COUNTRIES}
_COUNTRY_CODES: Final = {
    alias.casefold(): code for code, name, aliases in _COUNTRIES for alias in (code, name, *aliases)
}


def country_code(value: str | None) -> str | None:
    """ISO-3166 alpha-2 for ``value`` where it is known; otherwise ``value`` as given."""
    if not value or not value.strip():
        return None
    text = value.strip()
    code = _COUNTRY_CODES.get(text.casefold())
    if code is not None:
        return code
    return text.upper() if re.fullmatch(r"[A-Za-z]{2}", text) else text
