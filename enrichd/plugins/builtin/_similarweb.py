"""SimilarWeb: the v1 website endpoints (``api_key`` in the query string).

Each function here makes one call, checks the answer the way every v1 endpoint needs (HTTP status
first, then ``meta.status``) and returns plain parsed values; the modules in ``_traffic`` turn them
into their data. Paths are relative to the base URL (``https://api.similarweb.com`` or the
sandbox's ``{S}/similarweb``).
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Final

import msgspec

from .._types import ModuleError, NoData, Source, SourceResponse, SourceSpec

NAME: Final = "similarweb"


class SimilarWebOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The keys of ``[sources.similarweb]`` beyond the common ones."""

    #: Two-letter lower-case ISO country code, or ``"world"``.
    country: str = "world"
    #: How many full months of history to ask for (the last one is the "current" month).
    months: Annotated[int, msgspec.Meta(ge=1, le=37)] = 3
    #: How many organic and paid keywords m06 asks for.
    keyword_limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 10


SOURCE = SourceSpec(
    name=NAME,
    description="SimilarWeb website API",
    base_url="https://api.similarweb.com",
    auth=("query", "api_key"),
    rate_per_second=10.0,
    burst=10,
    # Enough calls in flight to use the rate at ~2 s an answer (m03-m06 make 6 per domain).
    max_concurrency=20,
    homepage="https://similarweb.com",
    options_type=SimilarWebOptions,
)


def options_of(source: Source) -> SimilarWebOptions:
    """The source's options (defaults when the settings carry none, e.g. in a bare test)."""
    options = source.settings.options
    return options if isinstance(options, SimilarWebOptions) else SimilarWebOptions()


class Period(msgspec.Struct, frozen=True):
    """A range of whole months, ``YYYY-MM`` at both ends (inclusive)."""

    start: str
    end: str


def last_full_months(months: int, now: float) -> Period:
    """The ``months`` calendar months before the one containing ``now`` (epoch seconds, UTC)."""
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    # Month arithmetic on a single counter avoids the year-wrap special cases.
    current = today.year * 12 + today.month - 1
    end, start = current - 1, current - months

    def fmt(index: int) -> str:
        return f"{index // 12:04d}-{index % 12 + 1:02d}"

    return Period(fmt(start), fmt(end))


def api_domain(domain: str) -> str:
    """The domain as SimilarWeb keys it: without ``www.``."""
    return domain.lower().removeprefix("www.")


def site_url(domain: str) -> str:
    """SimilarWeb's public page for ``domain``, for citations."""
    return f"https://www.similarweb.com/website/{domain}/"


# -- requests and error handling -------------------------------------------------------------


async def call(
    source: Source, domain: str, endpoint: str, params: dict[str, str | int | float]
) -> dict[str, Any]:
    """GET ``v1/website/{domain}/{endpoint}`` and return the checked JSON body."""
    response = await source.get(f"v1/website/{domain}/{endpoint}", params=params)
    return checked(response, domain)


def range_params(source: Source, period: Period) -> dict[str, str | int | float]:
    """The query parameters shared by the time-series endpoints."""
    return {
        "start_date": period.start,
        "end_date": period.end,
        "country": options_of(source).country,
        "granularity": "monthly",
        "main_domain_only": "false",
        "format": "json",
    }


def checked(response: SourceResponse, domain: str) -> dict[str, Any]:
    """The body of a v1 answer, or the matching error for a refusal or a malformed answer."""
    status = response.status_code
    if status != 200:
        _raise_for_status(status, _error_message(response), domain, response.url)
    try:
        body = response.json()
    except ModuleError as exc:
        raise ModuleError("malformed_response", exc.message, source=NAME) from exc
    if not isinstance(body, dict):
        raise _malformed(response, "the body is not a JSON object")
    meta = body.get("meta")
    if isinstance(meta, dict) and meta.get("status") != "Success":
        # An error reported inside a 200: map its error_code as if it were the HTTP status.
        code = meta.get("error_code")
        message = str(meta.get("error_message") or meta.get("status") or "unknown error")
        _raise_for_status(code if isinstance(code, int) else 0, message, domain, response.url)
    if meta is not None and not isinstance(meta, dict):
        raise _malformed(response, "'meta' is not an object")
    return body


