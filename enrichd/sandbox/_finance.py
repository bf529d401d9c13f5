"""Market data and fundamentals of listed companies, as Yahoo's quoteSummary modules.

Prices are end-of-day closes from a smooth deterministic path per ticker (a function of the
trading day, not of when it is asked), so charts, quotes and 52-week ranges agree.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ._model import Profile
from ._profile import profile_for
from ._util import DAY, compact, iso_date, rng_for, slug, unit

_OPEN_SECONDS = 14 * 3600 + 30 * 60  # 09:30 New York (EST) in UTC
_CLOSE_SECONDS = 21 * 3600


@dataclass(frozen=True, slots=True)
class Fundamentals:
    """Figures derived once per company (annual, USD)."""

    revenue: float
    gross_profit: float
    ebitda: float
    net_income: float
    operating_cashflow: float
    free_cashflow: float
    total_cash: float
    total_debt: float
    current_ratio: float
    debt_to_equity: float
    earnings_growth: float
    beta: float
    dividend_yield: float
    trend: tuple[tuple[int, int, int, int, int], ...]  # strongBuy..strongSell, 0m..-3m
    target_bias: float
    insiders: float
    institutions: float
    book_value_share: float
    first_trade: int
    average_volume: int


def fundamentals(profile: Profile) -> Fundamentals:
    """The company's fundamentals (deterministic per company)."""
    return _fundamentals(profile.domain)


@lru_cache(maxsize=4096)
def _fundamentals(domain: str) -> Fundamentals:
    profile = profile_for(domain)
    assert profile is not None  # only called with a profile's own domain
    rng = rng_for("finance", profile.label)
    revenue = profile.revenue
    ebitda = revenue * (profile.operating_margin + rng.uniform(0.02, 0.05))
    net = revenue * profile.profit_margin
    analysts = {"enterprise": (18, 40), "mid-market": (8, 20)}.get(profile.tier, (2, 8))
    total = rng.randint(*analysts)
    bullish = rng.uniform(0.25, 0.8)
    trend = []
    for _ in range(4):
        strong_buy = int(total * bullish * rng.uniform(0.3, 0.5))
        buy = int(total * bullish) - strong_buy
        sell = int(total * (1 - bullish) * rng.uniform(0.0, 0.25))
        strong_sell = 1 if rng.random() < 0.15 else 0
        trend.append(
            (
                strong_buy,
                buy,
                max(0, total - strong_buy - buy - sell - strong_sell),
                sell,
                strong_sell,
            )
        )
    return Fundamentals(
        revenue=revenue,
        gross_profit=revenue * profile.gross_margin,
        ebitda=ebitda,
        net_income=net,
        operating_cashflow=net * 1.25 + ebitda * 0.2,
        free_cashflow=net * rng.uniform(0.6, 1.1),
        total_cash=revenue * rng.uniform(0.04, 0.2),
        total_debt=revenue * rng.uniform(0.05, 0.35),
        current_ratio=rng.uniform(0.85, 2.4),
        debt_to_equity=rng.uniform(20, 160),
        earnings_growth=rng.uniform(-0.15, 0.3),
        beta=rng.uniform(0.55, 1.6),
        dividend_yield=rng.uniform(0.004, 0.03) if profile.tier == "enterprise" else 0.0,
        trend=tuple(trend),
        target_bias=rng.uniform(0.02, 0.18),
        insiders=rng.uniform(0.001, 0.12),
        institutions=rng.uniform(0.55, 0.85),
        book_value_share=profile.price * rng.uniform(0.08, 0.4),
        first_trade=int((max(profile.founded + 8, 1986) - 1970) * 365.25 * DAY) + _OPEN_SECONDS,
        average_volume=int(profile.shares * rng.uniform(0.004, 0.012)),
    )


def close(profile: Profile, day: int) -> float:
    """Closing price on trading day ``day`` (days since the epoch)."""
    return _close(profile.label, profile.price, day)


@lru_cache(maxsize=65536)
def _close(label: str, base: float, day: int) -> float:
    a = unit("phase-a", label) * 2 * math.pi
    b = unit("phase-b", label) * 2 * math.pi
    wave = 0.12 * math.sin(2 * math.pi * day / 173 + a) + 0.06 * math.sin(
        2 * math.pi * day / 41 + b
    )
    noise = 0.012 * (unit("px", label, day) - 0.5)
    return round(base * math.exp(wave + noise), 2)


