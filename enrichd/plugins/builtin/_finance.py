"""Wave 3: financials, stock and analyst ratings from Yahoo Finance (web search as fallback).

The three modules find the ticker the same way: a ``ticker`` that m01 already knows, else a Yahoo
search for m01's company name, then for the domain (the answer is shared through the source
state). A company with no equity listing is private: the modules complete with
``{"public": false, "note": ...}`` and 0 data points — a true answer, not a failure.

m07 alone has a fallback: when Yahoo cannot serve (not configured, quota spent, failing, no
revenue for the ticker), it looks for a published revenue figure through web search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import partial
from typing import Any, Final

import msgspec

from .._fallback import first_available
from .._types import (
    Citation,
    ModuleContext,
    ModuleError,
    ModuleResult,
    ModuleSpec,
    NoData,
    SearchHit,
    SearchQuery,
    Source,
)
from . import _yahoo as yahoo
from ._common import DAY, count_points
from ._websearch import search

M01: Final = "m01_company_context"
WEBSEARCH: Final = "websearch"


class Company(msgspec.Struct, frozen=True):
    """What m01 knows that helps find the listing."""

    name: str | None
    ticker: str | None


def company_of(ctx: ModuleContext) -> Company:
    """The company name and ticker from m01's data (either may be missing)."""
    try:
        data = ctx.dependency(M01)
    except ModuleError:
        data = {}
    return Company(yahoo.text(data.get("company_name")), yahoo.text(data.get("ticker")))


def _bare(domain: str) -> str:
    return domain.lower().removeprefix("www.")


async def listing_of(ctx: ModuleContext, source: Source) -> yahoo.Listing | None:
    """The company's equity listing, or ``None`` when Yahoo lists none (a private company)."""
    company = company_of(ctx)
    if company.ticker:
        return yahoo.Listing(symbol=company.ticker.upper(), name=company.name)
    return await yahoo.find_listing(source, company.name, _bare(ctx.domain))


def private_result(ctx: ModuleContext) -> ModuleResult:
    """The answer for a company with no listing: completed, 0 data points, a note."""
    name = company_of(ctx).name
    who = f"{name} ({_bare(ctx.domain)})" if name else _bare(ctx.domain)
    note = f"Yahoo Finance lists no stock for {who}; the company appears to be privately held"
    return ModuleResult(
        data={"public": False, "note": note},
        data_points=0,
        source=yahoo.NAME,
        warnings=[note],
    )


