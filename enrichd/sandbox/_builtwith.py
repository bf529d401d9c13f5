"""BuiltWith: the Domain API (``/{vNN}/api.json``) and the Free API (``/free1/api.json``).

Errors come back with HTTP 200 and an ``Errors`` array, as the real API does. Timestamps are
epoch milliseconds in the Domain API and epoch seconds in the Free API.
"""

from __future__ import annotations

from typing import Any

from ._catalog import TECHS
from ._http import HttpRequest, HttpResponse, json_response
from ._model import Profile, TechUse
from ._profile import profile_for
from ._util import (
    DAY,
    add_months,
    is_bad_key,
    iso_date,
    month_of,
    month_start,
    rank_for,
    today,
    unit,
)

_NOT_IN_SYSTEM = "Domain not in our system. Paid for lookups would return something."
_MAX_LOOKUPS = 16
_OFF = ("no", "false", "0")


def _param(query: dict[str, str], name: str) -> str | None:
    """A query parameter by case-insensitive name (the docs use KEY/LOOKUP, some clients not)."""
    if name in query:
        return query[name]
    lower = name.lower()
    return next((v for k, v in query.items() if k.lower() == lower), None)


def _flag(query: dict[str, str], name: str) -> bool:
    value = _param(query, name)
    return value is not None and value.lower() not in _OFF


def _error(lookup: str | None, message: str, code: int, results: object) -> HttpResponse:
    return json_response(
        {"Errors": [{"Lookup": lookup, "Message": message, "Code": code}], "Results": results}
    )


def handle(request: HttpRequest, now: float) -> HttpResponse:
    """Answer a BuiltWith request (Domain API or Free API by path)."""
    parts = request.path.strip("/").split("/")
    if len(parts) != 3 or parts[2] != "api.json":
        return json_response({"Errors": [{"Message": "Unknown endpoint", "Code": -4}]}, 404)
    version = parts[1]
    free = version == "free1"
    if not free and not (version.startswith("v") and version[1:].isdigit()):
        return json_response({"Errors": [{"Message": "Unknown API version", "Code": -4}]}, 404)
    raw = _param(request.query, "LOOKUP") or ""
    lookups = [x.strip().lower() for x in raw.split(",") if x.strip()][:_MAX_LOOKUPS]
    if is_bad_key(_param(request.query, "KEY")):
        return _error(lookups[0] if lookups else None, "API Key Invalid", -1, [])
    if not lookups:
        return _error(None, "No LOOKUP supplied", -2, [])
    if free:
        return _free(lookups[0], now)
    return _domain_api(lookups, request.query, now)


def _domain_api(lookups: list[str], query: dict[str, str], now: float) -> HttpResponse:
    results: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    for lookup in lookups:
        profile = profile_for(lookup)
        if profile is None:
            errors.append({"Lookup": lookup, "Message": "Invalid domain name", "Code": -3})
        elif not profile.known:
            errors.append({"Lookup": lookup, "Message": _NOT_IN_SYSTEM, "Code": -10})
        else:
            results.append(_result(profile, lookup, query, now))
    return json_response(
        {"Results": results if results or not errors else None, "Errors": errors, "Trust": None}
    )


def _dates(profile: Profile, use: TechUse, day: int) -> tuple[int, int]:
    """First and last detection (epoch s) of ``use`` as of ``day``."""
    first = min(use.first, day - 30 * DAY)
    if use.dead_at is not None:
        return min(first, use.dead_at - 90 * DAY), min(use.dead_at, day - 30 * DAY)
    return first, day - int(unit("seen", profile.domain, use.name) * 9) * DAY


def _in_range(value: int, spec: str | None) -> bool:
    """``FDRANGE``/``LDRANGE`` filter: ``YYYYMMDD-YYYYMMDD`` (bad specs filter nothing)."""
    if not spec or "-" not in spec:
        return True
    low, _, high = spec.partition("-")
    day = iso_date(value).replace("-", "")
    return (not low.isdigit() or day >= low) and (not high.isdigit() or day <= high)


def _technology(profile: Profile, use: TechUse, query: dict[str, str], day: int) -> dict[str, Any]:
    tech = TECHS[use.name]
    first, last = _dates(profile, use, day)
    item: dict[str, Any] = {"Name": tech.name}
    if not (_flag(query, "HIDETEXT") or _flag(query, "HIDEDL")):
        item["Description"] = tech.description
        item["Link"] = tech.link
    if tech.name == "Shopify Plus":
        item["Parent"] = "Shopify"
    item["Tag"] = tech.tag
    if not _flag(query, "HIDETEXT"):
        item["Categories"] = list(tech.categories)
    item["IsPremium"] = "yes" if tech.premium else "no"
    item["FirstDetected"] = first * 1000
    item["LastDetected"] = last * 1000
    return item


def _technologies(profile: Profile, query: dict[str, str], day: int, www: bool) -> list[Any]:
    items = []
    for use in profile.techs:
        if www and not use.www:
            continue
        if use.dead_at is not None and _flag(query, "LIVEONLY"):
            continue
        first, last = _dates(profile, use, day)
        if _in_range(first, _param(query, "FDRANGE")) and _in_range(last, _param(query, "LDRANGE")):
            items.append(_technology(profile, use, query, day))
    return items


