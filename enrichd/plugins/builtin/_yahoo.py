"""Yahoo Finance: cookie and crumb, ticker search, quoteSummary.

Yahoo's unofficial endpoints want a session: a cookie (from ``cookie_url``) and a *crumb* tied to
it, sent as ``crumb=`` with every data call. The crumb lives in the source's ``state`` — shared by
every module for the daemon's lifetime — and is fetched under a lock, so fifty concurrent jobs
cause one fetch, not fifty. The actor's HTTP client keeps the cookie. A 401 means the crumb went
stale: it is refreshed once and the call retried once.

Values in quoteSummary come as plain numbers (``formatted=false``) or as ``{raw, fmt}`` objects
(the default), and missing ones as ``{}``; :func:`num`, :func:`text` and :func:`day` accept all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import msgspec
import trio

from .._types import ModuleError, NoData, Source, SourceResponse, SourceSpec

NAME: Final = "yahoo_finance"


class YahooOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The keys of ``[sources.yahoo_finance]`` beyond the common ones."""

    #: Fetched (any status) only for the session cookie it sets; absolute URL.
    cookie_url: str = "https://fc.yahoo.com"


SOURCE = SourceSpec(
    name=NAME,
    description="Yahoo Finance (cookie and crumb)",
    base_url="https://query2.finance.yahoo.com",
    requires_api_key=False,
    fallback="websearch",
    rate_per_second=5.0,
    burst=5,
    # Enough calls in flight to use the rate at ~2 s an answer.
    max_concurrency=10,
    homepage="https://finance.yahoo.com",
    options_type=YahooOptions,
)

# Keys of the shared source state.
_CRUMB: Final = "crumb"
_LOCK: Final = "crumb_lock"
_TICKERS: Final = "tickers"
_PENDING: Final = "tickers_pending"

#: How long (trio seconds) a domain's ticker search answer is reused: long enough to serve the
#: three wave-3 modules of a job, short enough not to pin a stale answer.
TICKER_CACHE_SECONDS: Final = 300.0
_TICKER_CACHE_MAX: Final = 1024


def options_of(source: Source) -> YahooOptions:
    """The source's options (defaults when the settings carry none)."""
    options = source.settings.options
    return options if isinstance(options, YahooOptions) else YahooOptions()


def quote_url(symbol: str, page: str = "") -> str:
    """The public Yahoo Finance page of ``symbol`` (``page``: "financials/", "analysis/")."""
    return f"https://finance.yahoo.com/quote/{quote(symbol, safe='')}/{page}"


# -- the session -----------------------------------------------------------------------------


async def crumb(source: Source, *, stale: str | None = None) -> str:
    """The session's crumb; with ``stale``, a fresh one unless someone already replaced it."""
    state = source.state
    current = state.get(_CRUMB)
    if current is not None and current != stale:
        return str(current)
    lock = state.setdefault(_LOCK, trio.Lock())
    async with lock:
        # Whoever held the lock before us may have fetched the crumb we were waiting for.
        current = state.get(_CRUMB)
        if current is not None and current != stale:
            return str(current)
        fresh = await _fetch_crumb(source)
        state[_CRUMB] = fresh
        return fresh


async def _fetch_crumb(source: Source) -> str:
    cookie_url = options_of(source).cookie_url
    if cookie_url:
        # Any status will do (Yahoo answers 404): the response only has to set the cookie.
        await source.get(cookie_url)
    response = await source.get("v1/test/getcrumb")
    body = response.text.strip()
    if "too many requests" in body.lower():
        raise ModuleError("rate_limited", "Yahoo Finance is rate limiting crumbs", source=NAME)
    if (
        response.status_code != 200
        or not body
        or "<html" in body.lower()
        or len(body) > 100
        or any(c.isspace() for c in body)
    ):
        raise ModuleError(
            "auth_failed",
            f"Yahoo Finance gave no crumb (HTTP {response.status_code}, body {body[:80]!r}); "
            f"check that {cookie_url or 'cookie_url'!r} sets its session cookie",
            source=NAME,
        )
    return body


async def get(source: Source, path: str, params: Mapping[str, str | int | float]) -> SourceResponse:
    """GET a data endpoint with the crumb; a 401 refreshes the crumb and retries once."""
    used = await crumb(source)
    response = await source.get(path, params={**params, "crumb": used})
    if response.status_code != 401:
        return response
    fresh = await crumb(source, stale=used)
    response = await source.get(path, params={**params, "crumb": fresh})
    if response.status_code == 401:
        raise ModuleError(
            "auth_failed",
            f"Yahoo Finance refused a fresh crumb too (401): {_description(response)}",
            source=NAME,
        )
    return response


