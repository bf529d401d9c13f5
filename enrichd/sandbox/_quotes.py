"""Yahoo quoteSummary: the modules of one listed company, formatted or raw."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from ._finance import (
    Fmt,
    asset_profile,
    bar,
    close,
    financial_data,
    formatter,
    fundamentals,
    last_close_day,
    moving_average,
    previous_trading_day,
    recommendation_trend,
    year_range,
)
from ._model import Profile
from ._util import DAY, add_months, month_of, month_start


class _Context:
    """What every module needs: the company, the formatting and the market day."""

    def __init__(self, profile: Profile, formatted: bool, now: float) -> None:
        self.p = profile
        self.f: Fmt = formatter(formatted)
        self.day = last_close_day(now)
        year, _ = month_of(now)
        self.fiscal_year = profile.fiscal_year or year - 1
        # The last fiscal year's closing day: curated companies say (Costco's ends in
        # September), others close their books on December 31.
        self.fiscal_close = dt.date.fromisoformat(profile.fiscal_end or f"{self.fiscal_year}-12-31")

    def fiscal_end(self, back: int = 0) -> int:
        """Epoch seconds of the end of the fiscal year ``back`` years before the last one."""
        day = self.fiscal_close
        end = day.replace(year=day.year - back, day=min(day.day, 28 if day.month == 2 else 31))
        return int(dt.datetime(end.year, end.month, end.day, tzinfo=dt.UTC).timestamp())

    @property
    def price(self) -> float:
        """The last close."""
        return close(self.p, self.day)

    @property
    def market_cap(self) -> float:
        """Price times shares outstanding."""
        return self.price * self.p.shares


def _price(c: _Context) -> dict[str, Any]:
    p, f = c.p, c.f
    opening, high, low, last, volume = bar(p, c.day)
    prev = close(p, previous_trading_day(c.day))
    return {
        "maxAge": 1,
        "regularMarketChangePercent": f(round((last - prev) / prev, 5), "pct"),
        "regularMarketChange": f(round(last - prev, 2), "price"),
        "regularMarketTime": c.day * DAY + 20 * 3600,
        "priceHint": f(2, "int"),
        "regularMarketPrice": f(last, "price"),
        "regularMarketDayHigh": f(high, "price"),
        "regularMarketDayLow": f(low, "price"),
        "regularMarketVolume": f(volume, "int"),
        "regularMarketPreviousClose": f(prev, "price"),
        "regularMarketOpen": f(opening, "price"),
        "exchange": p.exchange,
        "exchangeName": p.exchange_name,
        "exchangeDataDelayedBy": 0,
        "marketState": "CLOSED",
        "quoteType": "EQUITY",
        "symbol": p.ticker,
        "underlyingSymbol": None,
        "shortName": p.legal_name,
        "longName": p.legal_name,
        "currency": "USD",
        "quoteSourceName": "Delayed Quote",
        "currencySymbol": "$",
        "marketCap": f(round(c.market_cap), "money"),
    }


def _summary_detail(c: _Context) -> dict[str, Any]:
    p, f = c.p, c.f
    fd = fundamentals(p)
    opening, high, low, last, volume = bar(p, c.day)
    prev = close(p, previous_trading_day(c.day))
    low52, high52 = year_range(p, c.day)
    eps = fd.net_income / p.shares
    dividend = round(last * fd.dividend_yield, 2) if fd.dividend_yield else None
    return {
        "maxAge": 1,
        "priceHint": f(2, "int"),
        "previousClose": f(prev, "price"),
        "open": f(opening, "price"),
        "dayLow": f(low, "price"),
        "dayHigh": f(high, "price"),
        "regularMarketPreviousClose": f(prev, "price"),
        "regularMarketOpen": f(opening, "price"),
        "regularMarketDayLow": f(low, "price"),
        "regularMarketDayHigh": f(high, "price"),
        "dividendRate": f(dividend, "price"),
        "dividendYield": f(round(fd.dividend_yield, 4) if dividend else None, "pct"),
        "beta": f(round(fd.beta, 2), "ratio"),
        "trailingPE": f(round(last / eps, 2) if eps > 0 else None, "ratio"),
        "forwardPE": f(
            round(last / (eps * (1 + fd.earnings_growth)), 2) if eps > 0 else None, "ratio"
        ),
        "volume": f(volume, "int"),
        "regularMarketVolume": f(volume, "int"),
        "averageVolume": f(fd.average_volume, "int"),
        "averageVolume10days": f(int(fd.average_volume * 0.95), "int"),
        "marketCap": f(round(c.market_cap), "money"),
        "fiftyTwoWeekLow": f(low52, "price"),
        "fiftyTwoWeekHigh": f(high52, "price"),
        "priceToSalesTrailing12Months": f(round(c.market_cap / fd.revenue, 3), "ratio"),
        "fiftyDayAverage": f(moving_average(c.p, c.day, 50), "price"),
        "twoHundredDayAverage": f(moving_average(c.p, c.day, 200), "price"),
        "currency": "USD",
        "fromCurrency": None,
        "toCurrency": None,
        "lastMarket": None,
        "tradeable": False,
    }


def _key_statistics(c: _Context) -> dict[str, Any]:
    p, f = c.p, c.f
    fd = fundamentals(p)
    eps = fd.net_income / p.shares
    enterprise_value = c.market_cap + fd.total_debt - fd.total_cash
    year_ago = close(p, previous_trading_day(c.day - 364))
    fiscal_end = c.fiscal_end()
    return {
        "maxAge": 1,
        "priceHint": f(2, "int"),
        "enterpriseValue": f(enterprise_value, "money"),
        "forwardPE": f(round(c.price / (eps * 1.1), 2) if eps > 0 else None, "ratio"),
        "profitMargins": f(round(p.profit_margin, 5), "pct"),
        "floatShares": f(p.shares * (1 - fd.insiders), "int"),
        "sharesOutstanding": f(p.shares, "int"),
        "heldPercentInsiders": f(round(fd.insiders, 5), "pct"),
        "heldPercentInstitutions": f(round(fd.institutions, 5), "pct"),
        "bookValue": f(round(fd.book_value_share, 3), "ratio"),
        "priceToBook": f(round(c.price / fd.book_value_share, 3), "ratio"),
        "lastFiscalYearEnd": f(fiscal_end, "date"),
        "nextFiscalYearEnd": f(fiscal_end + 365 * DAY, "date"),
        "mostRecentQuarter": f(month_start(*add_months(*month_of(c.day * DAY), -2)), "date"),
        "netIncomeToCommon": f(fd.net_income, "money"),
        "trailingEps": f(round(eps, 2), "price"),
        "forwardEps": f(round(eps * (1 + fd.earnings_growth), 2), "price"),
        "enterpriseToRevenue": f(round(enterprise_value / fd.revenue, 3), "ratio"),
        "enterpriseToEbitda": f(
            round(enterprise_value / fd.ebitda, 3) if fd.ebitda > 0 else None, "ratio"
        ),
        "52WeekChange": f(round(c.price / year_ago - 1, 5), "pct"),
        "lastSplitFactor": None,
    }


def _quote_type(c: _Context) -> dict[str, Any]:
    p = c.p
    return {
        "exchange": p.exchange,
        "quoteType": "EQUITY",
        "symbol": p.ticker,
        "underlyingSymbol": p.ticker,
        "shortName": p.legal_name,
        "longName": p.legal_name,
        "firstTradeDateEpochUtc": fundamentals(p).first_trade,
        "timeZoneFullName": "America/New_York",
        "timeZoneShortName": "EST",
        "gmtOffSetMilliseconds": -18000000,
        "maxAge": 1,
    }


def _history(c: _Context) -> list[tuple[int, int, float, float]]:
    """``(fiscal year, its end, revenue, net income)`` for the last four years, oldest first."""
    rows = []
    for back in range(3, -1, -1):
        scale = (1 + c.p.revenue_growth) ** -back
        rows.append(
            (
                c.fiscal_year - back,
                c.fiscal_end(back),
                fundamentals(c.p).revenue * scale,
                fundamentals(c.p).net_income * scale,
            )
        )
    return rows


def _income_history(c: _Context) -> dict[str, Any]:
    f, p = c.f, c.p
    statements = [
        {
            "maxAge": 1,
            "endDate": f(end, "date"),
            "totalRevenue": f(revenue, "money"),
            "costOfRevenue": f(revenue * (1 - p.gross_margin), "money"),
            "grossProfit": f(revenue * p.gross_margin, "money"),
            "operatingIncome": f(revenue * p.operating_margin, "money"),
            "netIncome": f(net, "money"),
        }
        for _, end, revenue, net in reversed(_history(c))
    ]
    return {"incomeStatementHistory": statements, "maxAge": 86400}


def _earnings(c: _Context) -> dict[str, Any]:
    f = c.f
    yearly = [
        {"date": year, "revenue": f(revenue, "money"), "earnings": f(net, "money")}
        for year, _, revenue, net in _history(c)
    ]
    return {
        "maxAge": 86400,
        "financialsChart": {"yearly": yearly, "quarterly": []},
        "financialCurrency": "USD",
    }


MODULES: dict[str, Callable[[_Context], dict[str, Any]]] = {
    "assetProfile": lambda c: asset_profile(c.p, c.f, c.fiscal_year),
    "summaryProfile": lambda c: {**asset_profile(c.p, c.f, c.fiscal_year), "companyOfficers": []},
    "financialData": lambda c: financial_data(c.p, c.f, c.day),
    "price": _price,
    "summaryDetail": _summary_detail,
    "defaultKeyStatistics": _key_statistics,
    "recommendationTrend": lambda c: recommendation_trend(c.p),
    "quoteType": _quote_type,
    "incomeStatementHistory": _income_history,
    "earnings": _earnings,
}


def quote_summary(
    profile: Profile, modules: list[str], formatted: bool, now: float
) -> dict[str, Any]:
    """One ``quoteSummary.result`` entry with the requested (known) modules."""
    context = _Context(profile, formatted, now)
    return {name: MODULES[name](context) for name in modules if name in MODULES}