def _listed_result(
    symbol: str, data: dict[str, Any], title: str, page: str, warnings: list[str] | None = None
) -> ModuleResult:
    url = yahoo.quote_url(symbol, page)
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=[Citation(url=url, title=f"Yahoo Finance: {symbol} {title}")],
        source=yahoo.NAME,
        source_url=url,
        warnings=warnings or [],
    )


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def _ratio(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _money(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# -- m07_financials --------------------------------------------------------------------------


def revenue_history(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """``[{fiscal_year_end, revenue, net_income}]``, newest first, from incomeStatementHistory."""
    statements = summary.get("incomeStatementHistory", {}).get("incomeStatementHistory")
    rows: list[dict[str, Any]] = []
    for statement in statements if isinstance(statements, list) else []:
        if not isinstance(statement, dict):
            continue
        end = yahoo.day(statement.get("endDate"))
        revenue = _whole(yahoo.num(statement.get("totalRevenue")))
        net_income = _whole(yahoo.num(statement.get("netIncome")))
        if end is not None and (revenue is not None or net_income is not None):
            rows.append({"fiscal_year_end": end, "revenue": revenue, "net_income": net_income})
    return sorted(rows, key=lambda row: str(row["fiscal_year_end"]), reverse=True)


async def financials_from_yahoo(ctx: ModuleContext, source: Source) -> ModuleResult:
    """m07 from Yahoo: trailing revenue, growth, margins, net income and the annual history."""
    listing = await listing_of(ctx, source)
    if listing is None:
        return private_result(ctx)
    symbol = listing.symbol
    summary = await yahoo.quote_summary(
        source,
        symbol,
        ["financialData", "defaultKeyStatistics", "incomeStatementHistory", "price"],
    )
    fin = summary.get("financialData", {})
    stats = summary.get("defaultKeyStatistics", {})
    history = revenue_history(summary)
    latest = history[0] if history else {}
    revenue = _whole(yahoo.num(fin.get("totalRevenue"))) or latest.get("revenue")
    if revenue is None:
        # Without the revenue figure the web search may still find one in public filings.
        raise NoData(f"Yahoo Finance has no revenue for {symbol}", source=yahoo.NAME)
    data: dict[str, Any] = {
        "public": True,
        "ticker": symbol,
        "revenue": revenue,
        "revenue_growth": _ratio(yahoo.num(fin.get("revenueGrowth"))),
        "gross_margin": _ratio(yahoo.num(fin.get("grossMargins"))),
        "operating_margin": _ratio(yahoo.num(fin.get("operatingMargins"))),
        "net_income": _whole(yahoo.num(stats.get("netIncomeToCommon"))) or latest.get("net_income"),
        "currency": yahoo.text(fin.get("financialCurrency"))
        or yahoo.text(summary.get("price", {}).get("currency")),
        "fiscal_year_end": yahoo.day(stats.get("lastFiscalYearEnd"))
        or latest.get("fiscal_year_end"),
        "revenue_history": history,
    }
    return _listed_result(symbol, data, "financials", "financials/")


async def financials_from_web(ctx: ModuleContext, source: Source) -> ModuleResult:
    """m07 from web search: a published revenue figure and the page that states it."""
    domain = _bare(ctx.domain)
    company = company_of(ctx).name
    # The domain must be in the query: it pins the company (and the sandbox keys on it).
    q = f'"{company}" {domain} annual revenue' if company else f"{domain} annual revenue"
    hits = await search(source, SearchQuery(q=q, count=10))
    found = find_revenue(hits)
    if found is None:
        raise NoData(f"no revenue figure in web search results for {domain}", source=WEBSEARCH)
    figure, hit = found
    data: dict[str, Any] = {
        "revenue": round(figure.amount),
        "currency": figure.currency,
        "revenue_source_url": hit.url,
        "revenue_estimated": figure.estimated,
        "fiscal_year": figure.year,
    }
    warnings = ["revenue is an estimate published on the web"] if figure.estimated else []
    return ModuleResult(
        data=data,
        data_points=count_points(data),
        citations=[Citation(url=hit.url, title=hit.title or f"Revenue of {company or domain}")],
        source=WEBSEARCH,
        source_url=hit.url,
        warnings=warnings,
    )


async def run_financials(ctx: ModuleContext) -> ModuleResult:
    """m07: Yahoo Finance, else a revenue figure found by web search."""
    served = await first_available(
        ctx,
        [
            (yahoo.NAME, partial(financials_from_yahoo, ctx)),
            (WEBSEARCH, partial(financials_from_web, ctx)),
        ],
    )
    result = served.value
    result.source = served.source
    result.warnings = [*served.warnings, *result.warnings]
    return result


# -- m08_stock_info --------------------------------------------------------------------------


async def run_stock_info(ctx: ModuleContext) -> ModuleResult:
    """m08: ticker, exchange, price, market cap, 52-week range and the day's change."""
    source = ctx.source(yahoo.NAME)
    listing = await listing_of(ctx, source)
    if listing is None:
        return private_result(ctx)
    symbol = listing.symbol
    summary = await yahoo.quote_summary(source, symbol, ["price", "summaryDetail"])
    price_info = summary.get("price", {})
    detail = summary.get("summaryDetail", {})
    num = yahoo.num
    price = num(price_info.get("regularMarketPrice"))
    previous = num(detail.get("previousClose")) or num(price_info.get("regularMarketPreviousClose"))
    change = num(price_info.get("regularMarketChange"))
    if change is None and price is not None and previous is not None:
        change = price - previous
    # Yahoo's regularMarketChangePercent is a fraction; the change over the close is exact.
    if change is not None and previous:
        change_percent: float | None = change / previous * 100
    else:
        fraction = num(price_info.get("regularMarketChangePercent"))
        change_percent = None if fraction is None else fraction * 100
    data: dict[str, Any] = {
        "public": True,
        "ticker": yahoo.text(price_info.get("symbol")) or symbol,
        "exchange": yahoo.text(price_info.get("exchangeName"))
        or listing.exchange_name
        or yahoo.text(price_info.get("exchange"))
        or listing.exchange,
        "company_name": yahoo.text(price_info.get("longName"))
        or yahoo.text(price_info.get("shortName"))
        or listing.name,
        "price": _money(price),
        "currency": yahoo.text(price_info.get("currency")) or yahoo.text(detail.get("currency")),
        "market_cap": _whole(num(price_info.get("marketCap")) or num(detail.get("marketCap"))),
        "fifty_two_week_low": _money(num(detail.get("fiftyTwoWeekLow"))),
        "fifty_two_week_high": _money(num(detail.get("fiftyTwoWeekHigh"))),
        "change": _money(change),
        "change_percent": _money(change_percent),
        "previous_close": _money(previous),
        "market_state": yahoo.text(price_info.get("marketState")),
    }
    return _listed_result(symbol, data, "stock quote", "")


# -- m09_analyst_ratings ---------------------------------------------------------------------

_RATINGS: Final = (
    ("strong_buy", "strongBuy"),
    ("buy", "buy"),
    ("hold", "hold"),
    ("sell", "sell"),
    ("strong_sell", "strongSell"),
)


_TARGETS: Final = (
    ("target_mean_price", "targetMeanPrice"),
    ("target_high_price", "targetHighPrice"),
    ("target_low_price", "targetLowPrice"),
)


def current_trend(summary: dict[str, Any]) -> dict[str, Any] | None:
    """This month's (``"0m"``) recommendation counts, else the first period Yahoo gives."""
    trend = summary.get("recommendationTrend", {}).get("trend")
    periods = [p for p in trend if isinstance(p, dict)] if isinstance(trend, list) else []
    for period in periods:
        if period.get("period") == "0m":
            return period
    return periods[0] if periods else None


async def run_analyst_ratings(ctx: ModuleContext) -> ModuleResult:
    """m09: analysts' recommendation counts, the consensus and the price targets."""
    source = ctx.source(yahoo.NAME)
    listing = await listing_of(ctx, source)
    if listing is None:
        return private_result(ctx)
    symbol = listing.symbol
    summary = await yahoo.quote_summary(
        source, symbol, ["recommendationTrend", "financialData", "price"]
    )
    fin = summary.get("financialData", {})
    trend = current_trend(summary) or {}
    counts = {ours: _whole(yahoo.num(trend.get(theirs))) for ours, theirs in _RATINGS}
    known = [c for c in counts.values() if c is not None]
    key = yahoo.text(fin.get("recommendationKey"))
    data: dict[str, Any] = {
        "public": True,
        "ticker": symbol,
        **counts,
        "total_analysts": sum(known) if known else None,
        "consensus": None if key is None or key.lower() == "none" else key,
        "recommendation_mean": _money(yahoo.num(fin.get("recommendationMean"))),
        **{ours: _money(yahoo.num(fin.get(theirs))) for ours, theirs in _TARGETS},
        # Targets are quoted in the trading currency, not the reporting one.
        "currency": yahoo.text(summary.get("price", {}).get("currency"))
        or yahoo.text(fin.get("financialCurrency")),
    }
    covered = data["total_analysts"] or data["consensus"] or data["target_mean_price"]
    warnings = [] if covered else [f"no analyst coverage of {symbol} on Yahoo Finance"]
    return _listed_result(symbol, data, "analyst ratings", "analysis/", warnings)


# -- revenue figures in web-search text ------------------------------------------------------


class RevenueFigure(msgspec.Struct, frozen=True):
    """An amount of money stated as revenue in some text."""

    amount: float
    currency: str
    estimated: bool = False
    year: int | None = None


_CURRENCIES: Final = {
    "$": "USD",
    "US$": "USD",
    "USD": "USD",
    "DOLLARS": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "CAD": "CAD",
    "A$": "AUD",
    "AU$": "AUD",
    "AUD": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "€": "EUR",
    "EUR": "EUR",
    "EUROS": "EUR",
    "£": "GBP",
    "GBP": "GBP",
    "POUNDS": "GBP",
    "¥": "JPY",
    "JPY": "JPY",
    "CHF": "CHF",
    "₹": "INR",
    "INR": "INR",
}
_SCALES: Final = {
    "trillion": 1e12,
    "tn": 1e12,
    "t": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "bil": 1e9,
    "b": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "mln": 1e6,
    "mm": 1e6,
    "mil": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}
_AMOUNT_RE: Final = re.compile(
    r"(?<![\w$€£¥₹.,])"
    r"(?:(?P<pre>US\s?\$|U\.S\.\s?\$|C\$|CA\$|A\$|AU\$|NZ\$|HK\$|S\$|USD|CAD|AUD|EUR|GBP|JPY|CHF"
    r"|INR|\$|€|£|¥|₹)\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"(?:\s?(?P<scale>trillion|billion|million|thousand|tn|bn|bil|mln|mn|mm|mil|[tbmk])(?![a-z]))?"
    r"(?:\s(?P<post>USD|EUR|GBP|CAD|AUD|CHF|JPY|INR|dollars|euros|pounds)\b)?",
    re.IGNORECASE,
)
_REVENUE_RE: Final = re.compile(r"\b(?:revenues?|sales|turnover)\b", re.IGNORECASE)
# Money words that are not revenue: an amount nearer to one of these is not the revenue.
_OTHER_MONEY_RE: Final = re.compile(
    r"\b(?:market\s+cap\w*|valuation|valued|raised?|raises|funding|profits?|net\s+income|income"
    r"|earnings|loss(?:es)?|ebitda|debt|acquir\w+|acquisition|deal|invest\w*|salary|price)\b",
    re.IGNORECASE,
)
_YEAR_RE: Final = re.compile(r"\b(?:fiscal(?:\s+year)?|FY|in|for)\s*'?((?:19|20)\d{2})\b", re.I)
# "2024 revenue was ...", "2023 annual sales of ...".
_YEAR_OF_REVENUE_RE: Final = re.compile(
    r"\b((?:19|20)\d{2})\s+(?:annual\s+|full[- ]year\s+|fiscal\s+|net\s+)?(?:revenues?|sales)\b",
    re.I,
)
_MAX_DISTANCE: Final = 120
_MIN_REVENUE: Final = 1000.0


def _currency(match: re.Match[str]) -> str | None:
    for group in ("pre", "post"):
        raw = match.group(group)
        if raw:
            key = raw.upper().replace(" ", "").replace("U.S.", "US")
            return _CURRENCIES.get(key)
    return None


# Text between an amount and a money word that follows it and still names what it is:
# "$120 million in revenue", "$3bn of annual sales".
_LINK_AFTER_RE: Final = re.compile(r"^\s*(?:in|of|from)?\s*(?:annual|total|net|yearly)?\s*$", re.I)
_CLAUSE_BREAK_RE: Final = re.compile(r"[;!?]|\.\s")
_FOLLOWING_PENALTY: Final = 30


def _cost(text: str, amount: tuple[int, int], word: tuple[int, int]) -> float:
    """How strongly a money word describes an amount: its distance, inf across a clause break.

    A word before the amount ("revenue of $X") reads naturally; one after it only when linked
    by "in"/"of" ("$X in revenue"), else it probably starts the next phrase.
    """
    if word[1] <= amount[0]:
        between = text[word[1] : amount[0]]
        penalty = 0
    else:
        between = text[amount[1] : word[0]]
        penalty = 0 if _LINK_AFTER_RE.match(between) else _FOLLOWING_PENALTY
    if _CLAUSE_BREAK_RE.search(between):
        return float("inf")
    return len(between) + penalty


def parse_revenue(text: str) -> RevenueFigure | None:
    """The revenue amount stated in ``text`` ("revenue of $254.5 billion", "€3.2bn sales").

    An amount counts when it has a currency and the money word that best describes it (the
    nearest in its clause, preferring one before it) is a revenue word (revenue, sales,
    turnover), not e.g. market cap or funding; of several, the most closely described wins.
    """
    revenue_words = [m.span() for m in _REVENUE_RE.finditer(text)]
    if not revenue_words:
        return None
    other_words = [m.span() for m in _OTHER_MONEY_RE.finditer(text)]
    best: tuple[float, RevenueFigure] | None = None
    for match in _AMOUNT_RE.finditer(text):
        currency = _currency(match)
        if currency is None:
            continue
        scale = _SCALES.get((match.group("scale") or "").lower(), 1.0)
        amount = float(match.group("num").replace(",", "")) * scale
        if amount < _MIN_REVENUE:
            continue
        span = match.span()
        cost = min(_cost(text, span, w) for w in revenue_words)
        if cost > _MAX_DISTANCE or any(_cost(text, span, w) < cost for w in other_words):
            continue
        if best is None or cost < best[0]:
            best = (cost, _figure(text, match, amount, currency))
    return best[1] if best else None


def _figure(text: str, match: re.Match[str], amount: float, currency: str) -> RevenueFigure:
    before = text[max(0, match.start() - 80) : match.start()]
    after = text[match.end() : match.end() + 60]
    year = _YEAR_RE.search(after) or _YEAR_RE.search(before) or _YEAR_OF_REVENUE_RE.search(before)
    return RevenueFigure(
        amount=amount,
        currency=currency,
        estimated=bool(re.search(r"estimat|approximately|\babout\b|\baround\b", before, re.I)),
        year=int(year.group(1)) if year else None,
    )


def find_revenue(hits: Iterable[SearchHit]) -> tuple[RevenueFigure, SearchHit] | None:
    """The first revenue figure in the hits (in search order) and the hit that states it."""
    for hit in hits:
        for text in (hit.snippet, *hit.extra_snippets, hit.title):
            figure = parse_revenue(text)
            if figure is not None:
                return figure, hit
    return None


# -- the module specs ------------------------------------------------------------------------

_M01 = (M01,)

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m07_financials",
        wave=3,
        description="Revenue, margins",
        run=run_financials,
        depends_on=_M01,
        sources=("yahoo_finance", "websearch"),
        ttl_seconds=1 * DAY,
    ),
    ModuleSpec(
        id="m08_stock_info",
        wave=3,
        description="Stock price, market cap",
        run=run_stock_info,
        depends_on=_M01,
        sources=("yahoo_finance",),
        ttl_seconds=1 * DAY,
    ),
    ModuleSpec(
        id="m09_analyst_ratings",
        wave=3,
        description="Buy/sell recommendations",
        run=run_analyst_ratings,
        depends_on=_M01,
        sources=("yahoo_finance",),
        ttl_seconds=1 * DAY,
    ),
]