def _description(response: SourceResponse) -> str:
    """The ``error.description`` of a Yahoo error envelope, else the start of the body."""
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.text.strip()[:200]
    if isinstance(body, dict):
        for envelope in body.values():
            error = envelope.get("error") if isinstance(envelope, dict) else None
            if isinstance(error, dict) and error.get("description"):
                return str(error["description"])
    return response.text.strip()[:200]


def _json_object(response: SourceResponse, what: str) -> dict[str, Any]:
    if "will be right back" in response.text[:2000].lower():
        raise ModuleError("upstream_error", f"Yahoo Finance is down ({what})", source=NAME)
    try:
        body = response.json()
    except ModuleError as exc:
        raise ModuleError("malformed_response", exc.message, source=NAME) from exc
    if not isinstance(body, dict):
        raise ModuleError("malformed_response", f"{what}: the body is not an object", source=NAME)
    return body


# -- values ----------------------------------------------------------------------------------


def num(value: Any) -> float | None:
    """A number from a plain value or a ``{raw, fmt}`` object; ``None`` for ``{}`` and the rest."""
    if isinstance(value, dict):
        value = value.get("raw")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def text(value: Any) -> str | None:
    """A non-empty string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


_DAY_RE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def day(value: Any) -> str | None:
    """``YYYY-MM-DD`` from an epoch-seconds number, a ``{raw, fmt}`` date or a date string."""
    if isinstance(value, dict):
        fmt = value.get("fmt")
        if isinstance(fmt, str) and _DAY_RE.match(fmt):
            return fmt[:10]
        value = value.get("raw")
    if isinstance(value, str):
        return value[:10] if _DAY_RE.match(value) else None
    seconds = num(value)
    if seconds is None:
        return None
    try:
        return dt.datetime.fromtimestamp(seconds, dt.UTC).date().isoformat()
    except (OverflowError, OSError, ValueError):
        return None


# -- ticker search ---------------------------------------------------------------------------


class Listing(msgspec.Struct, kw_only=True, frozen=True):
    """An equity quote from the search: the ticker and where it trades."""

    symbol: str
    exchange: str | None = None
    exchange_name: str | None = None
    name: str | None = None


# Primary markets; secondary listings (Frankfurt, Berlin, OTC pink sheets...) rank below them.
_MAJOR_EXCHANGES: Final = frozenset(
    {
        *("NMS", "NGM", "NCM", "NYQ", "ASE", "PCX", "NAS", "NYS"),
        *("LSE", "TOR", "GER", "PAR", "AMS", "EBS", "MIL", "MCE", "STO", "CPH", "HEL", "OSL"),
        *("BRU", "LIS", "VIE", "IRL", "JPX", "TYO", "HKG", "ASX", "NSI", "BSE", "KSC", "TAI"),
        *("SAO", "MEX", "SES", "NZE", "JNB"),
    }
)
_NAME_NOISE: Final = frozenset(
    {
        *("the", "inc", "incorporated", "corp", "corporation", "co", "company", "com"),
        *("ltd", "limited", "plc", "llc", "lp", "sa", "ag", "nv", "se", "holding", "holdings"),
        "group",
    }
)


def _name_tokens(name: str) -> list[str]:
    words = re.findall(r"[a-z0-9]+", name.lower().replace("&", " and "))
    return [w for w in words if w not in _NAME_NOISE]


def _name_match(company: str | None, listing: Listing) -> int:
    """2 when the names agree, 1 when one extends the other ("Costco" / "Costco Wholesale")."""
    if not company or not listing.name:
        return 0
    ours, theirs = _name_tokens(company), _name_tokens(listing.name)
    if not ours or not theirs:
        return 0
    if ours == theirs:
        return 2
    shorter = min(len(ours), len(theirs))
    return 1 if ours[:shorter] == theirs[:shorter] else 0


def choose(listings: Sequence[Listing], company: str | None) -> Listing | None:
    """The listing that best fits ``company``: name match first, then a major exchange.

    Ties keep Yahoo's relevance order.
    """
    best: Listing | None = None
    best_rank = (-1, -1)
    for listing in listings:
        rank = (_name_match(company, listing), int(listing.exchange in _MAJOR_EXCHANGES))
        if rank > best_rank:
            best, best_rank = listing, rank
    return best


async def search(source: Source, q: str) -> list[Listing]:
    """The EQUITY quotes with a symbol that Yahoo's search finds for ``q``, in its order."""
    params: dict[str, str | int | float] = {"q": q, "quotesCount": 8, "newsCount": 0}
    response = await get(source, "v1/finance/search", params)
    if response.status_code != 200:
        raise ModuleError(
            "upstream_error",
            f"Yahoo Finance search answered HTTP {response.status_code}: {_description(response)}",
            source=NAME,
        )
    quotes = _json_object(response, "search").get("quotes")
    if quotes is None:
        return []
    if not isinstance(quotes, list):
        raise ModuleError("malformed_response", "search: 'quotes' is not a list", source=NAME)
    listings: list[Listing] = []
    for item in quotes:
        # Crunchbase-style entries (isYahooFinance false) have no symbol and are not listings.
        if not isinstance(item, dict) or item.get("quoteType") != "EQUITY":
            continue
        symbol = text(item.get("symbol"))
        if symbol is None:
            continue
        listings.append(
            Listing(
                symbol=symbol,
                exchange=text(item.get("exchange")),
                exchange_name=text(item.get("exchDisp")),
                name=text(item.get("longname")) or text(item.get("shortname")),
            )
        )
    return listings


