"""Wave 3: financials, stock and analyst ratings from Yahoo Finance (web search as fallback)."""

from __future__ import annotations

from .._types import ModuleSpec
from ._common import DAY, unavailable

_M01 = ("m01_company_context",)

MODULES: list[ModuleSpec] = [
    ModuleSpec(
        id="m07_financials",
        wave=3,
        description="Revenue, margins",
        run=unavailable("yahoo_finance"),
        depends_on=_M01,
        sources=("yahoo_finance", "websearch"),
        ttl_seconds=1 * DAY,
    ),
    ModuleSpec(
        id="m08_stock_info",
        wave=3,
        description="Stock price, market cap",
        run=unavailable("yahoo_finance"),
        depends_on=_M01,
        sources=("yahoo_finance",),
        ttl_seconds=1 * DAY,
    ),
    ModuleSpec(
        id="m09_analyst_ratings",
        wave=3,
        description="Buy/sell recommendations",
        run=unavailable("yahoo_finance"),
        depends_on=_M01,
        sources=("yahoo_finance",),
        ttl_seconds=1 * DAY,
    ),
]