def _raise_for_status(status: int, message: str, domain: str, url: str) -> None:
    detail = f": {message}" if message else ""
    if status == 401:
        raise ModuleError(
            "auth_failed", f"SimilarWeb refused the API key (401){detail}", source=NAME
        )
    if status == 403:
        raise ModuleError(
            "auth_failed",
            "SimilarWeb refused the request (403): the API key may lack permission for this "
            f"data or country, or its hit quota may be used up{detail}",
            source=NAME,
        )
    if status == 404:
        raise NoData(f"SimilarWeb has no data for {domain}{detail}", source=NAME)
    what = f"HTTP {status}" if status else "an error"
    raise ModuleError(
        "upstream_error", f"SimilarWeb answered {what} for {url}{detail}", source=NAME
    )


def _error_message(response: SourceResponse) -> str:
    """The upstream's own words about an error, from whichever body shape it used."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        meta = body.get("meta")
        if isinstance(meta, dict) and meta.get("error_message"):
            return str(meta["error_message"])
        for key in ("error_message", "message", "error"):
            if isinstance(body.get(key), str):
                return str(body[key])
    # One production client reads 400 bodies as a list of {"message": ...}.
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return str(body[0].get("message", ""))
    return ""


def _malformed(response: SourceResponse, why: str) -> ModuleError:
    return ModuleError("malformed_response", f"SimilarWeb {response.url}: {why}", source=NAME)


def _bad(endpoint: str, why: str) -> ModuleError:
    return ModuleError("malformed_response", f"SimilarWeb {endpoint}: {why}", source=NAME)


def number(value: Any) -> float | None:
    """A finite number from a JSON value, or ``None`` (null, strings, booleans, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def month_of(value: Any) -> str | None:
    """``YYYY-MM`` from ``"2016-02-01"`` or ``"2016-02"``."""
    if not isinstance(value, str) or len(value) < 7 or value[4] != "-":
        return None
    return value[:7]


def _records(body: dict[str, Any], key: str, endpoint: str) -> list[dict[str, Any]]:
    records = body.get(key)
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise _bad(endpoint, f"expected a list of objects under {key!r}")
    return records


# -- the endpoints ---------------------------------------------------------------------------


async def monthly_series(
    source: Source, domain: str, endpoint: str, key: str, period: Period
) -> list[tuple[str, float]]:
    """``[(YYYY-MM, value)]`` in date order from an endpoint answering ``{key: [{date, key}]}``.

    Months without a value (null) are left out rather than reported as zero.
    """
    body = await call(source, domain, endpoint, range_params(source, period))
    series: dict[str, float] = {}
    for record in _records(body, key, endpoint):
        month, value = month_of(record.get("date")), number(record.get(key))
        if month is not None and value is not None:
            series[month] = value
    return sorted(series.items())


async def visits(source: Source, domain: str, period: Period) -> list[tuple[str, float]]:
    """Total (desktop and mobile) visits per month."""
    return await monthly_series(
        source, domain, "total-traffic-and-engagement/visits", "visits", period
    )


async def bounce_rate(source: Source, domain: str, period: Period) -> list[tuple[str, float]]:
    """Bounce rate per month, as the upstream's 0-1 fraction."""
    return await monthly_series(
        source, domain, "total-traffic-and-engagement/bounce-rate", "bounce_rate", period
    )


async def pages_per_visit(source: Source, domain: str, period: Period) -> list[tuple[str, float]]:
    """Pages per visit per month."""
    return await monthly_series(
        source, domain, "total-traffic-and-engagement/pages-per-visit", "pages_per_visit", period
    )


async def average_visit_duration(
    source: Source, domain: str, period: Period
) -> list[tuple[str, float]]:
    """Average visit duration per month, in seconds."""
    return await monthly_series(
        source,
        domain,
        "total-traffic-and-engagement/average-visit-duration",
        "average_visit_duration",
        period,
    )


async def global_rank(source: Source, domain: str, period: Period) -> list[tuple[str, float]]:
    """Global rank per month."""
    return await monthly_series(source, domain, "global-rank/global-rank", "global_rank", period)


#: overview-share ``source_type`` -> our channel for its organic and its paid visits.
CHANNELS: Final[dict[str, tuple[str, str]]] = {
    "direct": ("direct", "direct"),
    "search": ("organic_search", "paid_search"),
    "social": ("social", "social"),
    "referrals": ("referrals", "referrals"),
    "referral": ("referrals", "referrals"),
    "mail": ("mail", "mail"),
    "display ads": ("display", "display"),
    "display": ("display", "display"),
}
CHANNEL_NAMES: Final = (
    "direct",
    "organic_search",
    "paid_search",
    "social",
    "referrals",
    "mail",
    "display",
)


class ChannelVisits(msgspec.Struct, kw_only=True):
    """Visits per channel summed over the period, and the months the data covered."""

    visits: dict[str, float]
    #: Visits of source types we do not know, by their upstream name.
    unknown: dict[str, float]
    months: list[str]


async def channel_visits(source: Source, domain: str, period: Period) -> ChannelVisits:
    """Visits per marketing channel (``traffic-sources/overview-share``), organic/paid split."""
    endpoint = "traffic-sources/overview-share"
    body = await call(source, domain, endpoint, range_params(source, period))
    by_domain = body.get("visits")
    if not isinstance(by_domain, dict):
        raise _bad(endpoint, "expected an object under 'visits'")
    # Keyed by the domain as SimilarWeb spells it; with a single key, that key is ours.
    entries = by_domain.get(domain)
    if entries is None and len(by_domain) == 1:
        entries = next(iter(by_domain.values()))
    if entries is None:
        raise NoData(f"SimilarWeb has no traffic sources for {domain}", source=NAME)
    if not isinstance(entries, list):
        raise _bad(endpoint, "expected a list of source types")
    result = ChannelVisits(visits=dict.fromkeys(CHANNEL_NAMES, 0.0), unknown={}, months=[])
    months: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("source_type"), str):
            raise _bad(endpoint, "a source type entry has no 'source_type'")
        series = entry.get("visits")
        if not isinstance(series, list):
            raise _bad(endpoint, f"{entry['source_type']!r} has no list of visits")
        organic = paid = 0.0
        for point in series:
            if not isinstance(point, dict):
                raise _bad(endpoint, "a visits entry is not an object")
            organic += number(point.get("organic")) or 0.0
            paid += number(point.get("paid")) or 0.0
            if (month := month_of(point.get("date"))) is not None:
                months.add(month)
        mapped = CHANNELS.get(entry["source_type"].strip().lower())
        if mapped is None:
            name = entry["source_type"]
            result.unknown[name] = result.unknown.get(name, 0.0) + organic + paid
            continue
        result.visits[mapped[0]] += organic
        result.visits[mapped[1]] += paid
    result.months = sorted(months)
    return result