async def find_listing(source: Source, company: str | None, domain: str) -> Listing | None:
    """The equity listing of the company behind ``domain``; ``None`` when it is not listed.

    Searches the company name, then (if that finds no equity) the domain. The answer is kept in
    the source state for :data:`TICKER_CACHE_SECONDS`, and a lookup already under way is
    awaited rather than repeated, so a job's three finance modules search once.
    """
    key = ((company or "").strip().lower(), domain.lower())
    cache: dict[tuple[str, str], tuple[float, Listing | None]] = source.state.setdefault(
        _TICKERS, {}
    )
    pending: dict[tuple[str, str], trio.Event] = source.state.setdefault(_PENDING, {})
    while True:
        hit = cache.get(key)
        if hit is not None and hit[0] > trio.current_time():
            return hit[1]
        running = pending.get(key)
        if running is None:
            break
        # Another module of the job is searching: wait and reuse its answer (or, if it
        # failed, try ourselves).
        await running.wait()
    done = pending[key] = trio.Event()
    try:
        found: Listing | None = None
        if company:
            found = choose(await search(source, company), company)
        if found is None:
            found = choose(await search(source, domain), company)
        now = trio.current_time()
        _remember(cache, key, (now + TICKER_CACHE_SECONDS, found), now)
        return found
    finally:
        del pending[key]
        done.set()


def _remember(
    cache: dict[tuple[str, str], tuple[float, Listing | None]],
    key: tuple[str, str],
    entry: tuple[float, Listing | None],
    now: float,
) -> None:
    cache.pop(key, None)
    cache[key] = entry
    if len(cache) > _TICKER_CACHE_MAX:
        for old in [k for k, (expires, _) in cache.items() if expires <= now]:
            del cache[old]
        while len(cache) > _TICKER_CACHE_MAX:
            del cache[next(iter(cache))]  # oldest insertion first


# -- quoteSummary ----------------------------------------------------------------------------


async def quote_summary(source: Source, symbol: str, modules: Sequence[str]) -> dict[str, Any]:
    """``quoteSummary.result[0]`` for ``symbol``: one dict per requested module that Yahoo has.

    Every module may be missing. Raises :class:`NoData` for an unknown symbol or an empty result.
    """
    path = f"v10/finance/quoteSummary/{quote(symbol, safe='')}"
    params = {"modules": ",".join(modules), "formatted": "false"}
    response = await get(source, path, params)
    if response.status_code == 404:
        raise NoData(
            f"Yahoo Finance has no quote for {symbol}: {_description(response)}", source=NAME
        )
    if response.status_code != 200:
        raise ModuleError(
            "upstream_error",
            f"Yahoo Finance quoteSummary answered HTTP {response.status_code}: "
            f"{_description(response)}",
            source=NAME,
        )
    envelope = _json_object(response, "quoteSummary").get("quoteSummary")
    if not isinstance(envelope, dict):
        raise ModuleError("malformed_response", "quoteSummary: no 'quoteSummary'", source=NAME)
    error = envelope.get("error")
    result = envelope.get("result")
    if isinstance(error, dict) and not result:
        why = error.get("description") or error.get("code")
        raise NoData(f"Yahoo Finance has no data for {symbol}: {why}", source=NAME)
    if not result:
        raise NoData(f"Yahoo Finance returned no data for {symbol}", source=NAME)
    if not isinstance(result, list) or not isinstance(result[0], dict):
        raise ModuleError("malformed_response", "quoteSummary: 'result' is not a list", source=NAME)
    return {k: v for k, v in result[0].items() if isinstance(v, dict)}
