"""SimilarWeb REST API v1: ``/v1/website/{domain}/...`` traffic, rank, channels, competitors,
keywords. Monthly figures are fixed per (domain, month): the clock only decides which months
exist (up to the current one) and ``last_updated``.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from ._http import HttpRequest, HttpResponse, json_response
from ._model import Profile
from ._profile import profile_for
from ._util import (
    add_months,
    is_bad_key,
    iso_date,
    month_end_date,
    month_of,
    month_start,
    rank_for,
    rng_for,
    slug,
    unit,
)

_CHANNELS = ("Direct", "Search", "Social", "Mail", "Display Ads", "Referrals")
_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})(?:-\d{2})?$")
_MAX_MONTHS = 37
#: The month each profile's ``visits`` describes; other months follow its growth trend.
_ANCHOR = 2025 * 12 + 5
_SEASON_RETAIL = (0.92, 0.86, 0.94, 0.95, 0.98, 0.96, 1.0, 1.02, 0.97, 1.0, 1.22, 1.32)


class _BadRequest(Exception):
    pass


def _error(status: int, message: str) -> HttpResponse:
    return json_response(
        {"meta": {"status": "Error", "error_code": status, "error_message": message}}, status
    )


def handle(request: HttpRequest, now: float) -> HttpResponse:
    """Answer a SimilarWeb v1 request."""
    parts = request.path.strip("/").split("/")
    # similarweb / v1 / website / {domain} / {group} / {metric}
    if len(parts) != 6 or parts[1] != "v1" or parts[2] != "website":
        return _error(404, "Endpoint not found")
    if is_bad_key(request.query.get("api_key")):
        return _error(401, "Invalid API key")
    endpoint = _ENDPOINTS.get(f"{parts[4]}/{parts[5]}")
    if endpoint is None:
        return _error(404, "Endpoint not found")
    profile = profile_for(parts[3])
    if profile is None or not profile.known:
        return _error(404, "Data not found")
    try:
        return json_response(endpoint(profile, _Params(request.query, parts[3], now)))
    except _BadRequest as exc:
        return _error(400, str(exc))


class _Params:
    """The common query parameters, validated, with the months they cover."""

    def __init__(self, query: dict[str, str], domain: str, now: float) -> None:
        self.domain = domain.lower().removeprefix("www.")
        self.granularity = query.get("granularity", "monthly").lower()
        if self.granularity not in ("daily", "weekly", "monthly"):
            raise _BadRequest("granularity must be daily, weekly or monthly")
        self.country = query.get("country", "world").lower()
        self.main_only = query.get("main_domain_only", "false").lower() == "true"
        self.limit = _int(query.get("limit"), 10)
        current = month_of(now)
        self.last_updated = month_end_date(*add_months(*current, -1))
        end = _month(query.get("end_date")) or add_months(*current, -1)
        default_back = 0 if self.granularity != "monthly" else 2
        start = _month(query.get("start_date")) or add_months(*end, -default_back)
        if start > end:
            raise _BadRequest("start_date must not be after end_date")
        if end > current:
            raise _BadRequest("end_date is in the future")
        if (end[0] - start[0]) * 12 + end[1] - start[1] >= _MAX_MONTHS:
            raise _BadRequest(f"the date range exceeds {_MAX_MONTHS} months")
        self.months = []
        while start <= end:
            self.months.append(start)
            start = add_months(*start, 1)
        self.echo = {
            "granularity": self.granularity.capitalize(),
            "main_domain_only": self.main_only,
            "mtd": False,
            "show_verified": False,
            "state": None,
            "format": query.get("format", "json"),
            "domain": self.domain,
            "start_date": iso_date(month_start(*self.months[0])),
            "end_date": month_end_date(*self.months[-1]),
            "country": self.country,
        }

    def meta(self, **extra: Any) -> dict[str, Any]:
        """The ``meta`` block every answer carries."""
        return {
            "request": {**self.echo, **extra},
            "status": "Success",
            "last_updated": self.last_updated,
        }


def _int(raw: str | None, default: int) -> int:
    try:
        return max(1, min(int(raw), 1000)) if raw else default
    except ValueError:
        raise _BadRequest("limit must be an integer") from None


def _month(raw: str | None) -> tuple[int, int] | None:
    if not raw:
        return None
    match = _MONTH_RE.match(raw)
    if match is None or not 1 <= int(match.group(2)) <= 12:
        raise _BadRequest(f"invalid date {raw!r}: expected YYYY-MM")
    return int(match.group(1)), int(match.group(2))


def monthly_visits(profile: Profile, year: int, month: int) -> float:
    """Total visits of ``profile``'s site in one month (world, all devices)."""
    offset = year * 12 + month - 1 - _ANCHOR
    season = (
        _SEASON_RETAIL[month - 1]
        if profile.commerce or profile.vertical in ("Retail", "E-commerce", "Marketplace")
        else 1.0
    )
    noise = 1 + 0.08 * (unit("visits", profile.domain, year, month) - 0.5)
    trend = float((1 + profile.traffic_growth) ** (offset / 12))
    return profile.visits * trend * season * noise