def _result(profile: Profile, lookup: str, query: dict[str, str], now: float) -> dict[str, Any]:
    day = today(now)
    first_ms = min(profile.first_indexed, day - 60 * DAY) * 1000
    paths = [
        {
            "Domain": profile.domain,
            "Url": "",
            "SubDomain": sub,
            "FirstIndexed": first_ms,
            "LastIndexed": day * 1000,
            "Technologies": _technologies(profile, query, day, sub == "www"),
        }
        for sub in ("", "www")
    ]
    entry: dict[str, Any] = {
        "Result": {
            "IsDB": "True",
            "Spend": profile.spend,
            "SpendHistory": _spend_history(profile, now),
            "Paths": paths,
        },
    }
    if not _flag(query, "NOMETA"):
        entry["Meta"] = _meta(profile, pii=not _flag(query, "NOPII"))
    if not _flag(query, "NOATTR"):
        entry["Attributes"] = _attributes(profile)
    entry.update(
        FirstIndexed=first_ms,
        LastIndexed=day * 1000,
        Lookup=lookup,
        SalesRevenue=int(profile.revenue),
    )
    return entry


def _spend_history(profile: Profile, now: float) -> list[dict[str, int]]:
    year, month = month_of(now)
    history = []
    for back in range(12, 0, -1):
        y, m = add_months(year, month, -back)
        ramp = 0.75 + 0.25 * (12 - back) / 11 + 0.05 * unit("spend", profile.domain, y, m)
        history.append({"D": month_start(y, m) * 1000, "S": int(profile.spend * ramp)})
    return history


def _meta(profile: Profile, *, pii: bool) -> dict[str, Any]:
    rank = rank_for(profile.visits)
    names = [
        {
            "Name": e.name,
            "Type": 0,
            "Email": f"{e.name.split()[0].lower()}.{e.name.split()[-1].lower()}@{profile.domain}",
        }
        for e in profile.execs[:3]
    ]
    return {
        "Majestic": int(rank * (0.6 + unit("maj", profile.domain))),
        "Umbrella": int(rank * (0.5 + unit("umb", profile.domain))),
        "Vertical": profile.vertical,
        "Social": list(profile.social),
        "CompanyName": profile.name,
        "Telephones": [profile.phone],
        "Emails": list(profile.emails),
        "City": profile.city,
        "State": profile.state,
        "Postcode": profile.postcode,
        "Country": profile.country,
        "Names": names if pii else None,
        "ARank": rank,
        "QRank": -1,
    }


def _attributes(profile: Profile) -> dict[str, int]:
    names = profile.tech_names()
    rank = rank_for(profile.visits)
    return {
        "Employees": profile.employees,
        "MJRank": int(rank * 1.3),
        "MJTLDRank": int(rank * 0.9),
        "RefSN": int(profile.visits**0.5 / 3),
        "RefIP": int(profile.visits**0.5 / 4),
        "Followers": int(profile.visits / 40),
        "Sitemap": int(profile.visits**0.5 / 2),
        "GTMTags": 1 if "Google Tag Manager" in names else 0,
        "QubitTags": 0,
        "TealiumTags": 1 if "Tealium" in names else 0,
        "AdobeTags": 1 if "Adobe Analytics" in names else 0,
        "CDimensions": 0,
        "CGoals": 0,
        "CMetrics": 0,
        "ProductCount": int(profile.employees * 12) if profile.commerce else 0,
    }


def _free(lookup: str, now: float) -> HttpResponse:
    profile = profile_for(lookup)
    if profile is None or not profile.known:
        return json_response(
            {
                "Errors": [{"Lookup": None, "Message": _NOT_IN_SYSTEM, "Code": -10}],
                "NextOffset": None,
                "Results": None,
            }
        )
    day = today(now)
    groups: dict[str, dict[str, Any]] = {}
    for use in profile.techs:
        tech = TECHS[use.name]
        first, last = _dates(profile, use, day)
        group = groups.setdefault(tech.tag.lower(), {"categories": {}})
        for target in (
            group,
            *(group["categories"].setdefault(_slug(c), {}) for c in tech.categories),
        ):
            _count(target, use.dead_at is None, first, last)
    return json_response(
        {
            "domain": profile.domain,
            "first": min(profile.first_indexed, day - 60 * DAY),
            "last": day,
            "groups": [
                {
                    "name": name,
                    **_counts(g),
                    "categories": [{"name": c, **_counts(v)} for c, v in g["categories"].items()],
                }
                for name, g in groups.items()
            ],
        }
    )


def _slug(category: str) -> str:
    return category.lower().replace(" ", "-").replace("/", "-")


def _count(target: dict[str, Any], live: bool, first: int, last: int) -> None:
    target["live"] = target.get("live", 0) + (1 if live else 0)
    target["dead"] = target.get("dead", 0) + (0 if live else 1)
    target["latest"] = max(target.get("latest", last), last)
    target["oldest"] = min(target.get("oldest", first), first)


def _counts(target: dict[str, Any]) -> dict[str, int]:
    return {k: target[k] for k in ("live", "dead", "latest", "oldest")}
