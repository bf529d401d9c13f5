"""The Yahoo Finance client and modules m07-m09 against a canned loopback upstream.

A small fake Yahoo on the canned server plays the session: the cookie URL answers 404 with a
``Set-Cookie``, ``getcrumb`` hands out the current crumb only to a client holding the cookie, and
data endpoints answer the recorded 401 "Invalid Crumb" to any other crumb. Bodies are the
reference document's examples (upstream-apis.md section 3) where it has them: search-AAPL, the
quoteSummary ``{raw, fmt}`` example, and a ``formatted=false`` answer with plain numbers.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import trio

from enrichd.config import ConfigError
from enrichd.daemon._sources import SourceActor
from enrichd.plugins import Citation, ModuleError, ModuleResult, NoData, SearchHit, SourceError
from enrichd.plugins.builtin import _yahoo as yahoo
from enrichd.plugins.builtin._finance import (
    MODULES,
    RevenueFigure,
    find_revenue,
    parse_revenue,
)
from enrichd.sandbox import HttpRequest, HttpResponse, json_response
from enrichd.testing import ModuleTestContext, running_sources, source_actors
from tests.canned import CannedServer

RUN = {spec.id: spec.run for spec in MODULES}
M01 = "m01_company_context"

# -- the reference document's examples ---------------------------------------------------------

#: upstream-apis.md 3.2, "Recorded response (trimmed from search-AAPL.json)", verbatim.
SEARCH_AAPL: dict[str, Any] = {
    "explains": [],
    "count": 11,
    "quotes": [
        {
            "exchange": "NMS",
            "shortname": "Apple Inc.",
            "quoteType": "EQUITY",
            "symbol": "AAPL",
            "index": "quotes",
            "score": 17067000,
            "typeDisp": "equity",
            "longname": "Apple Inc.",
            "exchDisp": "NASDAQ",
            "sector": "Technology",
            "sectorDisp": "Technology",
            "industry": "Consumer Electronics",
            "industryDisp": "Consumer Electronics",
            "dispSecIndFlag": True,
            "isYahooFinance": True,
        },
        {
            "exchange": "BTS",
            "shortname": "Roundhill AAPL WeeklyPay ETF",
            "quoteType": "ETF",
            "symbol": "AAPW",
            "index": "quotes",
            "score": 20005,
            "typeDisp": "etf",
            "exchDisp": "BATS Trading",
            "isYahooFinance": True,
        },
        {
            "index": "78ddc07626ff4bbcae663e88514c23a0",
            "name": "AAPlasma",
            "permalink": "aaplasma",
            "isYahooFinance": False,
        },
    ],
    "news": [
        {
            "uuid": "1090d70b-f34e-3e68-a27d-7390b4c2db48",
            "title": "Apple Debuts New Lineup of Products",
            "publisher": "MT Newswires",
            "link": "https://finance.yahoo.com/news/apple-debuts-lineup-products-145626403.html",
            "providerPublishTime": 1772549786,
            "type": "STORY",
            "relatedTickers": ["AAPL"],
        }
    ],
    "nav": [],
    "lists": [],
    "researchReports": [],
    "screenerFieldResults": [],
    "totalTime": 55,
    "timeTakenForQuotes": 442,
    "timeTakenForNews": 700,
}

#: upstream-apis.md 3.3, the constructed example with the default ``{raw, fmt}`` formatting.
SUMMARY_RAW_FMT: dict[str, Any] = {
    "quoteSummary": {
        "result": [
            {
                "assetProfile": {
                    "address1": "One Apple Park Way",
                    "city": "Cupertino",
                    "state": "CA",
                    "zip": "95014",
                    "country": "United States",
                    "phone": "408-996-1010",
                    "website": "https://www.apple.com",
                    "industry": "Consumer Electronics",
                    "sector": "Technology",
                    "longBusinessSummary": (
                        "Apple Inc. designs, manufactures, and markets smartphones..."
                    ),
                    "fullTimeEmployees": 147000,
                    "companyOfficers": [
                        {
                            "maxAge": 1,
                            "name": "Mr. Timothy D. Cook",
                            "age": 59,
                            "title": "CEO & Director",
                            "yearBorn": 1961,
                            "fiscalYear": 2020,
                            "totalPay": {
                                "raw": 14769259,
                                "fmt": "14.77M",
                                "longFmt": "14,769,259",
                            },
                        }
                    ],
                    "maxAge": 86400,
                },
                "financialData": {
                    "maxAge": 86400,
                    "currentPrice": {"raw": 872.79, "fmt": "872.79"},
                    "recommendationKey": "hold",
                    "numberOfAnalystOpinions": {"raw": 29, "fmt": "29", "longFmt": "29"},
                    "totalRevenue": {
                        "raw": 28175998976,
                        "fmt": "28.18B",
                        "longFmt": "28,175,998,976",
                    },
                    "revenueGrowth": {"raw": 0.392, "fmt": "39.20%"},
                    "grossMargins": {"raw": 0.21135001, "fmt": "21.14%"},
                    "ebitda": {"raw": 4019000064, "fmt": "4.02B", "longFmt": "4,019,000,064"},
                    "financialCurrency": "USD",
                },
                "price": {
                    "maxAge": 1,
                    "regularMarketPrice": {"raw": 872.79, "fmt": "872.79"},
                    "currency": "USD",
                    "exchangeName": "NasdaqGS",
                    "quoteType": "EQUITY",
                    "symbol": "TSLA",
                    "shortName": "Tesla, Inc.",
                    "longName": "Tesla, Inc.",
                    "marketCap": {
                        "raw": 827318468608,
                        "fmt": "827.32B",
                        "longFmt": "827,318,468,608",
                    },
                },
                "recommendationTrend": {
                    "trend": [
                        {
                            "period": "0m",
                            "strongBuy": 6,
                            "buy": 9,
                            "hold": 12,
                            "sell": 4,
                            "strongSell": 2,
                        }
                    ],
                    "maxAge": 86400,
                },
            }
        ],
        "error": None,
    }
}

#: Constructed: what ``formatted=false`` answers — plain numbers, epoch-second dates, ``{}``
#: for missing values — for every module m07-m09 read.
SUMMARY_PLAIN: dict[str, Any] = {
    "quoteSummary": {
        "result": [
            {
                "financialData": {
                    "maxAge": 86400,
                    "currentPrice": 227.52,
                    "targetHighPrice": 300.0,
                    "targetLowPrice": 184.0,
                    "targetMeanPrice": 246.366,
                    "recommendationMean": 1.96,
                    "recommendationKey": "buy",
                    "numberOfAnalystOpinions": 38,
                    "totalRevenue": 391035011072,
                    "revenueGrowth": 0.061,
                    "grossMargins": 0.46206,
                    "operatingMargins": 0.31171,
                    "ebitda": {},
                    "financialCurrency": "USD",
                },
                "defaultKeyStatistics": {
                    "netIncomeToCommon": 93736001536,
                    "lastFiscalYearEnd": 1727481600,
                    "mostRecentQuarter": 1727481600,
                },
                "incomeStatementHistory": {
                    "incomeStatementHistory": [
                        {
                            "maxAge": 1,
                            "endDate": 1696032000,
                            "totalRevenue": 383285000000,
                            "netIncome": 96995000000,
                        },
                        {
                            "maxAge": 1,
                            "endDate": 1727481600,
                            "totalRevenue": 391035000000,
                            "netIncome": 93736000000,
                        },
                    ],
                    "maxAge": 86400,
                },
                "price": {
                    "maxAge": 1,
                    "regularMarketPrice": 227.52,
                    "regularMarketChange": -2.19,
                    "regularMarketChangePercent": -0.0095337,
                    "regularMarketPreviousClose": 229.71,
                    "currency": "USD",
                    "exchange": "NMS",
                    "exchangeName": "NasdaqGS",
                    "quoteType": "EQUITY",
                    "symbol": "AAPL",
                    "shortName": "Apple Inc.",
                    "longName": "Apple Inc.",
                    "marketCap": 3439591899136,
                    "marketState": "REGULAR",
                },
                "summaryDetail": {
                    "previousClose": 229.71,
                    "fiftyTwoWeekLow": 164.075,
                    "fiftyTwoWeekHigh": 237.49,
                    "marketCap": 3439591899136,
                    "currency": "USD",
                },
                "recommendationTrend": {
                    "trend": [
                        {
                            "period": "-1m",
                            "strongBuy": 10,
                            "buy": 20,
                            "hold": 7,
                            "sell": 1,
                            "strongSell": 0,
                        },
                        {
                            "period": "0m",
                            "strongBuy": 11,
                            "buy": 21,
                            "hold": 6,
                            "sell": 0,
                            "strongSell": 0,
                        },
                    ],
                    "maxAge": 86400,
                },
            }
        ],
        "error": None,
    }
}

#: upstream-apis.md 3.1 and 3.3, recorded.
INVALID_CRUMB: dict[str, Any] = {
    "finance": {"result": None, "error": {"code": "Unauthorized", "description": "Invalid Crumb"}}
}
UNKNOWN_SYMBOL: dict[str, Any] = {
    "quoteSummary": {
        "result": None,
        "error": {"code": "Not Found", "description": "Quote not found for symbol: NVIDIA"},
    }
}
#: A private company: no EQUITY quote, only a Crunchbase-style entry.
SEARCH_PRIVATE: dict[str, Any] = {
    "count": 1,
    "quotes": [
        {"index": "0f1e", "name": "Acme Widgets", "permalink": "acme", "isYahooFinance": False}
    ],
    "news": [],
}

SUMMARY = "/v10/finance/quoteSummary/{}"
SEARCH = "/v1/finance/search"


class FakeYahoo:
    """Yahoo's session rules on the canned server: cookie, crumb, 401 for any other crumb."""

    def __init__(self, canned: CannedServer) -> None:
        self.canned = canned
        self.generation = 0
        self.crumbs_issued = 0
        self.refused: list[HttpRequest] = []
        canned.add("GET", "/fc", self._cookie)
        canned.add("GET", "/v1/test/getcrumb", self._getcrumb)

    @property
    def crumb(self) -> str:
        return f"haT3oykhHq{self.generation}"

    def rotate(self) -> None:
        """Invalidate every crumb handed out so far."""
        self.generation += 1

    async def _cookie(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse(
            status=404,
            headers=[("content-type", "text/html"), ("set-cookie", "A3=d=AQABBK; Path=/")],
            body=b"<html><body>Not found</body></html>",
        )

    async def _getcrumb(self, request: HttpRequest) -> HttpResponse:
        if "A3=" not in request.headers.get("cookie", ""):
            return json_response(INVALID_CRUMB, 401)
        self.crumbs_issued += 1
        return HttpResponse(headers=[("content-type", "text/plain")], body=self.crumb.encode())

    def serve(self, route: str, payload: Any, status: int = 200) -> None:
        """Answer ``route`` with ``payload``, but only to the current crumb."""
        self.canned.add("GET", route, self.guarded(json_response(payload, status)))

    def guarded(self, answer: HttpResponse) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
        async def reply(request: HttpRequest) -> HttpResponse:
            if request.query.get("crumb") != self.crumb:
                self.refused.append(request)
                return json_response(INVALID_CRUMB, 401)
            return answer

        return reply

    def calls(self, route: str) -> list[HttpRequest]:
        return self.canned.calls(route)


def sources(canned: CannedServer, **extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``[sources]`` with Yahoo (and its cookie URL) on the canned server."""
    table = {"yahoo_finance": {"base_url": canned.url, "cookie_url": f"{canned.url}/fc"}}
    return {**table, **extra}


def websearch(canned: CannedServer) -> dict[str, Any]:
    return {"base_url": canned.url, "api_key": "brave-key"}


def ctx(actors: dict[str, SourceActor], domain: str, mid: str, **m01: Any) -> ModuleTestContext:
    return ModuleTestContext(actors, domain, module_id=mid, dependencies={M01: m01})


# -- values ------------------------------------------------------------------------------------


def test_values_accept_plain_numbers_raw_fmt_and_empty() -> None:
    assert yahoo.num({"raw": 28175998976, "fmt": "28.18B", "longFmt": "28,175,998,976"}) == (
        28175998976.0
    )
    assert yahoo.num({"raw": 0.392, "fmt": "39.20%"}) == 0.392
    assert yahoo.num(227.52) == 227.52
    assert yahoo.num(38) == 38.0
    for missing in ({}, None, "1.2B", True, {"fmt": "1.2B"}, float("nan")):
        assert yahoo.num(missing) is None
    assert yahoo.day({"raw": 1727481600, "fmt": "2024-09-28"}) == "2024-09-28"
    assert yahoo.day({"raw": 1727481600}) == "2024-09-28"
    assert yahoo.day(1727481600) == "2024-09-28"
    assert yahoo.day("2024-09-28") == "2024-09-28"
    assert yahoo.day({}) is None
    assert yahoo.day("Sept 28") is None
    assert yahoo.text("  buy ") == "buy"
    assert yahoo.text("") is None
    assert yahoo.text({}) is None


def test_choose_prefers_the_name_then_a_major_exchange() -> None:
    frankfurt = yahoo.Listing(symbol="CTO.F", exchange="FRA", name="Costco Wholesale Corp")
    nasdaq = yahoo.Listing(symbol="COST", exchange="NMS", name="Costco Wholesale Corporation")
    other = yahoo.Listing(symbol="CSTO", exchange="NYQ", name="Costa Holdings")
    assert yahoo.choose([frankfurt, nasdaq, other], "Costco Wholesale") == nasdaq
    assert yahoo.choose([other, frankfurt], "Costco") == frankfurt
    assert yahoo.choose([frankfurt, other], None) == other
    assert yahoo.choose([], "Costco") is None


def test_cookie_url_option() -> None:
    actor = source_actors({"yahoo_finance": {"cookie_url": "http://x/fc"}})["yahoo_finance"]
    assert actor.settings.options == yahoo.YahooOptions(cookie_url="http://x/fc")
    assert source_actors({})["yahoo_finance"].settings.options.cookie_url == "https://fc.yahoo.com"
    with pytest.raises(ConfigError, match="yahoo_finance"):
        source_actors({"yahoo_finance": {"cookie": "x"}})


# -- session and search ------------------------------------------------------------------------


async def test_search_with_cookie_and_crumb(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_AAPL)
    async with running_sources(sources(canned)) as actors:
        listings = await yahoo.search(actors["yahoo_finance"].handle(), "Apple")
    # The ETF and the Crunchbase entry are not equity listings.
    assert listings == [
        yahoo.Listing(symbol="AAPL", exchange="NMS", exchange_name="NASDAQ", name="Apple Inc.")
    ]
    assert [r.path for r in canned.requests] == ["/fc", "/v1/test/getcrumb", SEARCH]
    (search,) = fake.calls(SEARCH)
    assert search.query == {
        "q": "Apple",
        "quotesCount": "8",
        "newsCount": "0",
        "crumb": "haT3oykhHq0",
    }
    assert "A3=d=AQABBK" in search.headers["cookie"]


@pytest.mark.parametrize(
    "answer",
    [
        HttpResponse(headers=[("content-type", "text/html")], body=b"<html><body>no</body></html>"),
        HttpResponse(headers=[("content-type", "text/plain")], body=b""),
        json_response({"finance": {"error": "no cookie"}}, 403),
    ],
)
async def test_no_crumb_is_an_error(
    autojump: Any, canned: CannedServer, answer: HttpResponse
) -> None:
    canned.add("GET", "/fc", HttpResponse(status=404))
    canned.add("GET", "/v1/test/getcrumb", answer)
    async with running_sources(sources(canned)) as actors:
        with pytest.raises(ModuleError) as info:
            await yahoo.search(actors["yahoo_finance"].handle(), "Apple")
    assert info.value.code == "auth_failed"
    assert "crumb" in info.value.message
    assert not canned.calls(SEARCH)


async def test_crumb_429_is_retried_by_the_actor(autojump: Any, canned: CannedServer) -> None:
    canned.add("GET", "/fc", HttpResponse(status=404, headers=[("set-cookie", "A3=x; Path=/")]))
    canned.add(
        "GET",
        "/v1/test/getcrumb",
        HttpResponse(status=429, headers=[("retry-after", "3")], body=b"Too Many Requests"),
        HttpResponse(body=b"abcCRUMB"),
    )
    canned.json("GET", SEARCH, SEARCH_AAPL)
    async with running_sources(sources(canned)) as actors:
        listings = await yahoo.search(actors["yahoo_finance"].handle(), "Apple")
    assert [item.symbol for item in listings] == ["AAPL"]
    assert len(canned.calls("/v1/test/getcrumb")) == 2
    assert canned.calls(SEARCH)[0].query["crumb"] == "abcCRUMB"


async def test_invalid_crumb_is_refreshed_once(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_AAPL)
    async with running_sources(sources(canned)) as actors:
        handle = actors["yahoo_finance"].handle()
        await yahoo.search(handle, "Apple")
        fake.rotate()
        listings = await yahoo.search(handle, "Apple")
    assert [item.symbol for item in listings] == ["AAPL"]
    assert fake.crumbs_issued == 2
    assert [r.query["crumb"] for r in fake.calls(SEARCH)] == [
        "haT3oykhHq0",
        "haT3oykhHq0",
        "haT3oykhHq1",
    ]
    assert len(fake.refused) == 1


async def test_a_second_401_is_auth_failed(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    canned.json("GET", SEARCH, INVALID_CRUMB, 401)
    async with running_sources(sources(canned)) as actors:
        with pytest.raises(ModuleError) as info:
            await yahoo.search(actors["yahoo_finance"].handle(), "Apple")
    assert info.value.code == "auth_failed"
    assert "Invalid Crumb" in info.value.message
    assert fake.crumbs_issued == 2
    assert len(fake.calls(SEARCH)) == 2


async def test_yahoo_is_down(autojump: Any, canned: CannedServer) -> None:
    FakeYahoo(canned)
    canned.add("GET", SEARCH, HttpResponse(body=b"<html>Will be right back...</html>"))
    async with running_sources(sources(canned)) as actors:
        with pytest.raises(ModuleError) as info:
            await yahoo.search(actors["yahoo_finance"].handle(), "Apple")
    assert info.value.code == "upstream_error"


# -- quoteSummary ------------------------------------------------------------------------------


async def summary_of(canned: CannedServer, symbol: str = "AAPL") -> dict[str, Any]:
    async with running_sources(sources(canned)) as actors:
        handle = actors["yahoo_finance"].handle()
        return await yahoo.quote_summary(handle, symbol, ["price", "financialData"])


async def test_quote_summary_request(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SUMMARY.format("BRK-B"), SUMMARY_PLAIN)
    summary = await summary_of(canned, "BRK-B")
    assert summary["price"]["symbol"] == "AAPL"
    (request,) = fake.calls(SUMMARY.format("BRK-B"))
    assert request.query == {
        "modules": "price,financialData",
        "formatted": "false",
        "crumb": "haT3oykhHq0",
    }


@pytest.mark.parametrize(
    ("status", "payload", "error", "words"),
    [
        (404, UNKNOWN_SYMBOL, NoData, ["AAPL", "Quote not found"]),
        (200, {"quoteSummary": {"result": None}}, NoData, ["no data"]),
        (200, {"quoteSummary": {"result": [], "error": None}}, NoData, ["no data"]),
        (200, UNKNOWN_SYMBOL, NoData, ["Quote not found"]),
        (400, {"quoteSummary": {"result": None, "error": {"description": "Bad"}}}, None, ["400"]),
        (200, {"finance": {}}, None, ["quoteSummary"]),
        (200, {"quoteSummary": {"result": ["x"]}}, None, ["result"]),
        (200, [1], None, ["not an object"]),
    ],
)
async def test_quote_summary_errors(
    autojump: Any,
    canned: CannedServer,
    status: int,
    payload: Any,
    error: type[ModuleError] | None,
    words: list[str],
) -> None:
    FakeYahoo(canned).serve(SUMMARY.format("AAPL"), payload, status)
    with pytest.raises(error or ModuleError) as info:
        await summary_of(canned)
    assert info.value.source == "yahoo_finance"
    for word in words:
        assert word in info.value.message


async def test_quote_summary_malformed_json(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    canned.add("GET", SUMMARY.format("AAPL"), fake.guarded(HttpResponse(body=b'{"quoteSum')))
    with pytest.raises(ModuleError) as info:
        await summary_of(canned)
    assert info.value.code == "malformed_response"


async def test_quote_summary_429_is_retried(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    canned.add(
        "GET",
        SUMMARY.format("AAPL"),
        HttpResponse(status=429, headers=[("retry-after", "2")], body=b"Too Many Requests"),
        fake.guarded(json_response(SUMMARY_PLAIN)),
    )
    summary = await summary_of(canned)
    assert summary["financialData"]["recommendationKey"] == "buy"
    assert len(fake.calls(SUMMARY.format("AAPL"))) == 2


# -- the modules on the {raw, fmt} example -----------------------------------------------------


async def test_modules_on_the_raw_fmt_example(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SUMMARY.format("TSLA"), SUMMARY_RAW_FMT)
    async with running_sources(sources(canned)) as actors:
        # m01 already knows the ticker: no search.
        results = {
            mid: await RUN[mid](ctx(actors, "tesla.com", mid, company_name="Tesla", ticker="tsla"))
            for mid in ("m07_financials", "m08_stock_info", "m09_analyst_ratings")
        }
    assert not fake.calls(SEARCH)
    assert fake.crumbs_issued == 1
    assert results["m07_financials"].data == {
        "public": True,
        "ticker": "TSLA",
        "revenue": 28175998976,
        "revenue_growth": 0.392,
        "gross_margin": 0.2114,
        "operating_margin": None,
        "net_income": None,
        "currency": "USD",
        "fiscal_year_end": None,
        "revenue_history": [],
    }
    assert results["m08_stock_info"].data == {
        "public": True,
        "ticker": "TSLA",
        "exchange": "NasdaqGS",
        "company_name": "Tesla, Inc.",
        "price": 872.79,
        "currency": "USD",
        "market_cap": 827318468608,
        "fifty_two_week_low": None,
        "fifty_two_week_high": None,
        "change": None,
        "change_percent": None,
        "previous_close": None,
        "market_state": None,
    }
    assert results["m09_analyst_ratings"].data == {
        "public": True,
        "ticker": "TSLA",
        "strong_buy": 6,
        "buy": 9,
        "hold": 12,
        "sell": 4,
        "strong_sell": 2,
        "total_analysts": 33,
        "consensus": "hold",
        "recommendation_mean": None,
        "target_mean_price": None,
        "target_high_price": None,
        "target_low_price": None,
        "currency": "USD",
    }
    for mid, page in (
        ("m07_financials", "financials/"),
        ("m08_stock_info", ""),
        ("m09_analyst_ratings", "analysis/"),
    ):
        result = results[mid]
        assert result.source == "yahoo_finance"
        assert result.warnings == []
        assert result.source_url == f"https://finance.yahoo.com/quote/TSLA/{page}"
        assert result.citations[0].url == result.source_url


# -- the modules on plain numbers, concurrently ------------------------------------------------


async def test_three_modules_share_one_crumb_and_one_search(
    autojump: Any, canned: CannedServer
) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_AAPL)
    fake.serve(SUMMARY.format("AAPL"), SUMMARY_PLAIN)
    results: dict[str, ModuleResult] = {}
    async with running_sources(sources(canned)) as actors:

        async def run(mid: str) -> None:
            results[mid] = await RUN[mid](ctx(actors, "apple.com", mid, company_name="Apple Inc."))

        async with trio.open_nursery() as nursery:
            for mid in RUN:
                nursery.start_soon(run, mid)
    assert fake.crumbs_issued == 1
    assert len(canned.calls("/fc")) == 1
    assert len(fake.calls(SEARCH)) == 1
    assert fake.calls(SEARCH)[0].query["q"] == "Apple Inc."
    assert results["m07_financials"].data == {
        "public": True,
        "ticker": "AAPL",
        "revenue": 391035011072,
        "revenue_growth": 0.061,
        "gross_margin": 0.4621,
        "operating_margin": 0.3117,
        "net_income": 93736001536,
        "currency": "USD",
        "fiscal_year_end": "2024-09-28",
        "revenue_history": [
            {"fiscal_year_end": "2024-09-28", "revenue": 391035000000, "net_income": 93736000000},
            {"fiscal_year_end": "2023-09-30", "revenue": 383285000000, "net_income": 96995000000},
        ],
    }
    assert results["m08_stock_info"].data == {
        "public": True,
        "ticker": "AAPL",
        "exchange": "NasdaqGS",
        "company_name": "Apple Inc.",
        "price": 227.52,
        "currency": "USD",
        "market_cap": 3439591899136,
        "fifty_two_week_low": 164.07,  # 164.075 is 164.07499... in binary
        "fifty_two_week_high": 237.49,
        "change": -2.19,
        "change_percent": -0.95,
        "previous_close": 229.71,
        "market_state": "REGULAR",
    }
    m09 = results["m09_analyst_ratings"]
    assert m09.data == {
        "public": True,
        "ticker": "AAPL",
        "strong_buy": 11,
        "buy": 21,
        "hold": 6,
        "sell": 0,
        "strong_sell": 0,
        "total_analysts": 38,
        "consensus": "buy",
        "recommendation_mean": 1.96,
        "target_mean_price": 246.37,
        "target_high_price": 300.0,
        "target_low_price": 184.0,
        "currency": "USD",
    }
    assert m09.data_points == 14
    assert m09.citations == [
        Citation(
            url="https://finance.yahoo.com/quote/AAPL/analysis/",
            title="Yahoo Finance: AAPL analyst ratings",
        )
    ]


async def test_crumb_refreshed_once_for_concurrent_modules(
    autojump: Any, canned: CannedServer
) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SUMMARY.format("AAPL"), SUMMARY_PLAIN)
    async with running_sources(sources(canned)) as actors:
        handle = actors["yahoo_finance"].handle()
        await yahoo.crumb(handle)
        fake.rotate()
        async with trio.open_nursery() as nursery:
            for mid in [*RUN, *RUN]:
                context = ctx(actors, "apple.com", mid, ticker="AAPL")
                nursery.start_soon(RUN[mid], context)
    assert fake.crumbs_issued == 2
    assert len(canned.calls("/fc")) == 2


async def test_the_ticker_answer_is_cached_for_a_few_minutes(
    autojump: Any, canned: CannedServer
) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_AAPL)
    fake.serve(SUMMARY.format("AAPL"), SUMMARY_PLAIN)
    async with running_sources(sources(canned)) as actors:
        context = ctx(actors, "apple.com", "m08_stock_info", company_name="Apple")
        await RUN["m08_stock_info"](context)
        await trio.sleep(yahoo.TICKER_CACHE_SECONDS - 10)
        await RUN["m08_stock_info"](context)
        assert len(fake.calls(SEARCH)) == 1
        await trio.sleep(20)
        await RUN["m08_stock_info"](context)
        assert len(fake.calls(SEARCH)) == 2


async def test_unknown_symbol_is_no_data(autojump: Any, canned: CannedServer) -> None:
    FakeYahoo(canned).serve(SUMMARY.format("NVIDIA"), UNKNOWN_SYMBOL, 404)
    async with running_sources(sources(canned)) as actors:
        with pytest.raises(NoData) as info:
            await RUN["m08_stock_info"](
                ctx(actors, "nvidia.com", "m08_stock_info", ticker="NVIDIA")
            )
    assert "Quote not found for symbol: NVIDIA" in info.value.message


# -- private companies -------------------------------------------------------------------------


@pytest.mark.parametrize("mid", ["m07_financials", "m08_stock_info", "m09_analyst_ratings"])
async def test_a_private_company_completes_with_no_data_points(
    autojump: Any, canned: CannedServer, mid: str
) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_PRIVATE)
    # Web search is configured, yet a private company found by Yahoo does not fall back to it.
    config = sources(canned, websearch=websearch(canned))
    async with running_sources(config) as actors:
        result = await RUN[mid](ctx(actors, "acme-widgets.com", mid, company_name="Acme Widgets"))
    note = (
        "Yahoo Finance lists no stock for Acme Widgets (acme-widgets.com); "
        "the company appears to be privately held"
    )
    assert result.data == {"public": False, "note": note}
    assert result.data_points == 0
    assert result.source == "yahoo_finance"
    assert result.warnings == [note]
    # The name first, then the domain once.
    assert [r.query["q"] for r in fake.calls(SEARCH)] == ["Acme Widgets", "acme-widgets.com"]
    assert not canned.calls("/res/v1/web/search")
    assert not canned.calls(SUMMARY.format("AAPL"))


async def test_without_a_company_name_the_domain_is_searched(
    autojump: Any, canned: CannedServer
) -> None:
    fake = FakeYahoo(canned)
    fake.serve(SEARCH, SEARCH_AAPL)
    fake.serve(SUMMARY.format("AAPL"), SUMMARY_PLAIN)
    async with running_sources(sources(canned)) as actors:
        result = await RUN["m08_stock_info"](ctx(actors, "www.apple.com", "m08_stock_info"))
    assert result.data["ticker"] == "AAPL"
    assert [r.query["q"] for r in fake.calls(SEARCH)] == ["apple.com"]


# -- m07's web-search fallback -----------------------------------------------------------------

#: Brave-shaped answer (``GET /res/v1/web/search``), as the sandbox words a revenue hit.
BRAVE_REVENUE: dict[str, Any] = {
    "type": "search",
    "query": {"original": '"Costco Wholesale" costco.com annual revenue'},
    "web": {
        "type": "search",
        "results": [
            {
                "title": "Costco Wholesale - Company profile",
                "url": "https://www.example.org/costco",
                "description": "Costco Wholesale operates membership warehouses worldwide.",
                "page_age": "2025-01-10T00:00:00",
            },
            {
                "title": "Costco Wholesale annual revenue",
                "url": "https://news.example.com/costco-revenue-2024",
                "description": (
                    "Costco Wholesale reported annual revenue of <strong>$254.5 billion</strong> "
                    "for fiscal 2024."
                ),
                "page_age": "2024-10-01T00:00:00",
            },
        ],
    },
}


async def test_m07_falls_back_to_websearch_when_yahoo_is_disabled(
    autojump: Any, canned: CannedServer
) -> None:
    canned.json("GET", "/res/v1/web/search", BRAVE_REVENUE)
    config = {"yahoo_finance": {"enabled": False}, "websearch": websearch(canned)}
    async with running_sources(config) as actors:
        result = await RUN["m07_financials"](
            ctx(actors, "costco.com", "m07_financials", company_name="Costco Wholesale")
        )
    assert result.source == "websearch"
    assert result.data == {
        "revenue": 254_500_000_000,
        "currency": "USD",
        "revenue_source_url": "https://news.example.com/costco-revenue-2024",
        "revenue_estimated": False,
        "fiscal_year": 2024,
    }
    assert result.data_points == 4
    assert result.source_url == "https://news.example.com/costco-revenue-2024"
    assert result.citations == [
        Citation(
            url="https://news.example.com/costco-revenue-2024",
            title="Costco Wholesale annual revenue",
        )
    ]
    assert result.warnings == [
        "fell back to websearch: yahoo_finance: source 'yahoo_finance' is not configured: "
        "[sources.yahoo_finance] enabled is false"
    ]
    (request,) = canned.calls("/res/v1/web/search")
    assert request.query["q"] == '"Costco Wholesale" costco.com annual revenue'
    assert request.headers["x-subscription-token"] == "brave-key"
    assert not canned.calls("/fc")


async def test_m07_falls_back_when_yahoo_fails(autojump: Any, canned: CannedServer) -> None:
    fake = FakeYahoo(canned)
    canned.add("GET", SEARCH, HttpResponse(status=503))
    body = copy.deepcopy(BRAVE_REVENUE)
    body["web"]["results"][1]["description"] = "Acme has an estimated annual revenue of $45 million"
    canned.json("GET", "/res/v1/web/search", body)
    config = sources(canned, websearch=websearch(canned))
    async with running_sources(config) as actors:
        result = await RUN["m07_financials"](ctx(actors, "acme.com", "m07_financials"))
    assert fake.crumbs_issued == 1
    assert len(canned.calls(SEARCH)) == 4  # the first call and the actor's 3 retries
    assert result.source == "websearch"
    assert result.data["revenue"] == 45_000_000
    assert result.data["revenue_estimated"] is True
    assert result.warnings[0].startswith("fell back to websearch: yahoo_finance: ")
    assert "revenue is an estimate published on the web" in result.warnings
    assert canned.calls("/res/v1/web/search")[0].query["q"] == "acme.com annual revenue"


async def test_m07_falls_back_for_an_unknown_symbol(autojump: Any, canned: CannedServer) -> None:
    FakeYahoo(canned).serve(SUMMARY.format("XYZ"), UNKNOWN_SYMBOL, 404)
    canned.json("GET", "/res/v1/web/search", BRAVE_REVENUE)
    config = sources(canned, websearch=websearch(canned))
    async with running_sources(config) as actors:
        context = ctx(actors, "costco.com", "m07_financials", company_name="Costco", ticker="XYZ")
        result = await RUN["m07_financials"](context)
    assert result.source == "websearch"
    assert result.data["revenue"] == 254_500_000_000


async def test_m07_fails_when_no_source_can_serve(autojump: Any, canned: CannedServer) -> None:
    body = copy.deepcopy(BRAVE_REVENUE)
    del body["web"]["results"][1]
    canned.json("GET", "/res/v1/web/search", body)
    config = {"yahoo_finance": {"enabled": False}, "websearch": websearch(canned)}
    async with running_sources(config) as actors:
        with pytest.raises(ModuleError) as info:
            await RUN["m07_financials"](ctx(actors, "costco.com", "m07_financials"))
    assert info.value.code == "no_data"
    assert info.value.source == "websearch"
    assert "yahoo_finance" in info.value.message
    assert "no revenue figure" in info.value.message


async def test_m08_has_no_fallback(autojump: Any) -> None:
    async with running_sources({"yahoo_finance": {"enabled": False}}) as actors:
        with pytest.raises(ModuleError) as info:
            await RUN["m08_stock_info"](ctx(actors, "costco.com", "m08_stock_info"))
    assert info.value.code == "source_not_configured"


async def test_m08_upstream_failure_after_retries(autojump: Any, canned: CannedServer) -> None:
    FakeYahoo(canned)
    canned.add("GET", SUMMARY.format("AAPL"), HttpResponse(status=500))
    async with running_sources(sources(canned)) as actors:
        with pytest.raises(SourceError) as info:
            await RUN["m08_stock_info"](ctx(actors, "apple.com", "m08_stock_info", ticker="AAPL"))
    assert info.value.code == "upstream_error"


# -- the revenue parser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Costco Wholesale reported annual revenue of $254.5 billion for fiscal 2024",
            RevenueFigure(254.5e9, "USD", year=2024),
        ),
        (
            "Acme has an estimated annual revenue of $45 million.",
            RevenueFigure(45e6, "USD", estimated=True),
        ),
        ("Siemens turnover rose to €3.2bn in 2023", RevenueFigure(3.2e9, "EUR", year=2023)),
        ("Revenue: US$1,234,567,890", RevenueFigure(1234567890.0, "USD")),
        ("Sales of £250m", RevenueFigure(250e6, "GBP")),
        ("revenue of C$3.4 billion", RevenueFigure(3.4e9, "CAD")),
        ("HK$12.3bn in sales", RevenueFigure(12.3e9, "HKD")),
        ("Annual Revenue $500K", RevenueFigure(500e3, "USD")),
        ("Revenue grew 12% in 2024 to 4.5 billion USD", RevenueFigure(4.5e9, "USD", year=2024)),
        ("2024 revenue was $1.2 trillion", RevenueFigure(1.2e12, "USD", year=2024)),
        ("FY23 net sales: ¥5,000 million", RevenueFigure(5e9, "JPY")),
        ("The firm made $120 million in revenue, and raised $30M", RevenueFigure(120e6, "USD")),
        # Other money near the revenue word is not the revenue.
        (
            "The company raised $40M Series C at a valuation of $2B; revenue is $120 million",
            RevenueFigure(120e6, "USD"),
        ),
        ("market cap of $300 billion and revenue $10 billion", RevenueFigure(10e9, "USD")),
        ("Net income was $2 billion on revenue of $10 billion", RevenueFigure(10e9, "USD")),
        ("Revenue: $5.1B. Market cap: $40B.", RevenueFigure(5.1e9, "USD")),
        # No currency, a price, no revenue word, or money too far from it: nothing.
        ("revenue of 45 million", None),
        ("shares trade at $45 ahead of the revenue report", None),
        ("The company raised $40 million in Series B funding", None),
        ("Market cap: $40B", None),
        ("revenue " + "x" * 200 + " $5 billion", None),
    ],
)
def test_parse_revenue(text: str, expected: RevenueFigure | None) -> None:
    assert parse_revenue(text) == expected


def test_find_revenue_takes_the_first_hit_that_states_one() -> None:
    hits = [
        SearchHit(title="About", url="https://a.example", snippet="A retailer."),
        SearchHit(
            title="Revenue",
            url="https://b.example",
            snippet="Nothing here",
            extra_snippets=("Full-year sales reached €1.5bn",),
        ),
        SearchHit(title="Other", url="https://c.example", snippet="revenue of $9 billion"),
    ]
    found = find_revenue(hits)
    assert found is not None
    assert found[0] == RevenueFigure(1.5e9, "EUR")
    assert found[1].url == "https://b.example"
    assert find_revenue(hits[:1]) is None