def _scope(profile: Profile, params: _Params) -> float:
    """The share of traffic the request's country and main-domain filters keep."""
    share = 1.0
    if params.country not in ("world", "ww"):
        home = profile.country.lower()
        share = 0.72 if params.country == home else 0.1 if params.country == "us" else 0.02
    return share * (0.93 if params.main_only else 1.0)


def _periods(params: _Params) -> list[tuple[str, int, int, float]]:
    """``(date, year, month, fraction of the month)`` per data point of the granularity."""
    if params.granularity == "monthly":
        return [(f"{y:04d}-{m:02d}-01", y, m, 1.0) for y, m in params.months]
    points = []
    for y, m in params.months:
        days = calendar.monthrange(y, m)[1]
        step = 7 if params.granularity == "weekly" else 1
        for day in range(1, days + 1, step):
            span = min(step, days - day + 1)
            points.append((f"{y:04d}-{m:02d}-{day:02d}", y, m, span / days))
    return points


def _series(key: str) -> Callable[[Profile, _Params], dict[str, Any]]:
    """An engagement endpoint answering ``{meta, <key>: [{date, <key>}]}``."""

    def endpoint(profile: Profile, params: _Params) -> dict[str, Any]:
        """One data point per period of the requested granularity."""
        return {
            "meta": params.meta(),
            key: [
                {"date": date, key: _metric(key, profile, params, y, m, fraction, date)}
                for date, y, m, fraction in _periods(params)
            ],
        }

    return endpoint


def _metric(
    key: str, profile: Profile, params: _Params, y: int, m: int, frac: float, date: str
) -> float:
    wobble = unit(key, profile.domain, date) - 0.5
    if key == "visits":
        return round(
            monthly_visits(profile, y, m)
            * _scope(profile, params)
            * frac
            * (1 + (0.1 * wobble if frac < 1 else 0)),
            1,
        )
    if key == "bounce_rate":
        return min(0.95, max(0.05, profile.bounce_rate + 0.04 * wobble))
    if key == "pages_per_visit":
        return max(1.0, profile.pages_per_visit * (1 + 0.08 * wobble))
    return max(5.0, profile.visit_duration * (1 + 0.1 * wobble))


def _global_rank(profile: Profile, params: _Params) -> dict[str, Any]:
    return {
        "meta": params.meta(),
        "global_rank": [
            {"date": f"{y:04d}-{m:02d}", "global_rank": rank_for(monthly_visits(profile, y, m))}
            for y, m in params.months
        ],
    }


@lru_cache(maxsize=4096)
def _channel_mix(domain: str) -> tuple[tuple[str, float, float], ...]:
    """``(channel, share of visits, paid fraction)`` for a domain's traffic."""
    rng = rng_for("channels", domain)
    raw = {
        "Direct": rng.uniform(0.28, 0.5),
        "Search": rng.uniform(0.25, 0.45),
        "Social": rng.uniform(0.02, 0.1),
        "Mail": rng.uniform(0.01, 0.08),
        "Display Ads": rng.uniform(0.004, 0.05),
        "Referrals": rng.uniform(0.03, 0.12),
    }
    total = sum(raw.values())
    paid = {"Search": rng.uniform(0.0, 0.22), "Display Ads": 1.0, "Social": rng.uniform(0, 0.15)}
    return tuple((c, raw[c] / total, paid.get(c, 0.0)) for c in _CHANNELS)


