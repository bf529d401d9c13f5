"""Yahoo Finance's unofficial endpoints: cookie, crumb, search, quoteSummary and chart.

Like the real service, data requests (search, quoteSummary) need the crumb that
``/v1/test/getcrumb`` hands to a client holding the ``A3`` cookie from ``/fc``; a rotation
invalidates every crumb handed out so far, and clients must fetch a new one.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from ._events import articles
from ._finance import (
    bar,
    bar_time,
    close,
    fundamentals,
    is_trading_day,
    last_close_day,
    previous_trading_day,
    year_range,
)
from ._http import HttpRequest, HttpResponse, json_response
from ._model import Profile
from ._profile import domain_for_query, domain_for_symbol, profile_for
from ._quotes import quote_summary
from ._util import DAY, hex_id, month_of, month_start

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_MAX_CRUMBS = 100_000
_RANGE_DAYS = {
    "1d": 1,
    "5d": 7,
    "1mo": 30,
    "3mo": 91,
    "6mo": 182,
    "1y": 365,
    "2y": 730,
    "5y": 1826,
    "10y": 3652,
}
_VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
_INTRADAY = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90, "1h": 60}
_GROUPED = ("1d", "5d", "1wk", "1mo", "3mo")
_JSON_HEADERS = [("cache-control", "public, max-age=600, stale-while-revalidate=180")]


def _finance_error(status: int, code: str, description: str) -> HttpResponse:
    return json_response(
        {"finance": {"result": None, "error": {"code": code, "description": description}}}, status
    )


def _cookies(request: HttpRequest) -> dict[str, str]:
    jar = {}
    for part in request.headers.get("cookie", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            jar[name] = value
    return jar


class Yahoo:
    """The Yahoo simulation, with its cookie and crumb state."""

    def __init__(self) -> None:
        # The crumb secret is per process on purpose: crumbs are sessions, not data.
        self._secret = secrets.token_bytes(16)
        self._generation = 0
        self._crumbs: dict[str, None] = {}

    def rotate(self) -> None:
        """Invalidate every crumb handed out so far."""
        self._generation += 1
        self._crumbs.clear()

    def handle(self, request: HttpRequest, now: float) -> HttpResponse:
        """Answer a request under ``/yahoo``."""
        path = request.path.removeprefix("/yahoo")
        if path.rstrip("/") == "/fc":
            return self._fc()
        if path == "/v1/test/getcrumb":
            return self._getcrumb(request)
        if path.startswith("/v8/finance/chart/"):
            return _chart(path.rsplit("/", 1)[-1], request.query, now)
        data = path == "/v1/finance/search" or path.startswith("/v10/finance/quoteSummary/")
        if not data:
            return _finance_error(404, "Not Found", "HTTP 404 Not Found")
        if request.query.get("crumb", "") not in self._crumbs:
            return _finance_error(401, "Unauthorized", "Invalid Crumb")
        if path == "/v1/finance/search":
            return _search(request.query, now)
        return _quote_summary(path.rsplit("/", 1)[-1], request.query, now)

    def _fc(self) -> HttpResponse:
        value = f"d=AQABBA{secrets.token_urlsafe(24)}&S=AQAAA{secrets.token_urlsafe(16)}"
        return HttpResponse(
            status=404,
            headers=[
                ("content-type", "text/html; charset=utf-8"),
                ("set-cookie", f"A3={value}; Max-Age=31557600; Path=/; SameSite=Lax; HttpOnly"),
            ],
            body=b'<!doctype html><html><head><meta name="enrichd-sandbox" content="simulated">'
            b"<title>Yahoo</title></head><body><p>404 Not Found</p></body></html>",
        )

    def _getcrumb(self, request: HttpRequest) -> HttpResponse:
        cookie = _cookies(request).get("A3")
        if not cookie:
            return _finance_error(401, "Unauthorized", "Invalid Cookie")
        digest = hmac.new(
            self._secret, f"{self._generation}:{cookie}".encode(), hashlib.sha256
        ).digest()
        crumb = "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:11])
        if len(self._crumbs) >= _MAX_CRUMBS:
            del self._crumbs[next(iter(self._crumbs))]
        self._crumbs[crumb] = None
        return HttpResponse(
            headers=[("content-type", "text/plain;charset=utf-8")], body=crumb.encode()
        )


def _count(query: dict[str, str], name: str, default: int) -> int:
    try:
        return max(0, min(int(query.get(name, default)), 50))
    except ValueError:
        return default


def _search(query: dict[str, str], now: float) -> HttpResponse:
    text = query.get("q", "").strip()
    if not text:
        return _finance_error(400, "Bad Request", "Missing required query parameter=q")
    domain = domain_for_query(text)
    profile = profile_for(domain) if domain else None
    quotes: list[dict[str, Any]] = []
    news: list[dict[str, Any]] = []
    if profile is not None and profile.known:
        quotes.append(
            _equity(profile)
            if profile.public
            else {
                "index": hex_id(32, "cb", profile.label),
                "name": profile.name,
                "permalink": profile.label,
                "isYahooFinance": False,
            }
        )
        news = [
            {
                "uuid": _uuid(a.url),
                "title": a.title,
                "publisher": a.publisher,
                "link": a.url,
                "providerPublishTime": a.published,
                "type": "STORY",
                **({"relatedTickers": [profile.ticker]} if profile.public else {}),
            }
            for a in articles(profile, now, quotes=False)[: _count(query, "newsCount", 4)]
        ]
    quotes = quotes[: _count(query, "quotesCount", 6)]
    return json_response(
        {
            "explains": [],
            "count": len(quotes) + len(news),
            "quotes": quotes,
            "news": news,
            "nav": [],
            "lists": [],
            "researchReports": [],
            "screenerFieldResults": [],
            "totalTime": 31,
            "timeTakenForQuotes": 412,
            "timeTakenForNews": 600,
        },
        headers=_JSON_HEADERS,
    )


def _uuid(url: str) -> str:
    h = hex_id(32, "uuid", url)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _equity(p: Profile) -> dict[str, Any]:
    return {
        "exchange": p.exchange,
        "shortname": p.legal_name,
        "quoteType": "EQUITY",
        "symbol": p.ticker,
        "index": "quotes",
        "score": 20000 + int(p.visits**0.5),
        "typeDisp": "Equity",
        "longname": p.legal_name,
        "exchDisp": p.exch_disp,
        "sector": p.sector,
        "sectorDisp": p.sector,
        "industry": p.industry,
        "industryDisp": p.industry,
        "dispSecIndFlag": True,
        "isYahooFinance": True,
    }


def _listed(symbol: str) -> Profile | None:
    domain = domain_for_symbol(symbol)
    profile = profile_for(domain) if domain else None
    return profile if profile is not None and profile.public else None


def _quote_summary(symbol: str, query: dict[str, str], now: float) -> HttpResponse:
    modules = [m.strip() for m in query.get("modules", "").split(",") if m.strip()]
    if not modules:
        return json_response(
            {
                "quoteSummary": {
                    "result": None,
                    "error": {
                        "code": "Bad Request",
                        "description": 'Missing value for the "modules" argument',
                    },
                }
            },
            400,
        )
    profile = _listed(symbol)
    if profile is None:
        return json_response(
            {
                "quoteSummary": {
                    "result": None,
                    "error": {
                        "code": "Not Found",
                        "description": f"Quote not found for symbol: {symbol}",
                    },
                }
            },
            404,
        )
    formatted = query.get("formatted", "true").lower() != "false"
    result = quote_summary(profile, modules, formatted, now)
    return json_response(
        {"quoteSummary": {"result": [result], "error": None}}, headers=_JSON_HEADERS
    )


def _chart_error(status: int, code: str, description: str) -> HttpResponse:
    return json_response(
        {"chart": {"result": None, "error": {"code": code, "description": description}}}, status
    )


def _chart(symbol: str, query: dict[str, str], now: float) -> HttpResponse:
    profile = _listed(symbol)
    if profile is None:
        return _chart_error(404, "Not Found", "No data found, symbol may be delisted")
    interval = query.get("interval", "1d")
    if interval not in _INTRADAY and interval not in _GROUPED:
        valid = ", ".join([*_INTRADAY, *_GROUPED])
        return _chart_error(
            400,
            "Bad Request",
            f"Invalid input - interval={interval} is not supported. Valid intervals: [{valid}]",
        )
    last = last_close_day(now)
    range_ = query.get("range", "" if "period1" in query else "1mo")
    first = _first_day(profile, query, range_, last, now)
    if first is None:
        return _chart_error(400, "Bad Request", f"Invalid input - range={range_}")
    if "period2" in query and query["period2"].isdigit():
        last = min(last, int(query["period2"]) // DAY)
    days = [d for d in range(first, last + 1) if is_trading_day(d)]
    rows = (
        _intraday(profile, days, _INTRADAY[interval])
        if interval in _INTRADAY
        else _grouped(profile, days, interval)
    )
    low52, high52 = year_range(profile, last)
    _, high, low, price, volume = bar(profile, last)
    meta = {
        "currency": "USD",
        "symbol": profile.ticker,
        "exchangeName": profile.exchange,
        "fullExchangeName": profile.exchange_name,
        "instrumentType": "EQUITY",
        "firstTradeDate": fundamentals(profile).first_trade,
        "regularMarketTime": last * DAY + 20 * 3600,
        "hasPrePostMarketData": True,
        "gmtoffset": -18000,
        "timezone": "EST",
        "exchangeTimezoneName": "America/New_York",
        "regularMarketPrice": price,
        "fiftyTwoWeekHigh": high52,
        "fiftyTwoWeekLow": low52,
        "regularMarketDayHigh": high,
        "regularMarketDayLow": low,
        "regularMarketVolume": volume,
        "longName": profile.legal_name,
        "shortName": profile.legal_name,
        "chartPreviousClose": close(profile, previous_trading_day(days[0] if days else last)),
        "priceHint": 2,
        "dataGranularity": interval,
        "range": range_,
        "validRanges": _VALID_RANGES,
    }
    quote = {
        key: [r[i] for r in rows]
        for i, key in enumerate(("open", "high", "low", "close", "volume"), start=1)
    }
    return json_response(
        {
            "chart": {
                "result": [
                    {
                        "meta": meta,
                        "timestamp": [r[0] for r in rows],
                        "indicators": {
                            "quote": [quote],
                            "adjclose": [{"adjclose": quote["close"]}],
                        },
                    }
                ],
                "error": None,
            }
        }
    )


def _first_day(
    profile: Profile, query: dict[str, str], range_: str, last: int, now: float
) -> int | None:
    if "period1" in query and query["period1"].lstrip("-").isdigit():
        return max(int(query["period1"]) // DAY, fundamentals(profile).first_trade // DAY)
    if range_ == "ytd":
        return month_start(month_of(now)[0], 1) // DAY
    if range_ == "max":
        return max(fundamentals(profile).first_trade // DAY, last - 365 * 30)
    if range_ == "1d":
        return last
    if range_ == "5d":
        day = last
        for _ in range(4):
            day = previous_trading_day(day)
        return day
    return last - _RANGE_DAYS[range_] if range_ in _RANGE_DAYS else None


Row = tuple[int, float, float, float, float, int]


def _grouped(profile: Profile, days: list[int], interval: str) -> list[Row]:
    groups: dict[Any, list[int]] = {}
    for index, day in enumerate(days):
        if interval == "1d":
            key: Any = day
        elif interval == "5d":
            key = index // 5
        elif interval == "1wk":
            key = (day + 3) // 7  # weeks starting on Monday
        else:
            year, month = month_of(day * DAY)
            key = (year, month if interval == "1mo" else (month - 1) // 3)
        groups.setdefault(key, []).append(day)
    rows = []
    for members in groups.values():
        bars = [bar(profile, d) for d in members]
        rows.append(
            (
                bar_time(members[0]),
                bars[0][0],
                max(b[1] for b in bars),
                min(b[2] for b in bars),
                bars[-1][3],
                sum(b[4] for b in bars),
            )
        )
    return rows


def _intraday(profile: Profile, days: list[int], minutes: int) -> list[Row]:
    rows = []
    steps = 390 // minutes
    for day in days[-5:]:
        opening, high, low, last, volume = bar(profile, day)
        for step in range(steps):
            share = step / max(1, steps - 1)
            price = round(opening + (last - opening) * share, 2)
            rows.append(
                (
                    bar_time(day) + step * minutes * 60,
                    price,
                    min(high, price * 1.001),
                    max(low, price * 0.999),
                    price,
                    volume // steps,
                )
            )
    return rows