def bar(profile: Profile, day: int) -> tuple[float, float, float, float, int]:
    """``(open, high, low, close, volume)`` of trading day ``day``."""
    return _bar(profile.domain, day)


@lru_cache(maxsize=65536)
def _bar(domain: str, day: int) -> tuple[float, float, float, float, int]:
    profile = profile_for(domain)
    assert profile is not None  # only called with a profile's own domain
    last = close(profile, day)
    prev = close(profile, previous_trading_day(day))
    opening = round(prev * (1 + 0.006 * (unit("open", profile.label, day) - 0.5)), 2)
    high = round(max(opening, last) * (1 + 0.01 * unit("high", profile.label, day)), 2)
    low = round(min(opening, last) * (1 - 0.01 * unit("low", profile.label, day)), 2)
    volume = int(fundamentals(profile).average_volume * (0.6 + unit("vol", profile.label, day)))
    return opening, high, low, last, volume


def is_trading_day(day: int) -> bool:
    """Monday to Friday (holidays are not simulated)."""
    return (day + 3) % 7 < 5  # 1970-01-01 was a Thursday


def previous_trading_day(day: int) -> int:
    """The trading day before ``day``."""
    day -= 1
    while not is_trading_day(day):
        day -= 1
    return day


def last_close_day(now: float) -> int:
    """The latest trading day whose close is before ``now``."""
    day = int(now // DAY)
    if is_trading_day(day) and now - day * DAY >= _CLOSE_SECONDS:
        return day
    return previous_trading_day(day)


def bar_time(day: int) -> int:
    """Yahoo's timestamp of a daily bar: the market open of that day."""
    return day * DAY + _OPEN_SECONDS


def year_range(profile: Profile, day: int) -> tuple[float, float]:
    """52-week low and high up to ``day``."""
    return _year_range(profile.domain, day)


@lru_cache(maxsize=4096)
def _year_range(domain: str, day: int) -> tuple[float, float]:
    profile = profile_for(domain)
    assert profile is not None
    closes = [close(profile, d) for d in range(day - 364, day + 1) if is_trading_day(d)]
    return min(closes), max(closes)


def moving_average(profile: Profile, day: int, days: int) -> float:
    """Average close of the ``days`` trading days up to ``day``."""
    return _moving_average(profile.domain, day, days)


@lru_cache(maxsize=4096)
def _moving_average(domain: str, day: int, days: int) -> float:
    profile = profile_for(domain)
    assert profile is not None
    closes: list[float] = []
    while len(closes) < days:
        closes.append(close(profile, day))
        day = previous_trading_day(day)
    return round(sum(closes) / len(closes), 2)


Fmt = Callable[[float | None, str], Any]


def formatter(formatted: bool) -> Fmt:
    """Yahoo's value wrapping: ``{raw, fmt[, longFmt]}`` objects, or plain numbers."""

    def wrap(value: float | None, kind: str) -> Any:
        """``value`` as Yahoo shows a ``kind`` (money, int, price, ratio, pct, date)."""
        if not formatted:
            # Yahoo's raw amounts and counts are integers; ratios and prices are not.
            return round(value) if value is not None and kind in ("money", "int") else value
        if value is None:
            return {}
        if kind == "pct":
            return {"raw": value, "fmt": f"{value * 100:.2f}%"}
        if kind == "date":
            return {"raw": int(value), "fmt": iso_date(value)}
        if kind in ("price", "ratio"):
            return {"raw": value, "fmt": f"{value:.2f}"}
        raw = int(value)
        fmt = str(raw) if abs(raw) < 1000 else compact(raw)
        return {"raw": raw, "fmt": fmt, "longFmt": f"{raw:,}"}

    return wrap


def asset_profile(p: Profile, f: Fmt, fiscal_year: int) -> dict[str, Any]:
    """The ``assetProfile`` module (``summaryProfile`` is the same without officers)."""
    officers = [
        {
            "maxAge": 1,
            "name": e.name,
            "age": e.age,
            "title": e.title,
            "yearBorn": fiscal_year - e.age,
            "fiscalYear": fiscal_year,
            **({"totalPay": f(e.pay, "money")} if e.pay else {}),
            "exercisedValue": f(0, "money"),
            "unexercisedValue": f(0, "money"),
        }
        for e in p.execs
    ]
    return {
        "address1": p.street,
        "city": p.city,
        "state": p.state,
        "zip": p.postcode,
        "country": p.country_name,
        "phone": p.phone,
        "website": f"https://www.{p.domain}",
        "industry": p.industry,
        "industryKey": slug(p.industry),
        "industryDisp": p.industry,
        "sector": p.sector,
        "sectorKey": slug(p.sector),
        "sectorDisp": p.sector,
        "longBusinessSummary": business_summary(p),
        "fullTimeEmployees": p.employees,
        "companyOfficers": officers,
        "auditRisk": 4,
        "boardRisk": 3,
        "compensationRisk": 5,
        "shareHolderRightsRisk": 2,
        "overallRisk": 3,
        "maxAge": 86400,
    }


def business_summary(p: Profile) -> str:
    """Yahoo's ``longBusinessSummary``."""
    return (
        f"{p.legal_name} {p.summary}. The company operates in the {p.sub_vertical.lower()} "
        f"segment of the {p.vertical.lower()} industry and sells through its website "
        f"{p.domain}. {p.legal_name} was founded in {p.founded} and is headquartered in "
        f"{p.city}, {p.state}."
    )


def financial_data(p: Profile, f: Fmt, day: int) -> dict[str, Any]:
    """The ``financialData`` module."""
    fd = fundamentals(p)
    price = close(p, day)
    mean = round(price * (1 + fd.target_bias), 2)
    rec = recommendation_mean(fd.trend[0])
    return {
        "maxAge": 86400,
        "currentPrice": f(price, "price"),
        "targetHighPrice": f(round(mean * 1.22, 2), "price"),
        "targetLowPrice": f(round(mean * 0.74, 2), "price"),
        "targetMeanPrice": f(mean, "price"),
        "targetMedianPrice": f(round(mean * 1.01, 2), "price"),
        "recommendationMean": f(rec, "ratio"),
        "recommendationKey": recommendation_key(rec),
        "numberOfAnalystOpinions": f(sum(fd.trend[0]), "int"),
        "totalCash": f(fd.total_cash, "money"),
        "totalCashPerShare": f(round(fd.total_cash / p.shares, 3), "ratio"),
        "ebitda": f(fd.ebitda, "money"),
        "totalDebt": f(fd.total_debt, "money"),
        "quickRatio": f(round(fd.current_ratio * 0.6, 3), "ratio"),
        "currentRatio": f(round(fd.current_ratio, 3), "ratio"),
        "totalRevenue": f(fd.revenue, "money"),
        "debtToEquity": f(round(fd.debt_to_equity, 3), "ratio"),
        "revenuePerShare": f(round(fd.revenue / p.shares, 3), "ratio"),
        "returnOnAssets": f(round(fd.net_income / (fd.revenue * 0.9), 5), "pct"),
        "returnOnEquity": f(round(fd.net_income / (fd.revenue * 0.35), 5), "pct"),
        "grossProfits": f(fd.gross_profit, "money"),
        "freeCashflow": f(fd.free_cashflow, "money"),
        "operatingCashflow": f(fd.operating_cashflow, "money"),
        "earningsGrowth": f(round(fd.earnings_growth, 3), "pct"),
        "revenueGrowth": f(round(p.revenue_growth, 3), "pct"),
        "grossMargins": f(round(p.gross_margin, 5), "pct"),
        "ebitdaMargins": f(round(fd.ebitda / fd.revenue, 5), "pct"),
        "operatingMargins": f(round(p.operating_margin, 5), "pct"),
        "profitMargins": f(round(p.profit_margin, 5), "pct"),
        "financialCurrency": "USD",
    }


def recommendation_mean(row: tuple[int, int, int, int, int]) -> float:
    """1 (strong buy) to 5 (strong sell), weighted by analysts."""
    total = sum(row) or 1
    return round(sum((i + 1) * n for i, n in enumerate(row)) / total, 1)


def recommendation_key(mean: float) -> str:
    """Yahoo's ``recommendationKey`` for a mean rating."""
    for bound, key in ((1.5, "strong_buy"), (2.5, "buy"), (3.5, "hold"), (4.5, "underperform")):
        if mean <= bound:
            return key
    return "sell"


def recommendation_trend(p: Profile) -> dict[str, Any]:
    """The ``recommendationTrend`` module (plain integers even when formatted)."""
    keys = ("strongBuy", "buy", "hold", "sell", "strongSell")
    trend = [
        {"period": period, **dict(zip(keys, row, strict=True))}
        for period, row in zip(("0m", "-1m", "-2m", "-3m"), fundamentals(p).trend, strict=True)
    ]
    return {"trend": trend, "maxAge": 86400}