def _overview_share(profile: Profile, params: _Params) -> dict[str, Any]:
    sources = []
    for channel, share, paid in _channel_mix(profile.domain):
        points = []
        for date, y, m, frac in _periods(params):
            total = monthly_visits(profile, y, m) * _scope(profile, params) * frac * share
            points.append({"date": date, "organic": total * (1 - paid), "paid": total * paid})
        sources.append({"source_type": channel, "visits": points})
    return {"meta": params.meta(), "visits": {params.domain: sources}}


def _similar_sites(profile: Profile, params: _Params) -> dict[str, Any]:
    sites = [
        {"url": url, "score": 0.95 - 0.07 * i - 0.04 * unit("sim", profile.domain, url)}
        for i, url in enumerate(profile.competitors[: params.limit])
    ]
    return {"meta": params.meta(limit=params.limit), "similar_sites": sites}


def _search_terms(profile: Profile) -> list[str]:
    brand = profile.keywords[0]
    sub = profile.sub_vertical.lower()
    return [
        *profile.keywords,
        sub,
        f"{brand} {sub}",
        f"{brand} app",
        f"{brand} customer service",
        f"best {sub}",
    ]


def _keywords(profile: Profile, params: _Params, *, paid: bool) -> dict[str, Any]:
    search_share, paid_fraction = next(
        (s, p) for c, s, p in _channel_mix(profile.domain) if c == "Search"
    )
    fraction = paid_fraction if paid else 1 - paid_fraction
    total = sum(monthly_visits(profile, y, m) for y, m in params.months)
    total *= _scope(profile, params) * search_share * fraction
    terms = _search_terms(profile)
    if paid:
        terms = [t for i, t in enumerate(terms) if i == 0 or unit("paid", profile.domain, t) < 0.5]
    weights = [
        (0.45 if i == 0 else 0.3 / (i + 1)) * (0.5 + unit("kw", profile.domain, t))
        for i, t in enumerate(terms)
    ]
    scale = sum(weights)
    rows: list[dict[str, Any]] = []
    for i, (term, weight) in enumerate(zip(terms, weights, strict=True)):
        share = weight / scale
        path = "" if i == 0 else slug(term.replace(profile.keywords[0], "").strip() or term)
        rows.append(
            {
                "search_term": term,
                "share": share,
                "visits": round(total * share, 1),
                "change": round(unit("chg", profile.domain, term) * 0.8 - 0.3, 4),
                "volume": int(total * share / 12 * (2 + 6 * unit("vol", profile.domain, term)))
                + 10,
                "cpc": round((1.2 if paid else 0.3) + 3 * unit("cpc", profile.domain, term), 2),
                "url": f"{profile.domain}/{path}",
                "position": 1
                if i == 0
                else 1 + int(unit("pos", profile.domain, term) * (3 if paid else 10)),
            }
        )
    if paid and paid_fraction < 0.02:
        rows, total = [], 0.0
    rows = sorted(rows, key=lambda r: -r["share"])[: params.limit]
    return {
        "meta": params.meta(limit=params.limit),
        "search": rows,
        "visits": round(total, 1),
        "total_visits": round(total, 1),
    }


def _desktop_visits(profile: Profile, params: _Params) -> dict[str, Any]:
    answer = _series("visits")(profile, params)
    for point in answer["visits"]:
        point["visits"] = round(point["visits"] * (0.35 + 0.1 * unit("desk", profile.domain)), 1)
    return answer


_ENDPOINTS: dict[str, Callable[[Profile, _Params], dict[str, Any]]] = {
    "total-traffic-and-engagement/visits": _series("visits"),
    "total-traffic-and-engagement/bounce-rate": _series("bounce_rate"),
    "total-traffic-and-engagement/pages-per-visit": _series("pages_per_visit"),
    "total-traffic-and-engagement/average-visit-duration": _series("average_visit_duration"),
    "traffic-and-engagement/visits": _desktop_visits,
    "global-rank/global-rank": _global_rank,
    "traffic-sources/overview-share": _overview_share,
    "similar-sites/similarsites": _similar_sites,
    "traffic-sources/organic-search": lambda p, q: _keywords(p, q, paid=False),
    "traffic-sources/paid-search": lambda p, q: _keywords(p, q, paid=True),
}