class SimilarSite(msgspec.Struct, frozen=True):
    """One similar site and SimilarWeb's similarity score (0-1)."""

    domain: str
    score: float | None


async def similar_sites(source: Source, domain: str) -> list[SimilarSite]:
    """The sites SimilarWeb considers similar to ``domain``, most similar first."""
    endpoint = "similar-sites/similarsites"
    body = await call(source, domain, endpoint, {"format": "json"})
    sites: list[SimilarSite] = []
    for record in _records(body, "similar_sites", endpoint):
        url = record.get("url")
        if not isinstance(url, str) or not url.strip():
            continue
        sites.append(SimilarSite(_bare_domain(url), number(record.get("score"))))
    return sites


def _bare_domain(url: str) -> str:
    host = url.strip().lower().split("://", 1)[-1].split("/", 1)[0]
    return host.removeprefix("www.")


class Keyword(msgspec.Struct, kw_only=True, frozen=True):
    """One search keyword sending traffic to the site."""

    keyword: str
    #: Fraction (0-1) of the site's search visits that came from this keyword.
    share: float | None
    visits: float | None
    volume: float | None
    cpc: float | None
    position: float | None
    url: str | None


async def keywords(
    source: Source, domain: str, kind: str, period: Period, limit: int
) -> list[Keyword]:
    """Top ``kind`` (``"organic"`` or ``"paid"``) search keywords of ``domain``."""
    endpoint = f"traffic-sources/{kind}-search"
    params = range_params(source, period)
    del params["granularity"]  # keyword lists are aggregates over the range
    params["limit"] = limit
    body = await call(source, domain, endpoint, params)
    found: list[Keyword] = []
    for record in _records(body, "search", endpoint):
        term = record.get("search_term")
        if not isinstance(term, str) or not term.strip():
            continue
        url = record.get("url")
        found.append(
            Keyword(
                keyword=term.strip(),
                share=number(record.get("share")),
                visits=number(record.get("visits")),
                volume=number(record.get("volume")),
                cpc=number(record.get("cpc")),
                position=number(record.get("position")),
                url=url if isinstance(url, str) and url else None,
            )
        )
    return found[:limit]
